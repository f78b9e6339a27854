package keeper

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultPort is the client port used when a host has none.
const DefaultPort = 2181

// dnsSRVScheme starts a connect string whose servers are found through DNS
// SRV records: "dns-srv://_zookeeper._tcp.example.com/chroot", as ZooKeeper
// 3.10's DnsSrvHostProvider reads it.
const dnsSRVScheme = "dns-srv://"

// DefaultDNSSRVRefresh is how old the SRV records of a dns-srv:// connect
// string may get before the client looks them up again (ZooKeeper's default).
const DefaultDNSSRVRefresh = 60 * time.Second

// hostPort is one entry of a connect string.
type hostPort struct {
	host string // a name, an IPv4 address or an IPv6 address without brackets
	port int
	srv  bool // host is a DNS SRV name, expanded by expandSRV
}

func (h hostPort) String() string {
	if h.srv {
		return dnsSRVScheme + h.host
	}
	return net.JoinHostPort(h.host, strconv.Itoa(h.port))
}

// srvConfig is what the dns-srv options set.
type srvConfig struct {
	lookup  func(ctx context.Context, name string) ([]*net.SRV, error)
	refresh time.Duration // 0: DefaultDNSSRVRefresh
}

// WithDNSSRVLookup replaces the DNS SRV lookup of dns-srv:// connect strings
// (by default net.DefaultResolver.LookupSRV with the name as given), for a
// resolver of one's own or a test. lookup returns the records of name; each
// record's target (a host name or an IP address) and port is one server.
func WithDNSSRVLookup(lookup func(ctx context.Context, name string) ([]*net.SRV, error)) Option {
	return func(c *config) {
		if lookup == nil {
			c.errs = append(c.errs, errors.New("keeper: WithDNSSRVLookup: nil lookup"))
			return
		}
		c.srv.lookup = lookup
	}
}

// WithDNSSRVRefresh sets how old the SRV records of a dns-srv:// connect
// string may get before the client looks them up again
// (DefaultDNSSRVRefresh, 60s, by default). They are looked up when the client
// picks the servers of its next pass over them (at the first connection and
// after a connection is lost), never while connected; a failed lookup is
// retried on the next pass, with the records of the last lookup that worked
// in use meanwhile.
func WithDNSSRVRefresh(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("keeper: WithDNSSRVRefresh(%v): must be positive", d))
			return
		}
		c.srv.refresh = d
	}
}

// srvState holds the servers last found for a dns-srv:// connect string.
type srvState struct {
	mu      sync.Mutex
	name    string
	hosts   []hostPort // from the last lookup that found any
	checked time.Time  // when the last lookup ran
	err     error      // the last lookup's failure, nil after a success
}

// lookupTimeout bounds one SRV lookup.
const lookupTimeout = 10 * time.Second

// expandSRV replaces the dns-srv entry of a host list with the servers its
// SRV records name, looking them up again when they are older than the
// refresh interval. While no lookup has found a server the entry stays, and
// dialing it fails with the lookup's error (srvState.failure).
func (c *Client) expandSRV(hs []hostPort) []hostPort {
	if len(hs) != 1 || !hs[0].srv {
		return hs
	}
	s := &c.srv
	name := hs[0].host
	refresh := c.cfg.srv.refresh
	if refresh == 0 {
		refresh = DefaultDNSSRVRefresh
	}
	s.mu.Lock()
	stale := s.name != name || s.checked.IsZero() || time.Since(s.checked) >= refresh || s.hosts == nil
	s.mu.Unlock()
	if stale {
		ctx, cancel := context.WithTimeout(c.baseCtx, lookupTimeout)
		found, err := c.lookupSRV(ctx, name)
		cancel()
		s.mu.Lock()
		s.name, s.checked, s.err = name, time.Now(), err
		if err == nil {
			s.hosts = found
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.hosts) == 0 {
		return hs
	}
	return append([]hostPort(nil), s.hosts...)
}

// lookupSRV returns the servers of name's SRV records.
func (c *Client) lookupSRV(ctx context.Context, name string) ([]hostPort, error) {
	var recs []*net.SRV
	var err error
	if c.cfg.srv.lookup != nil {
		recs, err = c.cfg.srv.lookup(ctx, name)
	} else {
		_, recs, err = net.DefaultResolver.LookupSRV(ctx, "", "", name)
	}
	if err != nil {
		return nil, fmt.Errorf("keeper: dns-srv lookup of %s: %w", name, err)
	}
	var hosts []hostPort
	for _, r := range recs {
		if r == nil {
			continue
		}
		host := strings.TrimSuffix(r.Target, ".")
		if host == "" || r.Port == 0 {
			continue
		}
		hosts = append(hosts, hostPort{host: host, port: int(r.Port)})
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("keeper: dns-srv lookup of %s: no server in the SRV records", name)
	}
	return hosts, nil
}

// failure is the error of dialing a dns-srv entry that no lookup expanded.
func (s *srvState) failure(hp hostPort) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return fmt.Errorf("keeper: dns-srv lookup of %s: not done yet", hp.host)
}

// parseDNSSRV parses "dns-srv://name[/chroot]".
func parseDNSSRV(s string) ([]hostPort, chroot, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadConnectString, s, fmt.Sprintf(format, a...))
	}
	rest := strings.TrimPrefix(strings.TrimSpace(s), dnsSRVScheme)
	name, root := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		name, root = rest[:i], rest[i:]
	}
	if name == "" {
		return nil, "", bad("no SRV name after %s", dnsSRVScheme)
	}
	for _, r := range name {
		if r <= ' ' || strings.ContainsRune(",:@?#[]", r) {
			return nil, "", bad("SRV name %q: bad character %q", name, r)
		}
	}
	cr, err := parseChroot(root)
	if err != nil {
		return nil, "", bad("%v", err)
	}
	return []hostPort{{host: name, srv: true}}, cr, nil
}

// parseConnectString splits "h1:p1,[::1]:p2,h3/chroot" into hosts and an
// optional chroot ("" when none, or when the chroot is "/").
// "dns-srv://name/chroot" gives one host entry marked srv.
func parseConnectString(s string) ([]hostPort, chroot, error) {
	if strings.HasPrefix(strings.TrimSpace(s), dnsSRVScheme) {
		return parseDNSSRV(s)
	}
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
	cr, err := parseChroot(root)
	if err != nil {
		return nil, "", bad("%v", err)
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

// parseChroot checks the chroot part of a connect string ("" or "/" for none).
func parseChroot(root string) (chroot, error) {
	if root == "" || root == "/" {
		return "", nil
	}
	if strings.HasSuffix(root, "/") {
		return "", fmt.Errorf("chroot %q must not end with /", root)
	}
	if err := validatePath(root, false); err != nil {
		return "", fmt.Errorf("chroot: %v", err)
	}
	return chroot(root), nil
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
