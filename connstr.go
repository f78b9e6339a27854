package keeper

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the client port used when a host has none.
const DefaultPort = 2181

// hostPort is one entry of a connect string.
type hostPort struct {
	host string // a name, an IPv4 address or an IPv6 address without brackets
	port int
}

func (h hostPort) String() string { return net.JoinHostPort(h.host, strconv.Itoa(h.port)) }

// parseConnectString splits "h1:p1,[::1]:p2,h3/chroot" into hosts and an
// optional chroot ("" when none, or when the chroot is "/").
func parseConnectString(s string) ([]hostPort, chroot, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadConnectString, s, fmt.Sprintf(format, a...))
	}
	s0 := strings.TrimSpace(s)
	if s0 == "" {
		return nil, "", bad("empty")
	}
	hostsPart, root := s0, ""
	// The chroot starts at the first "/" that is not inside brackets.
	depth := 0
	for i := 0; i < len(s0); i++ {
		switch s0[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '/':
			if depth == 0 {
				hostsPart, root = s0[:i], s0[i:]
				i = len(s0)
			}
		}
	}
	var cr chroot
	if root != "" && root != "/" {
		if strings.HasSuffix(root, "/") {
			return nil, "", bad("chroot %q must not end with /", root)
		}
		if err := validatePath(root, false); err != nil {
			return nil, "", bad("chroot: %v", err)
		}
		cr = chroot(root)
	}
	var hosts []hostPort
	for _, part := range strings.Split(hostsPart, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, "", bad("empty host")
		}
		h, err := parseHostPort(part)
		if err != nil {
			return nil, "", bad("%v", err)
		}
		hosts = append(hosts, h)
	}
	return hosts, cr, nil
}

func parseHostPort(s string) (hostPort, error) {
	host, portStr := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hostPort{}, fmt.Errorf("host %q: missing ]", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return hostPort{}, fmt.Errorf("host %q: junk after ]", s)
			}
			portStr = rest[1:]
			if portStr == "" {
				return hostPort{}, fmt.Errorf("host %q: empty port", s)
			}
		}
		if net.ParseIP(host) == nil {
			return hostPort{}, fmt.Errorf("host %q: not an IPv6 address", s)
		}
	case strings.Count(s, ":") > 1:
		// A bare IPv6 address without a port.
		if net.ParseIP(s) == nil {
			return hostPort{}, fmt.Errorf("host %q: use [addr]:port for IPv6", s)
		}
	case strings.Contains(s, ":"):
		i := strings.IndexByte(s, ':')
		host, portStr = s[:i], s[i+1:]
		if portStr == "" {
			return hostPort{}, fmt.Errorf("host %q: empty port", s)
		}
	}
	if host == "" {
		return hostPort{}, fmt.Errorf("host %q: empty host name", s)
	}
	for _, r := range host {
		if r <= ' ' || r == '/' || r == '@' || r == '?' || r == '#' {
			return hostPort{}, fmt.Errorf("host %q: bad character %q", s, r)
		}
	}
	port := DefaultPort
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p <= 0 || p > 65535 {
			return hostPort{}, fmt.Errorf("host %q: bad port %q", s, portStr)
		}
		port = p
	}
	return hostPort{host: host, port: port}, nil
}
