package zktest

import (
	"fmt"
	"net"
	"sync"
)

// issuedPorts remembers every port FreePort returned, so that one test
// binary never hands out the same port twice (the kernel may offer a port
// again as soon as it is released).
var issuedPorts struct {
	sync.Mutex
	m map[int]bool
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that this process has not returned before. Another process may still take
// it before it is used; [New] starts its servers again on new ports when that
// happens. It is safe for concurrent use.
func FreePort() (int, error) {
	issuedPorts.Lock()
	defer issuedPorts.Unlock()
	if issuedPorts.m == nil {
		issuedPorts.m = make(map[int]bool)
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("zktest: finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("zktest: finding a free port: %w", err)
		}
		if !issuedPorts.m[port] {
			issuedPorts.m[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("zktest: finding a free port: the kernel offered only ports already handed out")
}
