package partition

import "github.com/keeper-go/keeper/zktest"

// ServerForExamples returns the test server, for the examples of package
// partition_test.
func ServerForExamples() *zktest.Cluster { return srv }
