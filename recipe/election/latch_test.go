package election_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/election"
	"github.com/keeper-go/keeper/zktest"
)

// leaders returns the latches that lead now.
func leaders(ls []*election.LeaderLatch) []int {
	var out []int
	for i, l := range ls {
		if l != nil && l.HasLeadership() {
			out = append(out, i)
		}
	}
	return out
}

// recorder collects what a latch reports on Leadership.
type recorder struct {
	mu   sync.Mutex
	seen []bool
	done chan struct{}
}

func record(l *election.LeaderLatch) *recorder {
	r := &recorder{done: make(chan struct{})}
	ch := l.Leadership()
	go func() {
		defer close(r.done)
		for v := range ch {
			r.mu.Lock()
			r.seen = append(r.seen, v)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) get() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// alternates checks that reports go true, false, true, ... and end false.
func alternates(t *testing.T, name string, seen []bool) {
	t.Helper()
	for i, v := range seen {
		if v != (i%2 == 0) {
			t.Errorf("%s: reports %v do not alternate from true", name, seen)
			return
		}
	}
	if len(seen)%2 != 0 {
		t.Errorf("%s: reports %v do not end with false", name, seen)
	}
}

func TestLeaderLatchOneLeaderAndHandOn(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c1 := testutil.Connect(t, srv, c0)
	const n = 4
	ls := make([]*election.LeaderLatch, n)
	recs := make([]*recorder, n)
	for i := range n {
		c := c0
		if i%2 == 1 {
			c = c1
		}
		ls[i] = election.NewLeaderLatch(c, "/latch", fmt.Sprintf("id%d", i))
		recs[i] = record(ls[i])
		if err := ls[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := ls[0].Participants(ctx)
	if err != nil || !slices.Equal(ids, []string{"id0", "id1", "id2", "id3"}) {
		t.Fatalf("participants %q %v", ids, err)
	}
	kids, err := c0.Children(ctx, "/latch")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-latch-[0-9]{10}$`)
	for _, k := range kids {
		if !re.MatchString(k) {
			t.Errorf("node %q is not _c_<uuid>-latch-<seq>", k)
		}
	}
	// Close the leader, one after the other: leadership passes on, and
	// never more than one latch leads.
	for range n {
		var leader int
		testutil.WaitFor(t, 30*time.Second, "one leader", func() bool {
			ld := leaders(ls)
			if len(ld) > 1 {
				t.Fatalf("latches %v lead at once", ld)
			}
			if len(ld) == 1 {
				leader = ld[0]
			}
			return len(ld) == 1
		})
		if err := ls[leader].Await(ctx); err != nil {
			t.Fatal(err)
		}
		lost := ls[leader].Lost()
		select {
		case <-lost:
			t.Fatal("Lost closed while leading")
		default:
		}
		if ls[leader].Node() == "" {
			t.Fatal("no Node while leading")
		}
		l := ls[leader]
		ls[leader] = nil
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		<-lost
		if l.HasLeadership() {
			t.Fatal("a closed latch leads")
		}
		if err := l.Await(ctx); !errors.Is(err, election.ErrClosed) {
			t.Fatalf("Await on a closed latch: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	for i, r := range recs {
		<-r.done // closed by Close
		seen := r.get()
		if len(seen) != 2 {
			t.Errorf("latch %d reported %v, want [true false]", i, seen)
		}
		alternates(t, fmt.Sprint("latch ", i), seen)
	}
	testutil.AssertClean(t, srv, "/latch", c0, c1)
}

func TestLeaderLatchLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	l := election.NewLeaderLatch(c, "/a/b/latch", "me")
	select {
	case <-l.Lost():
	default:
		t.Fatal("Lost of a latch that does not lead is not closed")
	}
	actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := l.Await(actx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await before Start: %v", err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := l.Await(ctx); err != nil {
		t.Fatal(err)
	}
	data, st, err := c.Get(ctx, l.Node())
	if err != nil || string(data) != "me" || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("latch node: %q %+v %v", data, st, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); !errors.Is(err, election.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	r := record(l) // after Close: closed at once
	<-r.done
	// Never started: Close is fine, and Leadership is closed.
	idle := election.NewLeaderLatch(c, "/a/b/latch", "idle")
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	<-record(idle).done
	testutil.AssertClean(t, srv, "/a/b/latch", c)
}

func TestLeaderLatchSessionExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px := testutil.Proxied(t, srv)
	c1 := testutil.Connect(t, srv, c0)
	a := election.NewLeaderLatch(c0, "/latch", "a")
	ra := record(a)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Await(ctx); err != nil {
		t.Fatal(err)
	}
	b := election.NewLeaderLatch(c1, "/latch", "b")
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lost := a.Lost()
	old := c0.SessionID()
	testutil.Expire(t, ctx, c0, px)
	<-lost
	if err := b.Await(ctx); err != nil {
		t.Fatal(err)
	}
	// a queues again in its new session, behind b.
	testutil.WaitFor(t, 30*time.Second, "a queued again", func() bool {
		ids, err := b.Participants(ctx)
		return err == nil && slices.Equal(ids, []string{"b", "a"}) && c0.SessionID() != old
	})
	if a.HasLeadership() {
		t.Fatal("a leads behind b")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	<-ra.done
	seen := ra.get()
	if !slices.Equal(seen, []bool{true, false, true, false}) {
		t.Errorf("a reported %v", seen)
	}
	testutil.AssertClean(t, srv, "/latch", c0, c1)
}

func TestLeaderLatchSuspendPolicies(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px, c := testutil.DirectAndProxied(t, srv)
	var mu sync.Mutex
	var events []keeper.State
	stop := c.Listen(func(ev keeper.StateEvent) {
		mu.Lock()
		events = append(events, ev.State)
		mu.Unlock()
	})
	defer stop()
	reconnected := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			s := 0
			for _, e := range events {
				if e == keeper.Suspended {
					s++
				}
			}
			return s >= n && c.State() == keeper.Connected
		}
	}

	// Default: leadership survives a disconnect within the session.
	keep := election.NewLeaderLatch(c, "/keep", "keep")
	rk := record(keep)
	if err := keep.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := keep.Await(ctx); err != nil {
		t.Fatal(err)
	}
	lost := keep.Lost()
	susp := keep.Suspended()
	select {
	case <-susp:
		t.Fatal("Suspended closed while leading and connected")
	default:
	}
	px.Drop()
	<-susp // told of the disconnect, still leading
	testutil.WaitFor(t, 30*time.Second, "a reconnect", reconnected(1))
	if err := c.Sync(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
		t.Fatal("the default policy gave leadership up on a disconnect")
	default:
	}

	// StopOnSuspend: leadership ends at the disconnect and comes back
	// with the connection, the node being still first and ours.
	strict := election.NewLeaderLatch(c, "/strict", "strict", election.StopOnSuspend())
	rs := record(strict)
	if err := strict.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := strict.Await(ctx); err != nil {
		t.Fatal(err)
	}
	node := strict.Node()
	lost = strict.Lost()
	px.Drop()
	<-lost
	testutil.WaitFor(t, 30*time.Second, "a reconnect", reconnected(2))
	if err := strict.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if strict.Node() != node {
		t.Fatalf("leads with %s after the reconnect, want the same node %s", strict.Node(), node)
	}
	for _, l := range []*election.LeaderLatch{keep, strict} {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	<-rk.done
	<-rs.done
	if got := rk.get(); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("default latch reported %v, want [true false]", got)
	}
	if got := rs.get(); !slices.Equal(got, []bool{true, false, true, false}) {
		t.Errorf("StopOnSuspend latch reported %v, want [true false true false]", got)
	}
	testutil.AssertClean(t, srv, "/keep", c0, c)
	testutil.AssertClean(t, srv, "/strict", c0, c)
}

func TestLeaderLatchCreateReplyLost(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px, c := testutil.DirectAndProxied(t, srv)
	dropped := dropCreateReply(px, "-latch-")
	l := election.NewLeaderLatch(c, "/latch", "a")
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if !dropped.Load() {
		t.Fatal("no create reply was dropped")
	}
	px.Tap(nil)
	kids, err := c0.Children(ctx, "/latch")
	if err != nil || len(kids) != 1 {
		t.Fatalf("children %q (%v) after a lost create reply, want one node", kids, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/latch", c0, c)
}

func TestLeaderLatchClientClosed(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c := testutil.Connect(t, srv, c0)
	a := election.NewLeaderLatch(c, "/latch", "a")
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Await(ctx); err != nil {
		t.Fatal(err)
	}
	b := election.NewLeaderLatch(c, "/latch", "b")
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lost := a.Lost()
	c.Close()
	<-lost
	if err := b.Await(ctx); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("Await after the client closed: %v", err)
	}
	for _, l := range []*election.LeaderLatch{a, b} {
		if err := l.Close(); err != nil {
			t.Fatalf("Close after the client closed: %v", err)
		}
	}
	testutil.AssertClean(t, srv, "/latch", c0)
}

// TestLeaderLatchIgnoresAnOldSessionsNode is CURATOR-696: a client that
// presumed its session lost, while the server kept it (and so the latch's
// node) alive, reconnects with a new session. Its latch must not lead with
// the old session's node, which is first in line but about to vanish: the
// latch queues again, behind the latch that waited.
func TestLeaderLatchIgnoresAnOldSessionsNode(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	px, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	c := testutil.ConnectVia(t, px.Addr(), c0, keeper.WithSessionTimeout(2*time.Second))
	a := election.NewLeaderLatch(c, "/latch", "a")
	ra := record(a)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Await(ctx); err != nil {
		t.Fatal(err)
	}
	b := election.NewLeaderLatch(c0, "/latch", "b")
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	oldNode := a.Node()
	old, pw := c.Session()
	lost := a.Lost()

	// Cut a's client off, and keep its session alive on the server from
	// another connection, so that only the client presumes it lost.
	px.Pause()
	keep, err := keeper.Connect(ctx, srv.Servers(), keeper.WithSession(old, pw), keeper.WithNoAutoResession())
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	<-lost
	if st, err := c0.Exists(ctx, oldNode); err != nil || st == nil || st.EphemeralOwner != old {
		t.Fatalf("the old session's node: %+v %v; want it alive", st, err)
	}
	px.Resume()

	if err := b.Await(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "a queued again behind b in a new session", func() bool {
		ids, err := b.Participants(ctx)
		return err == nil && slices.Equal(ids, []string{"b", "a"}) && c.SessionID() != old
	})
	if got := ra.get(); !slices.Equal(got, []bool{true, false}) || a.HasLeadership() {
		t.Fatalf("a reported %v (leads now: %v); want [true false]: it must not lead with the old node", got, a.HasLeadership())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Node() == oldNode {
		t.Fatal("a leads with the old session's node")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	<-ra.done
	if got := ra.get(); !slices.Equal(got, []bool{true, false, true, false}) {
		t.Fatalf("a reported %v", got)
	}
	testutil.AssertClean(t, srv, "/latch", c0, c)
}
