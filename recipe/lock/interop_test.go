package lock

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

func jsonList(t *testing.T, line, prefix string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, prefix)), &out); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return out
}

func TestKazooLock(t *testing.T) {
	t.Parallel()
	interop.EachKazoo(t, testKazooLock)
}

func testKazooLock(t *testing.T, kazoo interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := kazoo.Start(t, srv.Servers()+c.Chroot())
	k.Send(t, "lock ka lock /l kazoo-a")
	k.Await(t, "ok ka")

	// Kazoo holds: we cannot take it, and wait for Kazoo's release.
	k.Send(t, "acquire ka")
	k.Await(t, "acquired ka")
	mine := New(c, "/l", "keeper-b")
	if ok, err := mine.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("TryAcquire while Kazoo holds = %v, %v", ok, err)
	}
	got := make(chan error, 1)
	go func() { got <- mine.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "both contenders", func() bool {
		ids, _ := mine.Contenders(ctx)
		return slices.Equal(ids, []string{"kazoo-a", "keeper-b"})
	})
	k.Send(t, "contenders ka")
	if ids := jsonList(t, k.Await(t, "contenders ka "), "contenders ka "); !slices.Equal(ids, []string{"kazoo-a", "keeper-b"}) {
		t.Fatalf("Kazoo's contenders %q", ids)
	}
	// Both node names have the same form.
	k.Send(t, "children /l")
	kids := jsonList(t, k.Await(t, "children "), "children ")
	if len(kids) != 2 || !kazooName.MatchString(kids[0]) || !kazooName.MatchString(kids[1]) {
		t.Fatalf("children %q", kids)
	}
	select {
	case err := <-got:
		t.Fatalf("Acquire returned while Kazoo holds the lock: %v", err)
	default:
	}
	k.Send(t, "release ka")
	k.Await(t, "released ka True")
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	// We hold: Kazoo cannot take it, and waits for our release.
	k.Send(t, "try ka")
	k.Await(t, "try ka False")
	k.Send(t, "acquire ka")
	testutil.WaitFor(t, 30*time.Second, "Kazoo to queue", func() bool {
		ids, _ := mine.Contenders(ctx)
		return len(ids) == 2
	})
	if k.Seen("acquired ka") {
		t.Fatal("Kazoo acquired the lock we hold")
	}
	if err := mine.Release(ctx); err != nil {
		t.Fatal(err)
	}
	k.Await(t, "acquired ka")
	k.Send(t, "release ka")
	k.Await(t, "released ka True")
	if kids := children(t, c, "/l"); len(kids) != 0 {
		t.Fatalf("nodes left: %q", kids)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

func TestKazooReadWriteLock(t *testing.T) {
	t.Parallel()
	interop.EachKazoo(t, testKazooReadWriteLock)
}

func testKazooReadWriteLock(t *testing.T, kazoo interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := kazoo.Start(t, srv.Servers()+c.Chroot())
	for _, cmd := range []string{"lock kr rlock /rw kazoo-r", "lock kw wlock /rw kazoo-w", "lock kl lock /rw kazoo-l"} {
		k.Send(t, "%s", cmd)
		k.Await(t, "ok ")
	}
	r := NewReadLock(c, "/rw", "keeper-r")
	w := NewWriteLock(c, "/rw", "keeper-w")

	// Kazoo reads: we may read too, but not write; Kazoo's writer waits
	// for both readers.
	k.Send(t, "try kr")
	k.Await(t, "try kr True")
	if ok, err := r.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("reader beside Kazoo's reader = %v, %v", ok, err)
	}
	if ok, err := w.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("writer beside Kazoo's reader = %v, %v", ok, err)
	}
	k.Send(t, "try kw")
	k.Await(t, "try kw False")
	k.Send(t, "acquire kw")
	testutil.WaitFor(t, 30*time.Second, "Kazoo's writer to queue", func() bool {
		ids, _ := r.Contenders(ctx)
		return slices.Equal(ids, []string{"kazoo-r", "keeper-r", "kazoo-w"})
	})
	k.Send(t, "children /rw")
	kids := jsonList(t, k.Await(t, "children "), "children ")
	var nr, nw int
	for _, n := range kids {
		switch {
		case kazooRName.MatchString(n):
			nr++
		case kazooName.MatchString(n):
			nw++
		default:
			t.Fatalf("unexpected node %q", n)
		}
	}
	if nr != 2 || nw != 1 {
		t.Fatalf("children %q", kids)
	}
	k.Send(t, "release kr")
	k.Await(t, "released kr True")
	if k.Seen("acquired kw") {
		t.Fatal("Kazoo's writer got in beside our reader")
	}
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}
	k.Await(t, "acquired kw")

	// Kazoo writes: we can neither read nor write.
	if ok, err := r.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("reader beside Kazoo's writer = %v, %v", ok, err)
	}
	if ok, err := w.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("writer beside Kazoo's writer = %v, %v", ok, err)
	}
	got := make(chan error, 1)
	go func() { got <- r.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "our reader to queue", func() bool {
		ids, _ := r.Contenders(ctx)
		return len(ids) == 2
	})
	k.Send(t, "release kw")
	k.Await(t, "released kw True")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// We write: Kazoo can neither read, nor write, nor take a plain Lock.
	if err := w.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"kr", "kw", "kl"} {
		k.Send(t, "try %s", n)
		k.Await(t, "try "+n+" False")
	}
	if err := w.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c, "/rw"); len(kids) != 0 {
		t.Fatalf("nodes left: %q", kids)
	}
}

func TestKazooSemaphore(t *testing.T) {
	t.Parallel()
	interop.EachKazoo(t, testKazooSemaphore)
}

func testKazooSemaphore(t *testing.T, kazoo interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := kazoo.Start(t, srv.Servers()+c.Chroot())
	for _, cmd := range []string{"sem k1 /sem kazoo-1 2", "sem k2 /sem kazoo-2 2", "sem bad /sem kazoo-bad 3"} {
		k.Send(t, "%s", cmd)
		k.Await(t, "ok ")
	}
	s1 := NewSemaphore(c, "/sem", "keeper-1", 2)
	s2 := NewSemaphore(c, "/sem", "keeper-2", 2)
	k.Send(t, "acquire k1")
	k.Await(t, "acquired k1")
	if data, _, err := c.Get(ctx, "/sem"); err != nil || string(data) != "2" {
		t.Fatalf("/sem holds %q, %v", data, err)
	}
	if err := s1.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// Two of two leases taken, one by each side.
	k.Send(t, "try k2")
	k.Await(t, "try k2 False")
	if ok, err := s2.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("third lease = %v, %v", ok, err)
	}
	k.Send(t, "holders k1")
	if h := jsonList(t, k.Await(t, "holders k1 "), "holders k1 "); !slices.Equal(h, []string{"kazoo-1", "keeper-1"}) {
		t.Fatalf("Kazoo's lease holders %q", h)
	}
	kids := children(t, c, "/sem")
	if len(kids) != 2 || !leaseName.MatchString(kids[0]) || !leaseName.MatchString(kids[1]) {
		t.Fatalf("leases %q", kids)
	}
	// Kazoo's max-leases check sees our number, and ours sees Kazoo's.
	k.Send(t, "try bad")
	if l, err := k.AwaitCtx(ctx, "try bad"); err == nil || !strings.Contains(err.Error(), "Inconsistent max leases") {
		t.Fatalf("Kazoo with 3 leases: %q, %v", l, err)
	}
	// Our waiter gets Kazoo's lease when it is released, and Kazoo's
	// waiter ours.
	got := make(chan error, 1)
	go func() { got <- s2.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "our waiter", func() bool {
		return c.CheckWatches(ctx, "/sem", 1) == nil
	})
	k.Send(t, "release k1")
	k.Await(t, "released k1 True")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	k.Send(t, "acquire k2")
	testutil.WaitFor(t, 30*time.Second, "Kazoo's waiter to hold the internal lock", func() bool {
		return len(children(t, c, "/sem-__lock__")) == 1
	})
	if k.Seen("acquired k2") {
		t.Fatal("Kazoo took a third lease")
	}
	if err := s1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	k.Await(t, "acquired k2")
	k.Send(t, "release k2")
	k.Await(t, "released k2 True")
	if err := s2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c, "/sem"); len(kids) != 0 {
		t.Fatalf("leases left %q", kids)
	}
}

func TestCuratorMutex(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorMutex)
}

func testCuratorMutex(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	j := curator.Start(t, srv.Servers()+c.Chroot())
	j.Send(t, "mutex cm /cl")
	j.Await(t, "ok cm")
	mine := New(c, "/cl", "keeper", WithCuratorLayout())

	// Curator holds.
	j.Send(t, "acquire cm")
	j.Await(t, "acquired cm")
	if ok, err := mine.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("TryAcquire while Curator holds = %v, %v", ok, err)
	}
	got := make(chan error, 1)
	go func() { got <- mine.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "our node", func() bool { return len(children(t, c, "/cl")) == 2 })
	kids := children(t, c, "/cl")
	for _, k := range kids {
		if !curatorName.MatchString(k) {
			t.Fatalf("node %q is not in Curator's form", k)
		}
	}
	j.Send(t, "nodes cm")
	nodes := strings.Split(strings.TrimPrefix(j.Await(t, "nodes cm "), "nodes cm "), ",")
	if len(nodes) != 2 || nodes[1] != node2(kids, nodes[0]) {
		t.Fatalf("Curator's participants %q, children %q", nodes, kids)
	}
	select {
	case err := <-got:
		t.Fatalf("Acquire returned while Curator holds the lock: %v", err)
	default:
	}
	j.Send(t, "release cm")
	j.Await(t, "released cm")
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	// We hold.
	j.Send(t, "try cm")
	j.Await(t, "try cm false")
	j.Send(t, "acquire cm")
	testutil.WaitFor(t, 30*time.Second, "Curator to queue", func() bool { return len(children(t, c, "/cl")) == 2 })
	if j.Seen("acquired cm") {
		t.Fatal("Curator acquired the lock we hold")
	}
	if err := mine.Release(ctx); err != nil {
		t.Fatal(err)
	}
	j.Await(t, "acquired cm")
	j.Send(t, "release cm")
	j.Await(t, "released cm")
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// node2 returns the name in kids other than first.
func node2(kids []string, first string) string {
	for _, k := range kids {
		if k != first {
			return k
		}
	}
	return ""
}
