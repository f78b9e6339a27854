//go:build !linux

package main

import "errors"

// startSandbox fails: zktest, which runs the servers, supports Linux only.
func startSandbox(n, port int) (sandboxCluster, error) {
	return nil, errors.New("the sandbox runs ZooKeeper through zktest, which supports only Linux for now")
}
