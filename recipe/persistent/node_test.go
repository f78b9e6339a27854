package persistent_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/persistent"
	"github.com/keeper-go/keeper/zktest"
)

func TestNodeModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		path string
		opts []persistent.Option
		want string // regexp of the actual path
		kind string // persistent, ephemeral, container, ttl
	}{
		{"persistent", "/a/p", nil, `^/a/p$`, "persistent"},
		{"ephemeral", "/a/e", []persistent.Option{persistent.Ephemeral()}, `^/a/e$`, "ephemeral"},
		{"container", "/a/c", []persistent.Option{persistent.Container()}, `^/a/c$`, "container"},
		{"ttl", "/a/t", []persistent.Option{persistent.TTL(time.Minute)}, `^/a/t$`, "ttl"},
		{"persistent sequential", "/a/s-", []persistent.Option{persistent.Sequential()}, `^/a/s-\d{10}$`, "persistent"},
		{"ttl sequential", "/a/ts-", []persistent.Option{persistent.Sequential(), persistent.TTL(time.Minute)}, `^/a/ts-\d{10}$`, "ttl"},
		{"ephemeral sequential protected", "/a/m-", []persistent.Option{persistent.Ephemeral(), persistent.Sequential(), persistent.Protected()},
			`^/a/_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-m-\d{10}$`, "ephemeral"},
		{"protected", "/a/pp", []persistent.Option{persistent.Protected()}, `^/a/_c_[0-9a-f-]{36}-pp$`, "persistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 90*time.Second)
			c := srv.Client(t)
			n, err := persistent.NewNode(c, tc.path, []byte("d"), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.WaitForInitialCreate(ctx); err != nil {
				t.Fatal(err)
			}
			p := n.ActualPath()
			if !regexp.MustCompile(tc.want).MatchString(p) {
				t.Fatalf("actual path %q does not match %s", p, tc.want)
			}
			if ev := nextEvent(t, n.Events()); ev.Type != persistent.Created || ev.Path != p {
				t.Fatalf("first event %+v, want Created %s", ev, p)
			}
			data, st, err := c.Get(ctx, p)
			if err != nil || string(data) != "d" {
				t.Fatalf("get %s: %q, %v", p, data, err)
			}
			owner := st.EphemeralOwner
			switch tc.kind {
			case "persistent":
				if owner != 0 {
					t.Fatalf("owner 0x%x, want a persistent node", owner)
				}
			case "ephemeral":
				if owner != c.SessionID() {
					t.Fatalf("owner 0x%x, want 0x%x", owner, c.SessionID())
				}
			default:
				// The server shows 0 for container and TTL nodes too.
				if owner != 0 {
					t.Fatalf("owner 0x%x, want a %s node", owner, tc.kind)
				}
			}
			if err := n.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if stat(t, c, p) != nil {
				t.Fatalf("%s left after Close", p)
			}
			if !errors.Is(n.Err(), persistent.ErrClosed) {
				t.Fatalf("Err after Close: %v", n.Err())
			}
			if _, ok := <-n.Events(); ok {
				t.Fatal("events not closed after Close")
			}
		})
	}
}

func TestNodeBadInput(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	for _, tc := range []struct {
		path string
		opts []persistent.Option
	}{
		{"", nil},
		{"a", nil},
		{"/", nil},
		{"/a/", nil},
		{"/a", []persistent.Option{persistent.Container(), persistent.Ephemeral()}},
		{"/a", []persistent.Option{persistent.TTL(time.Second), persistent.Ephemeral()}},
		{"/a", []persistent.Option{persistent.TTL(0)}},
		{"/a", []persistent.Option{persistent.WithACL()}},
	} {
		if n, err := persistent.NewNode(c, tc.path, nil, tc.opts...); err == nil {
			_ = n.Close(context.Background())
			t.Errorf("NewNode(%q, %d opts) succeeded", tc.path, len(tc.opts))
		}
	}
	if _, err := persistent.NewNode(nil, "/a", nil); err == nil {
		t.Error("nil client accepted")
	}
}

// TestNodeRecreated deletes the node from another client: it comes back
// under the same name (the sequence suffix kept), with a Created event.
func TestNodeRecreated(t *testing.T) {
	t.Parallel()
	for _, protected := range []bool{false, true} {
		opts := []persistent.Option{persistent.Ephemeral(), persistent.Sequential()}
		if protected {
			opts = append(opts, persistent.Protected())
		}
		ctx := testutil.Ctx(t, 90*time.Second)
		c := srv.Client(t)
		other := testutil.Connect(t, srv, c)
		n, err := persistent.NewNode(c, "/g/member-", []byte("x"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.WaitForInitialCreate(ctx); err != nil {
			t.Fatal(err)
		}
		p := n.ActualPath()
		nextEvent(t, n.Events())
		for i := 0; i < 3; i++ {
			before := stat(t, c, p)
			if err := other.Delete(ctx, p, keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			if ev := nextEvent(t, n.Events()); ev.Type != persistent.Created || ev.Path != p {
				t.Fatalf("after delete: event %+v, want Created %s", ev, p)
			}
			st := stat(t, c, p)
			if st == nil || st.Czxid == before.Czxid || st.EphemeralOwner != c.SessionID() {
				t.Fatalf("after delete: %s is %+v", p, st)
			}
		}
		if kids, _ := c.Children(ctx, "/g"); len(kids) != 1 {
			t.Fatalf("children %q, want one node", kids)
		}
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNodeAdopts is CURATOR-154: a persistent node already at the path is
// adopted and gets our data.
func TestNodeAdopts(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/a", []byte("old")); err != nil {
		t.Fatal(err)
	}
	before := stat(t, c, "/a")
	n, err := persistent.NewNode(c, "/a", []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, n.Events()); ev.Type != persistent.Adopted || ev.Path != "/a" {
		t.Fatalf("event %+v, want Adopted /a", ev)
	}
	data, st, err := c.Get(ctx, "/a")
	if err != nil || string(data) != "new" || st.Czxid != before.Czxid {
		t.Fatalf("/a = %q (czxid %d, was %d), %v", data, st.Czxid, before.Czxid, err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestNodeWaitsForForeign: another live session's ephemeral node at the
// path is left alone; ours is created once it is gone.
func TestNodeWaitsForForeign(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	if _, err := other.Create(ctx, "/e", []byte("theirs"), keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	n, err := persistent.NewNode(c, "/e", []byte("ours"), persistent.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, n.Events())
	if ev.Type != persistent.Waiting || ev.Session != other.SessionID() || ev.Err == nil {
		t.Fatalf("event %+v, want Waiting for 0x%x", ev, other.SessionID())
	}
	if p := n.ActualPath(); p != "" {
		t.Fatalf("ActualPath %q while waiting for another session's node", p)
	}
	if data, _, _ := c.Get(ctx, "/e"); string(data) != "theirs" {
		t.Fatalf("their node's data became %q", data)
	}
	other.Close()
	if ev := nextEvent(t, n.Events()); ev.Type != persistent.Created {
		t.Fatalf("event %+v, want Created", ev)
	}
	data, st, err := c.Get(ctx, "/e")
	if err != nil || string(data) != "ours" || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("/e = %q owner 0x%x, %v", data, st.EphemeralOwner, err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNodeSetData(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	n, err := persistent.NewNode(c, "/d", []byte("1"), persistent.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SetData(ctx, []byte("2")); err != nil {
		t.Fatal(err)
	}
	if data, _, err := c.Get(ctx, "/d"); err != nil || string(data) != "2" {
		t.Fatalf("/d = %q, %v", data, err)
	}
	// The data is used for a re-create too.
	if err := c.Delete(ctx, "/d", keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "re-created with the new data", func() bool {
		data, _, err := c.Get(ctx, "/d")
		return err == nil && string(data) == "2"
	})
	if !bytes.Equal(n.Data(), []byte("2")) {
		t.Fatalf("Data() = %q", n.Data())
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.SetData(ctx, []byte("3")); !errors.Is(err, persistent.ErrClosed) {
		t.Fatalf("SetData after Close: %v", err)
	}
}

// watchOne polls the children of dir from an observer until stop and
// records the largest count seen.
func watchOne(ctx context.Context, c *keeper.Client, dir string, most *atomic.Int32) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if kids, err := c.Children(ctx, dir); err == nil && int32(len(kids)) > most.Load() {
				most.Store(int32(len(kids)))
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// TestNodeFaults runs an ephemeral protected sequential node through
// faults: a pause shorter than the session timeout (same node kept), a
// lost create reply (one node), a session expiry and a pause longer than
// the session timeout (the node back, owned by the new session, within
// one session timeout). An observer never sees two nodes.
func TestNodeFaults(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c, p := testutil.Proxied(t, srv, keeper.WithSessionTimeout(4*time.Second))
	observer := testutil.Connect(t, srv, c)
	if err := observer.EnsurePath(ctx, "/f"); err != nil {
		t.Fatal(err)
	}
	var most atomic.Int32
	stop := watchOne(ctx, observer, "/f", &most)
	defer stop()

	// A lost reply to the first create.
	p.DropNextReply()
	n, err := persistent.NewNode(c, "/f/m-", nil, persistent.Ephemeral(), persistent.Sequential(), persistent.Protected())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	if err := n.WaitForInitialCreate(ctx); err != nil {
		t.Fatal(err)
	}
	path := n.ActualPath()
	first := stat(t, observer, path)
	if first == nil || first.EphemeralOwner != c.SessionID() {
		t.Fatalf("%s: %+v", path, first)
	}

	// A short pause: same session, same node.
	p.Pause()
	testutil.WaitFor(t, time.Minute, "suspended", func() bool { return c.State() == keeper.Suspended })
	p.Resume()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, observer, path); st == nil || st.Czxid != first.Czxid {
		t.Fatalf("after a short pause: %+v, want the node of czxid %d", st, first.Czxid)
	}

	back := func(what string, lost time.Time) {
		t.Helper()
		testutil.WaitFor(t, c.SessionTimeout(), what+": node back for the new session", func() bool {
			st, err := observer.Exists(ctx, path)
			return err == nil && st != nil && st.EphemeralOwner == c.SessionID() && c.SessionID() != 0
		})
		t.Logf("%s: node back %v after the session was lost (new session 0x%x)", what, time.Since(lost), c.SessionID())
	}
	// A session expiry.
	lostAt := time.Now()
	testutil.Expire(t, ctx, c, p)
	back("expiry", lostAt)

	// A pause longer than the session timeout: the client presumes the
	// session lost and takes a new one.
	old := c.SessionID()
	lost := make(chan time.Time, 1)
	unlisten := c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Lost && ev.SessionID == old {
			select {
			case lost <- time.Now():
			default:
			}
		}
	})
	p.Pause()
	var at time.Time
	select {
	case at = <-lost:
	case <-ctx.Done():
		t.Fatal("session not presumed lost")
	}
	p.Resume()
	unlisten()
	back("long pause", at)
	if m := most.Load(); m != 1 {
		t.Fatalf("the observer saw %d nodes at once", m)
	}
	if kids, _ := observer.Children(ctx, "/f"); len(kids) != 1 {
		t.Fatalf("children %q", kids)
	}
}

// TestNodeCloseGuaranteed: a Close that cannot reach the server returns
// an error, and the delete goes on in the background.
func TestNodeCloseGuaranteed(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c, p := testutil.Proxied(t, srv)
	observer := testutil.Connect(t, srv, c)
	n, err := persistent.NewNode(c, "/g", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitForInitialCreate(ctx); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = n.Close(cctx)
	cancel()
	if err == nil {
		t.Fatal("Close succeeded with the server out of reach")
	}
	if stat(t, observer, "/g") == nil {
		t.Fatal("deleted while cut off?")
	}
	p.Resume()
	testutil.WaitFor(t, time.Minute, "deleted in the background", func() bool { return stat(t, observer, "/g") == nil })
}

// TestTTLNode checks Curator's layout: a TTL node whose touch child is
// refreshed while the node itself is not written.
func TestTTLNode(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	const ttl = 400 * time.Millisecond
	n, err := persistent.NewTTLNode(c, "/t/node", ttl, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitForInitialCreate(ctx); err != nil {
		t.Fatal(err)
	}
	var touchMtimes []int64
	testutil.WaitFor(t, time.Minute, "touch refreshed three times", func() bool {
		st := stat(t, c, "/t/node/touch")
		if st != nil && (len(touchMtimes) == 0 || touchMtimes[len(touchMtimes)-1] != st.Mzxid) {
			touchMtimes = append(touchMtimes, st.Mzxid)
		}
		return len(touchMtimes) >= 3
	})
	data, st, err := c.Get(ctx, "/t/node")
	if err != nil || string(data) != "data" || st.EphemeralOwner != 0 || st.Version != 0 {
		t.Fatalf("/t/node = %q %+v, %v; want a TTL node never written", data, st, err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// touch expires after its TTL, then the node (both are TTL nodes).
	testutil.WaitFor(t, time.Minute, "node reaped after its TTL", func() bool { return stat(t, c, "/t/node") == nil })
}

// TestTTLRefused: a server without extendedTypesEnabled refuses TTL
// nodes, and the TTLNode says so.
func TestTTLRefused(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	plain := zktest.Start(t, zktest.Config("extendedTypesEnabled", "false"))
	c := plain.Client(t)
	n, err := persistent.NewTTLNode(c, "/t", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	err = n.WaitForInitialCreate(ctx)
	if !errors.Is(err, persistent.ErrTTLUnsupported) {
		t.Fatalf("WaitForInitialCreate: %v, want ErrTTLUnsupported", err)
	}
	t.Log(err)
	if !errors.Is(n.Err(), persistent.ErrTTLUnsupported) {
		t.Fatalf("Err: %v", n.Err())
	}
}

// stat returns the Stat of path, or nil when it does not exist.
func stat(t *testing.T, c *keeper.Client, path string) *keeper.Stat {
	t.Helper()
	st, err := c.Exists(context.Background(), path)
	if err != nil {
		t.Fatalf("exists %s: %v", path, err)
	}
	return st
}

// nextEvent waits for the next event of ch.
func nextEvent[E any](t *testing.T, ch <-chan E) E {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("events closed")
		}
		return ev
	case <-time.After(60 * time.Second):
		t.Fatal("no event after 60s")
	}
	var zero E
	return zero
}

// TestNodeLeavesNoWatch: Close leaves no watch on the server, whether it
// deleted the node, kept it (KeepOnClose) or waited for another session's
// node.
func TestNodeLeavesNoWatch(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	if _, err := other.Create(ctx, "/theirs", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	del, err := persistent.NewNode(c, "/del", nil, persistent.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	kept, err := persistent.NewNode(c, "/kept", nil, persistent.KeepOnClose())
	if err != nil {
		t.Fatal(err)
	}
	wait, err := persistent.NewNode(c, "/theirs", nil, persistent.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*persistent.Node{del, kept} {
		if err := n.WaitForInitialCreate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ev := nextEvent(t, wait.Events()); ev.Type != persistent.Waiting {
		t.Fatalf("event %+v, want Waiting", ev)
	}
	testutil.WaitWatch(t, srv.Addr(0), c, "/theirs")
	for _, n := range []*persistent.Node{del, kept, wait} {
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if stat(t, c, "/kept") == nil || stat(t, c, "/del") != nil || stat(t, c, "/theirs") == nil {
		t.Fatal("Close deleted the wrong nodes")
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// TestNodeReplacesDeadSessionNode: the client presumed its old session lost
// and opened a new one, but the old session is still alive on the server
// (another connection took it over and the client could not close it), so
// its ephemeral node is still there. The Node deletes that node, checked
// by its ephemeralOwner, and creates its own for the new session, instead
// of failing with NodeExists or waiting.
func TestNodeReplacesDeadSessionNode(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	var allow atomic.Int32 // dials allowed; -1: any
	allow.Store(-1)
	dialer := keeper.WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		for {
			n := allow.Load()
			if n == 0 {
				return nil, errors.New("test: dialing refused")
			}
			if n < 0 || allow.CompareAndSwap(n, n-1) {
				break
			}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr(0))
	})
	c := srv.Client(t, dialer, keeper.WithSessionTimeout(4*time.Second))
	observer := testutil.Connect(t, srv, c)
	n, err := persistent.NewNode(c, "/dead", []byte("x"), persistent.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	if err := n.WaitForInitialCreate(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, n.Events())
	old, pw := c.Session()
	lost := make(chan struct{})
	stop := c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Lost && ev.SessionID == old {
			close(lost)
		}
	})
	defer stop()

	// Another connection takes the session over (the server drops the
	// client's connection) and keeps it alive; the client cannot dial.
	allow.Store(0)
	keep := testutil.Connect(t, srv, c, keeper.WithSession(old, pw), keeper.WithSessionTimeout(4*time.Second))
	if keep.SessionID() != old {
		t.Fatalf("took over session 0x%x, want 0x%x", keep.SessionID(), old)
	}
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("the old session not presumed lost")
	}
	// One dial: the client's new session, not its attempt to close the
	// old one.
	allow.Store(1)
	ev := nextEvent(t, n.Events())
	if ev.Type != persistent.Created || ev.Session == old || ev.Session != c.SessionID() {
		t.Fatalf("event %+v, want Created for the new session 0x%x (old 0x%x)", ev, c.SessionID(), old)
	}
	st := stat(t, observer, "/dead")
	if st == nil || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("/dead: %+v", st)
	}
	if keep.State() != keeper.Connected || keep.SessionID() != old {
		t.Fatal("the old session did not stay alive: the test proved nothing")
	}
	allow.Store(-1)
}

// TestNodeClosedClient: a Node on a closed client ends with
// keeper.ErrClosed instead of hanging.
func TestNodeClosedClient(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 30*time.Second)
	c := srv.Client(t)
	c.Close()
	n, err := persistent.NewNode(c, "/x", nil, persistent.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitForInitialCreate(ctx); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("WaitForInitialCreate: %v", err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
