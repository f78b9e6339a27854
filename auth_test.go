package keeper_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// eventLog records a client's state events for the auth tests.
type eventLog struct {
	mu  sync.Mutex
	evs []keeper.StateEvent
}

func recordEvents(c *keeper.Client) *eventLog {
	l := &eventLog{}
	c.Listen(func(ev keeper.StateEvent) {
		l.mu.Lock()
		l.evs = append(l.evs, ev)
		l.mu.Unlock()
	})
	return l
}

// find returns the first event for which match holds.
func (l *eventLog) find(match func(keeper.StateEvent) bool) (keeper.StateEvent, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.evs {
		if match(ev) {
			return ev, true
		}
	}
	return keeper.StateEvent{}, false
}

func (l *eventLog) count(match func(keeper.StateEvent) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if match(ev) {
			n++
		}
	}
	return n
}

func isAuthFailed(ev keeper.StateEvent) bool { return ev.Keeper == keeper.KeeperAuthFailed }

// waitAuthFailed waits for a KeeperAuthFailed event and checks its error.
func (l *eventLog) waitAuthFailed(t *testing.T) keeper.StateEvent {
	t.Helper()
	var ev keeper.StateEvent
	waitFor(t, 30*time.Second, "a KeeperAuthFailed event", func() bool {
		var ok bool
		ev, ok = l.find(isAuthFailed)
		return ok
	})
	if !errors.Is(ev.Err, keeper.ErrAuthFailed) {
		t.Fatalf("AuthFailed event error = %v, want ErrAuthFailed", ev.Err)
	}
	return ev
}

// connectTo connects to the shared server (or addr when not empty) under
// chroot with opts, closing the client at cleanup.
func connectTo(t *testing.T, addr, chroot string, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	if addr == "" {
		addr = srv.Servers()
	}
	c, err := keeper.Connect(ctxT(t), addr+chroot, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDigestACL(t *testing.T) {
	t.Parallel()
	anon := srv.Client(t)
	ctx := ctxT(t)

	acl := []keeper.ACL{keeper.DigestACL(keeper.PermAll, "alice", "secret")}
	if _, err := anon.Create(ctx, "/secret", []byte("s"), keeper.WithACL(acl...)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := anon.Get(ctx, "/secret"); !errors.Is(err, keeper.ErrNoAuth) {
		t.Fatalf("anonymous Get: %v, want ErrNoAuth", err)
	}
	// Digest auth never fails, but a wrong password grants nothing.
	wrong := connectTo(t, "", anon.Chroot())
	if err := wrong.AddAuth(ctx, "digest", []byte("alice:wrong")); err != nil {
		t.Fatalf("AddAuth with a wrong password: %v", err)
	}
	if _, _, err := wrong.Get(ctx, "/secret"); !errors.Is(err, keeper.ErrNoAuth) {
		t.Fatalf("Get with a wrong password: %v, want ErrNoAuth", err)
	}

	alice := connectTo(t, "", anon.Chroot())
	if err := alice.AddAuth(ctx, "digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	if data, _, err := alice.Get(ctx, "/secret"); err != nil || string(data) != "s" {
		t.Fatalf("alice Get = %q, %v", data, err)
	}

	if _, _, err := anon.ACL(ctx, "/secret"); !errors.Is(err, keeper.ErrNoAuth) {
		t.Fatalf("anonymous ACL: %v, want ErrNoAuth (READ or ADMIN needed)", err)
	}
	got, st, err := alice.ACL(ctx, "/secret")
	if err != nil || !slices.Equal(got, acl) || st.Aversion != 0 {
		t.Fatalf("ACL = %v, %+v, %v", got, st, err)
	}
	if _, err := anon.SetACL(ctx, "/secret", keeper.OpenACL(), keeper.AnyVersion); !errors.Is(err, keeper.ErrNoAuth) {
		t.Fatalf("anonymous SetACL: %v, want ErrNoAuth", err)
	}
	if _, err := alice.SetACL(ctx, "/secret", keeper.OpenACL(), 5); !errors.Is(err, keeper.ErrBadVersion) {
		t.Fatalf("SetACL with a wrong version: %v, want ErrBadVersion", err)
	}
	st, err = alice.SetACL(ctx, "/secret", keeper.OpenACL(), 0)
	if err != nil || st.Aversion != 1 {
		t.Fatalf("SetACL = %+v, %v", st, err)
	}
	if _, _, err := anon.Get(ctx, "/secret"); err != nil {
		t.Fatalf("anonymous Get after opening the ACL: %v", err)
	}
	if _, _, err := anon.ACL(ctx, "/missing"); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("ACL of a missing node: %v", err)
	}
}

func TestCreatorAllACL(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	if _, err := c.Create(ctx, "/mine", nil, keeper.WithACL(keeper.CreatorAll()...)); !errors.Is(err, keeper.ErrInvalidACL) {
		t.Fatalf("CreatorAll without auth: %v, want ErrInvalidACL", err)
	}
	if err := c.AddAuth(ctx, "digest", []byte("carol:pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "/mine", nil, keeper.WithACL(keeper.CreatorAll()...)); err != nil {
		t.Fatalf("CreatorAll after AddAuth: %v", err)
	}
	acl, _, err := c.ACL(ctx, "/mine")
	want := []keeper.ACL{keeper.DigestACL(keeper.PermAll, "carol", "pw")}
	if err != nil || !slices.Equal(acl, want) {
		t.Fatalf("ACL = %v, %v; want %v", acl, err, want)
	}
}

func TestEmptyACL(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetACL(ctx, "/n", nil, keeper.AnyVersion); !errors.Is(err, keeper.ErrInvalidACL) {
		t.Fatalf("SetACL(nil): %v, want ErrInvalidACL", err)
	}
	if _, err := c.SetACL(ctx, "/n", []keeper.ACL{{Perms: keeper.PermAll}}, keeper.AnyVersion); !errors.Is(err, keeper.ErrInvalidACL) {
		t.Fatalf("SetACL without a scheme: %v, want ErrInvalidACL", err)
	}
	if _, err := c.Create(ctx, "/m", nil, keeper.WithACL()); !errors.Is(err, keeper.ErrBadArguments) {
		t.Fatalf("Create WithACL(): %v, want ErrBadArguments", err)
	}
	if _, err := c.SetACL(ctx, "bad", keeper.OpenACL(), 0); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("SetACL with a bad path: %v", err)
	}
	if err := c.AddAuth(ctx, "", []byte("x")); !errors.Is(err, keeper.ErrBadArguments) {
		t.Fatalf("AddAuth with no scheme: %v", err)
	}
}

// TestAuthReplayedOnReconnect: credentials given with WithAuth and with
// AddAuth are sent again on a new connection.
func TestAuthReplayedOnReconnect(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	ctx := ctxT(t)
	if _, err := admin.Create(ctx, "/bob", []byte("b"), keeper.WithACL(keeper.DigestACL(keeper.PermAll, "bob", "pw"))); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(ctx, "/dave", []byte("d"), keeper.WithACL(keeper.DigestACL(keeper.PermAll, "dave", "pw"))); err != nil {
		t.Fatal(err)
	}
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	bob := connectTo(t, p.Addr(), admin.Chroot(), keeper.WithAuth("digest", []byte("bob:pw")))
	dave := connectTo(t, p.Addr(), admin.Chroot())
	if err := dave.AddAuth(ctx, "digest", []byte("dave:pw")); err != nil {
		t.Fatal(err)
	}
	if err := dave.AddAuth(ctx, "digest", []byte("dave:pw")); err != nil { // kept once
		t.Fatal(err)
	}
	for _, x := range []struct {
		c    *keeper.Client
		path string
	}{{bob, "/bob"}, {dave, "/dave"}} {
		if _, _, err := x.c.Get(ctx, x.path); err != nil {
			t.Fatalf("Get %s before the drop: %v", x.path, err)
		}
	}
	bobEvents, daveEvents := recordEvents(bob), recordEvents(dave)
	sessions := []int64{bob.SessionID(), dave.SessionID()}
	p.Drop()
	for i, x := range []struct {
		c    *keeper.Client
		l    *eventLog
		path string
	}{{bob, bobEvents, "/bob"}, {dave, daveEvents, "/dave"}} {
		waitFor(t, 30*time.Second, "a reconnect", func() bool {
			_, ok := x.l.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Suspended })
			return ok && x.c.State() == keeper.Connected
		})
		if x.c.SessionID() != sessions[i] {
			t.Fatalf("%s: the session changed", x.path)
		}
		if data, _, err := x.c.Get(ctx, x.path); err != nil || len(data) != 1 {
			t.Fatalf("Get %s after the reconnect = %q, %v", x.path, data, err)
		}
		if n := x.l.count(isAuthFailed); n != 0 {
			t.Fatalf("%d AuthFailed events", n)
		}
	}
}

// TestAddAuthUnknownScheme: the server rejects the scheme (and closes the
// connection); the error, an event, and a client that goes on without it.
func TestAddAuthUnknownScheme(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	events := recordEvents(c)

	err := c.AddAuth(ctx, "nosuch", []byte("x"))
	if !errors.Is(err, keeper.ErrAuthFailed) {
		t.Fatalf("AddAuth(nosuch): %v, want ErrAuthFailed", err)
	}
	ev := events.waitAuthFailed(t)
	var ke *keeper.Error
	if !errors.As(ev.Err, &ke) || ke.Path != "nosuch" {
		t.Errorf("event error %#v does not name the scheme", ev.Err)
	}
	// The connection was closed by the server; the client reconnects,
	// without the rejected credential, and works.
	if _, err := c.Create(ctx, "/after", nil); err != nil && !errors.Is(err, keeper.ErrConnectionLoss) {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a working client", func() bool {
		_, err := c.Exists(ctx, "/after")
		return err == nil
	})
	if n := events.count(isAuthFailed); n != 1 {
		t.Fatalf("%d AuthFailed events, want 1", n)
	}
}

// TestWithAuthUnknownScheme: a credential given at connect time that the
// server rejects is reported and then dropped, so the client does not loop.
func TestWithAuthUnknownScheme(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	ctx := ctxT(t)

	c, err := keeper.New(srv.Servers()+admin.Chroot(), keeper.WithAuth("nosuch", []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	events := recordEvents(c)
	events.waitAuthFailed(t)
	sid := c.SessionID()
	waitFor(t, 30*time.Second, "a working client", func() bool {
		_, err := c.Create(ctx, "/n", nil)
		return err == nil || errors.Is(err, keeper.ErrNodeExists)
	})
	if c.SessionID() != sid {
		t.Errorf("session changed: %x -> %x", sid, c.SessionID())
	}
	if n := events.count(isAuthFailed); n != 1 {
		t.Fatalf("%d AuthFailed events, want 1", n)
	}
}

// TestConnectRejectedAuth: Connect fails with ErrAuthFailed when the server
// rejects a credential of WithAuth (a mistyped scheme), rather than returning
// a client whose requests later fail with a bare NoAuth.
func TestConnectRejectedAuth(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	c, err := keeper.Connect(ctxT(t), srv.Servers()+admin.Chroot(), keeper.WithAuth("digset", []byte("bob:secret")))
	if err == nil {
		c.Close()
		t.Fatal("Connect accepted credentials the server rejected")
	}
	if !errors.Is(err, keeper.ErrAuthFailed) || !strings.Contains(err.Error(), "digset") {
		t.Fatalf("Connect: %v, want ErrAuthFailed naming the scheme", err)
	}
	// Accepted credentials still connect.
	c, err = keeper.Connect(ctxT(t), srv.Servers()+admin.Chroot(), keeper.WithAuth("digest", []byte("bob:secret")))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// startSASLServer starts a server whose JAAS config knows super and bob
// (DIGEST-MD5), with super as its superuser and sasl: ACLs enabled.
func startSASLServer(t *testing.T) *zktest.Cluster {
	t.Helper()
	jaas := filepath.Join(t.TempDir(), "jaas.conf")
	conf := "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n" +
		"  user_super=\"adminsecret\"\n  user_bob=\"bobsecret\";\n};\n"
	if err := os.WriteFile(jaas, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return zktest.Start(t,
		zktest.JVMFlag("-Djava.security.auth.login.config="+jaas),
		zktest.JVMFlag("-Dzookeeper.superUser=super"),
		zktest.Config("authProvider.1", "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"))
}

func TestSASL(t *testing.T) {
	t.Parallel()
	cl := startSASLServer(t)
	ctx := ctxT(t)
	bobACL := keeper.ACL{Perms: keeper.PermAll, Scheme: "sasl", ID: "bob"}

	t.Run("bob", func(t *testing.T) {
		p, err := zktest.NewProxy(cl.Addr(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		bob := connectTo(t, p.Addr(), "", keeper.WithSASL("bob", "bobsecret"))
		whoAmI := hasWhoAmI(t, ctx, bob)
		if whoAmI {
			ids, err := bob.WhoAmI(ctx)
			if err != nil || !slices.Contains(ids, keeper.ClientInfo{Scheme: "sasl", User: "bob"}) {
				t.Fatalf("WhoAmI = %v, %v; want sasl:bob", ids, err)
			}
		}
		if _, err := bob.Create(ctx, "/bobs", []byte("b"), keeper.WithACL(bobACL)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := bob.Get(ctx, "/bobs"); err != nil {
			t.Fatal(err)
		}
		anon := connectTo(t, cl.Servers(), "")
		if _, _, err := anon.Get(ctx, "/bobs"); !errors.Is(err, keeper.ErrNoAuth) {
			t.Fatalf("anonymous Get: %v, want ErrNoAuth", err)
		}
		if ids, err := anon.WhoAmI(ctx); whoAmI && (err != nil || slices.ContainsFunc(ids, func(ci keeper.ClientInfo) bool { return ci.Scheme == "sasl" })) {
			t.Fatalf("anonymous WhoAmI = %v, %v", ids, err)
		}
		// A new connection authenticates again, before anything else.
		events := recordEvents(bob)
		p.Drop()
		waitFor(t, 30*time.Second, "a reconnect", func() bool {
			_, ok := events.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Suspended })
			return ok && bob.State() == keeper.Connected
		})
		if data, _, err := bob.Get(ctx, "/bobs"); err != nil || string(data) != "b" {
			t.Fatalf("Get after the reconnect = %q, %v", data, err)
		}
	})

	t.Run("superuser", func(t *testing.T) {
		su := connectTo(t, cl.Servers(), "", keeper.WithSASL("super", "adminsecret"))
		if hasWhoAmI(t, ctx, su) {
			ids, err := su.WhoAmI(ctx)
			if err != nil || !slices.Contains(ids, keeper.ClientInfo{Scheme: "sasl", User: "super"}) ||
				!slices.ContainsFunc(ids, func(ci keeper.ClientInfo) bool { return ci.Scheme == "super" }) {
				t.Fatalf("WhoAmI = %v, %v; want sasl:super and super", ids, err)
			}
		}
		if _, err := su.Create(ctx, "/supers", nil, keeper.WithACL(bobACL)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := su.Get(ctx, "/supers"); err != nil {
			t.Fatalf("super reading bob's node: %v", err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		c, err := keeper.New(cl.Servers(), keeper.WithSASL("bob", "wrong"), keeper.WithReconnectBackoff(100*time.Millisecond, 500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		events := recordEvents(c)
		// Every attempt is refused and reported; the client keeps trying.
		waitFor(t, 30*time.Second, "two AuthFailed events", func() bool { return events.count(isAuthFailed) >= 2 })
		ev, _ := events.find(isAuthFailed)
		if !errors.Is(ev.Err, keeper.ErrAuthFailed) {
			t.Fatalf("event error %v, want ErrAuthFailed", ev.Err)
		}
		if st := c.State(); st == keeper.Connected {
			t.Fatalf("state %v with a wrong password", st)
		}
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := keeper.Connect(short, cl.Servers(), keeper.WithSASL("bob", "wrong")); err == nil {
			t.Fatal("Connect with a wrong password succeeded")
		}
	})
}
