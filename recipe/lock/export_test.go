package lock

// ServersForExamples returns the connect string of the test server, for the
// examples of package lock_test.
func ServersForExamples() string { return srv.Servers() }
