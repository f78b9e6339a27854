//go:build linux

package main

import (
	"fmt"

	"github.com/keeper-go/keeper/zktest"
)

// startSandbox starts n local servers with zktest, the first on port (0:
// free ports).
func startSandbox(n, port int) (sandboxCluster, error) {
	opts := []zktest.Option{zktest.Nodes(n)}
	if port > 0 {
		opts = append(opts, zktest.ClientPort(port))
	}
	cl, err := zktest.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (make deps installs Java and ZooKeeper)", err)
	}
	return cl, nil
}
