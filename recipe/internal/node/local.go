package node

import (
	"net"
	"os"
	"sync"
)

// LocalAddress returns this host's address as text, as Curator's default
// node data (CuratorFrameworkFactory.getLocalAddress, which Java computes
// as InetAddress.getLocalHost().getHostAddress()): the first address the
// host name resolves to, IPv4 first as Java prefers it, or "" when the
// name does not resolve. It is worked out once per process.
var LocalAddress = sync.OnceValue(localAddress)

func localAddress() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	ips, err := net.LookupIP(h)
	if err != nil || len(ips) == 0 {
		return ""
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip.String()
		}
	}
	return ips[0].String()
}
