package keeper_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// srvAnswers is a DNS SRV lookup the test controls: it serves the records
// of answers in turn (the last one for ever) and counts the lookups.
type srvAnswers struct {
	mu      sync.Mutex
	answers [][]*net.SRV
	names   []string
}

func (s *srvAnswers) lookup(ctx context.Context, name string) ([]*net.SRV, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
	recs := s.answers[0]
	if len(s.answers) > 1 {
		s.answers = s.answers[1:]
	}
	if recs == nil {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return recs, nil
}

func (s *srvAnswers) lookups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}

// srvRecord returns the SRV record of a "127.0.0.1:port" address.
func srvRecord(t *testing.T, addr string) *net.SRV {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return &net.SRV{Target: host + ".", Port: uint16(p)}
}

// closedPort returns a loopback address that refuses connections.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestConnectDNSSRV: a dns-srv:// connect string finds its servers through
// the SRV lookup, with the chroot applied, and the records are looked up
// again once they are older than the refresh interval: a first answer that
// names only a dead server is replaced by one naming the live server.
func TestConnectDNSSRV(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	ctx := ctxT(t)
	if _, err := admin.Create(ctx, "/marker", []byte("here")); err != nil {
		t.Fatal(err)
	}
	answers := &srvAnswers{answers: [][]*net.SRV{
		nil, // the name does not resolve yet
		{srvRecord(t, closedPort(t))},
		{srvRecord(t, srv.Addr(0))},
	}}
	c, err := keeper.Connect(ctx, "dns-srv://_zookeeper._tcp.test.example"+admin.Chroot(),
		keeper.WithDNSSRVLookup(answers.lookup), keeper.WithDNSSRVRefresh(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data, _, err := c.Get(ctx, "/marker")
	if err != nil || string(data) != "here" {
		t.Fatalf("Get through the chroot: %q, %v", data, err)
	}
	names := answers.lookups()
	if len(names) < 3 {
		t.Fatalf("%d lookups (%v), want at least 3: a failure, a dead server, the live one", len(names), names)
	}
	for _, n := range names {
		if n != "_zookeeper._tcp.test.example" {
			t.Fatalf("looked up %q", n)
		}
	}
}

// TestConnectDNSSRVLookupFails: when no lookup finds a server, Connect says
// why when its ctx ends.
func TestConnectDNSSRVLookupFails(t *testing.T) {
	t.Parallel()
	answers := &srvAnswers{answers: [][]*net.SRV{nil}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, "dns-srv://missing.test.example", keeper.WithDNSSRVLookup(answers.lookup))
	if err == nil {
		c.Close()
		t.Fatal("Connect succeeded without any server")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "dns-srv lookup of missing.test.example") {
		t.Fatalf("Connect: %v, want the deadline and the lookup's failure", err)
	}
}

// TestConnectDNSSRVRefreshDefault: the records are not looked up again
// before the default interval: a reconnect within it reuses them.
func TestConnectDNSSRVRefreshDefault(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	ctx := ctxT(t)
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	answers := &srvAnswers{answers: [][]*net.SRV{{srvRecord(t, p.Addr())}}}
	c, err := keeper.Connect(ctx, "dns-srv://zk.test.example"+admin.Chroot(), keeper.WithDNSSRVLookup(answers.lookup))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := recordEvents(c)
	p.Drop()
	waitFor(t, 30*time.Second, "a reconnect", func() bool {
		return events.count(func(ev keeper.StateEvent) bool { return ev.State == keeper.Connected }) > 0
	})
	if n := len(answers.lookups()); n != 1 {
		t.Fatalf("%d lookups for a connection and a reconnect within 60s, want 1", n)
	}
	for _, bad := range []keeper.Option{keeper.WithDNSSRVRefresh(0), keeper.WithDNSSRVLookup(nil)} {
		if _, err := keeper.New("dns-srv://zk.test.example", bad); err == nil {
			t.Fatal("New accepted a bad dns-srv option")
		}
	}
}
