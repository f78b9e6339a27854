package queue

import "github.com/keeper-go/keeper/zktest"

// ServerForExamples returns the test server, for the examples of package
// queue_test.
func ServerForExamples() *zktest.Cluster { return srv }
