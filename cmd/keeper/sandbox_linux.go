//go:build linux

package main

import (
	"fmt"

	"github.com/keeper-go/keeper/zktest"
)

// startSandbox starts n local servers with zktest.
func startSandbox(n int) (sandboxCluster, error) {
	cl, err := zktest.New(zktest.Nodes(n))
	if err != nil {
		return nil, fmt.Errorf("%w (make deps installs Java and ZooKeeper)", err)
	}
	return cl, nil
}
