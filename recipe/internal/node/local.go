package node

import (
	"net"
	"os"
	"sync"
)

// LocalAddress returns this host's address as text, as Curator's default
// node data (CuratorFrameworkFactory.getLocalAddress: the address the
// host name resolves to) and ServiceInstance's default address (the first
// address of a non-loopback interface) are found: the host name's first
// address when it is not a loopback one, else the first non-loopback
// interface address, else the host name's address, else "". It is
// worked out once per process.
var LocalAddress = sync.OnceValue(localAddress)

func localAddress() string {
	var fromName string
	if h, err := os.Hostname(); err == nil {
		if ips, err := net.LookupIP(h); err == nil && len(ips) > 0 {
			fromName = ips[0].String()
			if !ips[0].IsLoopback() {
				return fromName
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	return fromName
}
