package lease

// ServersForExamples returns the connect string of the test server, for
// the examples of package lease_test.
func ServersForExamples() string { return srv.Servers() }
