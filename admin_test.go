package keeper_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

func TestEphemeralsAndCountChildren(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	other := connectTo(t, "", c.Chroot())
	ctx := ctxT(t)
	needsGetEphemerals(t, ctx, c)

	for _, n := range []struct {
		path string
		eph  bool
	}{{"/a", false}, {"/a/e1", true}, {"/a/b", false}, {"/a/b/e2", true}, {"/lock-1", true}, {"/locks", false}} {
		var opts []keeper.CreateOption
		if n.eph {
			opts = append(opts, keeper.Ephemeral())
		}
		if _, err := c.Create(ctx, n.path, nil, opts...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Create(ctx, "/a/theirs", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"/", []string{"/a/b/e2", "/a/e1", "/lock-1"}},
		{"", []string{"/a/b/e2", "/a/e1", "/lock-1"}},
		{"/a", []string{"/a/b/e2", "/a/e1"}},
		{"/a/b/", []string{"/a/b/e2"}},
		{"/lock", []string{"/lock-1"}},
		{"/none", []string{}},
	} {
		got, err := c.Ephemerals(ctx, tc.prefix)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Ephemerals(%q) = %q, %v; want %q", tc.prefix, got, err, tc.want)
		}
	}
	if got, err := other.Ephemerals(ctx, "/"); err != nil || !slices.Equal(got, []string{"/a/theirs"}) {
		t.Errorf("other session's Ephemerals = %q, %v", got, err)
	}
	if _, err := c.Ephemerals(ctx, "no-slash"); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Errorf("Ephemerals with a bad prefix: %v", err)
	}

	for path, want := range map[string]int{"/a": 4, "/a/b": 1, "/a/e1": 0, "/": 7} {
		if n, err := c.CountChildren(ctx, path); err != nil || n != want {
			t.Errorf("CountChildren(%s) = %d, %v; want %d", path, n, err, want)
		}
	}
	if _, err := c.CountChildren(ctx, "/missing"); !errors.Is(err, keeper.ErrNoNode) {
		t.Errorf("CountChildren of a missing node: %v", err)
	}
}

func TestWhoAmI(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	needsWhoAmI(t, ctx, c)

	ids, err := c.WhoAmI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ids, keeper.ClientInfo{Scheme: "ip", User: "127.0.0.1"}) {
		t.Fatalf("WhoAmI = %v, want ip:127.0.0.1", ids)
	}
	if err := c.AddAuth(ctx, "digest", []byte("erin:pw")); err != nil {
		t.Fatal(err)
	}
	ids, err = c.WhoAmI(ctx)
	if err != nil || !slices.Contains(ids, keeper.ClientInfo{Scheme: "digest", User: "erin"}) {
		t.Fatalf("WhoAmI after AddAuth = %v, %v", ids, err)
	}
}

func TestConfigStandalone(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Members) != 0 {
		t.Fatalf("standalone config has members: %+v", cfg)
	}
	// The client keeps its server list: nothing to replace it with.
	if _, err := c.Create(ctx, "/still-works", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.RemoveMembers(ctx, 2)
	if !errors.Is(err, keeper.ErrReconfigDisabled) {
		t.Fatalf("reconfig on a server without reconfigEnabled: %v, want ErrReconfigDisabled", err)
	}
	for _, bad := range []struct {
		name                      string
		joining, leaving, members []string
	}{
		{"nothing", nil, nil, nil},
		{"both kinds", []string{"server.4=127.0.0.1:1:2"}, nil, []string{"server.1=127.0.0.1:1:2"}},
		{"empty entry", nil, []string{""}, nil},
		{"comma inside", nil, []string{"1,2"}, nil},
	} {
		if _, err := c.Reconfig(ctx, bad.joining, bad.leaving, bad.members, -1); !errors.Is(err, keeper.ErrBadArguments) {
			t.Errorf("Reconfig %s: %v, want ErrBadArguments", bad.name, err)
		}
	}
}

func TestParseEnsembleConfig(t *testing.T) {
	t.Parallel()
	raw := "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n" +
		"server.2=zk2:2889:3889:observer;2182\n" +
		"server.3=[::1]:2890:3890|10.0.0.3:2890:3890;[::1]:2183\n" +
		"server.4=zk4:2891:3891\n" +
		"version=1000000a3\n"
	cfg, err := keeper.ParseEnsembleConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := []keeper.Member{
		{ID: 1, Host: "127.0.0.1", QuorumPort: 2888, ElectionPort: 3888, Role: "participant", ClientHost: "0.0.0.0", ClientPort: 2181},
		{ID: 2, Host: "zk2", QuorumPort: 2889, ElectionPort: 3889, Role: "observer", ClientPort: 2182},
		{ID: 3, Host: "::1", QuorumPort: 2890, ElectionPort: 3890, ClientHost: "::1", ClientPort: 2183},
		{ID: 4, Host: "zk4", QuorumPort: 2891, ElectionPort: 3891},
	}
	if !slices.Equal(cfg.Members, want) || cfg.Version != 0x1000000a3 || string(cfg.Raw) != raw {
		t.Fatalf("got %+v", cfg)
	}
	for _, m := range want {
		back, err := keeper.ParseEnsembleConfig([]byte(m.String()))
		if err != nil || len(back.Members) != 1 || back.Members[0] != m {
			t.Errorf("%s does not parse back: %+v, %v", m, back, err)
		}
	}
	if m, ok := cfg.Member(2); !ok || m.Host != "zk2" {
		t.Errorf("Member(2) = %+v, %v", m, ok)
	}
	if _, ok := cfg.Member(9); ok {
		t.Errorf("Member(9) found")
	}
	if empty, err := keeper.ParseEnsembleConfig(nil); err != nil || len(empty.Members) != 0 || empty.Version != 0 {
		t.Errorf("empty config = %+v, %v", empty, err)
	}
	for _, bad := range []string{
		"server.x=h:1:2", "server.1=h:1", "server.1=h:1:2:participant:extra", "server.1=h:0:2",
		"server.1=h:1:2;", "server.1=h:1:2;h:", "server.1=[::1:1:2", "server.1=:1:2", "version=zz",
	} {
		if _, err := keeper.ParseEnsembleConfig([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// oldServer listens on a loopback port and makes the server at target
// look like ZooKeeper 3.5.10: it answers srvr itself and forwards every
// other connection.
func oldServer(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	const srvr = "Zookeeper version: 3.5.10-c1fd3a8e3fb7b7d9e2e2e1b3b8a2f8d3e6c3a1b2, built on 06/01/2022 20:08 GMT\n" +
		"Latency min/avg/max: 0/0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\n" +
		"Zxid: 0x0\nMode: standalone\nNode count: 4\n"
	serve := func(c net.Conn) {
		defer wg.Done()
		defer c.Close()
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		if string(head[:]) == "srvr" {
			_, _ = io.WriteString(c, srvr)
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		track(up)
		defer up.Close()
		if _, err := up.Write(head[:]); err != nil {
			return
		}
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(c, up)
			c.Close()
			close(done)
		}()
		_, _ = io.Copy(up, c)
		up.Close()
		<-done
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Add(1)
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// TestVersionGating: on a server that says it is 3.5.10, the 3.6+ and
// 3.7+ calls fail with ErrUnimplemented without being sent (the server
// would drop the connection on an unknown opcode), and the rest works.
func TestVersionGating(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	ctx := ctxT(t)
	if _, err := admin.Create(ctx, "/n", []byte("v")); err != nil {
		t.Fatal(err)
	}
	c := connectTo(t, oldServer(t, srv.Addr(0)), admin.Chroot())
	if v := c.ServerVersion(); !v.AtLeast(3, 5, 10) || v.AtLeast(3, 5, 11) {
		t.Fatalf("ServerVersion = %v, want 3.5.10", v)
	}
	events := recordEvents(c)
	sid := c.SessionID()

	calls := map[string]func() error{
		"Ephemerals":    func() error { _, err := c.Ephemerals(ctx, "/"); return err },
		"CountChildren": func() error { _, err := c.CountChildren(ctx, "/"); return err },
		"WhoAmI":        func() error { _, err := c.WhoAmI(ctx); return err },
		"MultiGet":      func() error { _, err := c.MultiGet(ctx, "/n"); return err },
		"MultiChildren": func() error { _, err := c.MultiChildren(ctx, "/"); return err },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, keeper.ErrUnimplemented) || !keeper.SafeToRetry(err) {
			t.Errorf("%s on 3.5.10: %v, want ErrUnimplemented (never sent)", name, err)
		}
	}
	if data, _, err := c.Get(ctx, "/n"); err != nil || string(data) != "v" {
		t.Fatalf("Get = %q, %v", data, err)
	}
	res, err := c.Txn().Set("/n", []byte("w"), keeper.AnyVersion).Commit(ctx) // multi is 3.4+
	if err != nil || len(res) != 1 {
		t.Fatalf("Txn = %v, %v", res, err)
	}
	if c.State() != keeper.Connected || c.SessionID() != sid {
		t.Fatalf("state %v, session %x (was %x)", c.State(), c.SessionID(), sid)
	}
	if n := events.count(func(ev keeper.StateEvent) bool { return ev.State == keeper.Suspended }); n != 0 {
		t.Fatalf("the connection dropped %d times", n)
	}
}

const superDigest = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" // super:test

// TestReconfig removes a follower from a three-server ensemble and adds
// it back.
func TestReconfig(t *testing.T) {
	t.Parallel()
	if got := "super:" + keeper.DigestHash("super", "test"); got != superDigest {
		t.Fatalf("DigestHash(super, test) = %q, want %q", got, superDigest)
	}
	cl := zktest.Start(t, zktest.Nodes(3), zktest.Config("reconfigEnabled", "true"),
		zktest.JVMFlag("-Dzookeeper.DigestAuthenticationProvider.superDigest="+superDigest))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	leader := -1
	waitFor(t, 60*time.Second, "a leader", func() bool { leader = cl.Leader(); return leader >= 0 })
	// Talk to the leader: removing the server a client is connected to
	// drops its connection.
	c := connectTo(t, cl.Addr(leader), "")
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Members) != 3 || cfg.Version == 0 {
		t.Fatalf("config %+v", cfg)
	}
	for i := range 3 {
		m, ok := cfg.Member(i + 1)
		if !ok || net.JoinHostPort(m.ClientHost, strconv.Itoa(m.ClientPort)) != cl.Addr(i) || m.Role != "participant" {
			t.Fatalf("member %d = %+v, want client address %s", i+1, m, cl.Addr(i))
		}
	}
	victim := (leader + 1) % 3
	removed, _ := cfg.Member(victim + 1)

	if _, err := c.RemoveMembers(ctx, victim+1); !errors.Is(err, keeper.ErrNoAuth) {
		t.Fatalf("reconfig without super: %v, want ErrNoAuth", err)
	}
	if err := c.AddAuth(ctx, "digest", []byte("super:test")); err != nil {
		t.Fatal(err)
	}
	// A reconfig may meet a busy ensemble (one in progress, a quorum not
	// yet synced): retry those, generously.
	retry := func(what string, fn func() (*keeper.EnsembleConfig, error)) *keeper.EnsembleConfig {
		t.Helper()
		for {
			got, err := fn()
			if err == nil {
				return got
			}
			if !errors.Is(err, keeper.ErrReconfigInProgress) && !errors.Is(err, keeper.ErrNewConfigNoQuorum) &&
				!errors.Is(err, keeper.ErrConnectionLoss) || ctx.Err() != nil {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	smaller := retry("remove", func() (*keeper.EnsembleConfig, error) { return c.RemoveMembers(ctx, victim+1) })
	if len(smaller.Members) != 2 || smaller.Version <= cfg.Version {
		t.Fatalf("after removing %d: %+v", victim+1, smaller)
	}
	if _, ok := smaller.Member(victim + 1); ok {
		t.Fatalf("member %d still in %+v", victim+1, smaller)
	}
	if read, err := c.Config(ctx); err != nil || len(read.Members) != 2 || read.Version != smaller.Version {
		t.Fatalf("Config after the removal = %+v, %v", read, err)
	}
	// A change against a stale version is refused.
	if _, err := c.Reconfig(ctx, []string{removed.String()}, nil, nil, cfg.Version); !errors.Is(err, keeper.ErrBadVersion) {
		t.Fatalf("reconfig from a stale version: %v, want ErrBadVersion", err)
	}

	back := retry("add", func() (*keeper.EnsembleConfig, error) { return c.AddMembers(ctx, removed.String()) })
	if len(back.Members) != 3 || back.Version <= smaller.Version {
		t.Fatalf("after adding %d back: %+v", victim+1, back)
	}
	if m, ok := back.Member(victim + 1); !ok || m != removed {
		t.Fatalf("member %d back as %+v, want %+v", victim+1, m, removed)
	}
	waitFor(t, 60*time.Second, "Config showing three members", func() bool {
		read, err := c.Config(ctx)
		return err == nil && len(read.Members) == 3 && read.Version == back.Version
	})
	if _, err := c.Create(ctx, "/after-reconfig", nil); err != nil {
		t.Fatal(err)
	}
}
