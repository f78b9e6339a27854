package lock

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

var (
	kazooName    = regexp.MustCompile(`^[0-9a-f]{32}__lock__\d{10}$`)
	kazooRName   = regexp.MustCompile(`^[0-9a-f]{32}__rlock__\d{10}$`)
	curatorName  = regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-\d{10}$`)
	curatorRName = regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-__READ__\d{10}$`)
	curatorWName = regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-__WRIT__\d{10}$`)
)

func children(t *testing.T, c *keeper.Client, path string) []string {
	t.Helper()
	kids, err := c.Children(context.Background(), path)
	if err != nil && !errors.Is(err, keeper.ErrNoNode) {
		t.Fatal(err)
	}
	slices.Sort(kids)
	return kids
}

func TestLockLayout(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	for _, tc := range []struct {
		l  *Lock
		re *regexp.Regexp
	}{
		{New(c, "/a/lock", "my-id"), kazooName},
		{NewWriteLock(c, "/a/rw", "writer"), kazooName},
		{NewReadLock(c, "/a/rw2", "reader"), kazooRName},
		{New(c, "/a/cur", "cur", WithCuratorLayout()), curatorName},
	} {
		if err := tc.l.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		kids := children(t, c, tc.l.Path())
		if len(kids) != 1 || !tc.re.MatchString(kids[0]) {
			t.Fatalf("%s: children %q do not match %v", tc.l.Path(), kids, tc.re)
		}
		if tc.l.Node() != tc.l.Path()+"/"+kids[0] {
			t.Fatalf("Node() = %q", tc.l.Node())
		}
		data, st, err := c.Get(ctx, tc.l.Node())
		if err != nil || string(data) != string(tc.l.data) || st.EphemeralOwner != c.SessionID() {
			t.Fatalf("node data %q owner %x err %v", data, st.EphemeralOwner, err)
		}
		if !tc.l.IsAcquired() {
			t.Fatal("IsAcquired false after Acquire")
		}
		select {
		case <-tc.l.Lost():
			t.Fatal("Lost closed while held")
		default:
		}
		if err := tc.l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if kids := children(t, c, tc.l.Path()); len(kids) != 0 {
			t.Fatalf("children after Release: %q", kids)
		}
		if tc.l.IsAcquired() {
			t.Fatal("IsAcquired true after Release")
		}
		<-tc.l.Lost()
		if err := tc.l.Release(ctx); !errors.Is(err, ErrNotHeld) {
			t.Fatalf("second Release = %v, want ErrNotHeld", err)
		}
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

func TestLockExclusion(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	c2 := testutil.Connect(t, srv, c)
	a := New(c, "/l", "a")
	b := New(c2, "/l", "b")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Acquire(ctx); !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire = %v, want ErrHeld", err)
	}
	if ok, err := b.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("TryAcquire while held = %v, %v", ok, err)
	}
	if kids := children(t, c, "/l"); len(kids) != 1 {
		t.Fatalf("TryAcquire left a node: %q", kids)
	}
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "b to queue", func() bool {
		ids, err := a.Contenders(ctx)
		return err == nil && slices.Equal(ids, []string{"a", "b"})
	})
	select {
	case err := <-got:
		t.Fatalf("b acquired while a holds it: %v", err)
	default:
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if !b.IsAcquired() || a.IsAcquired() {
		t.Fatal("wrong holder")
	}
	if ids, err := b.Contenders(ctx); err != nil || !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("Contenders = %q, %v", ids, err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
	testutil.NoWatches(t, srv.Addr(0), c2.SessionID())
}

// TestLockCancel: a cancelled wait deletes its node and leaves no watch.
func TestLockCancel(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	c2 := testutil.Connect(t, srv, c)
	a := New(c, "/l", "a")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	b := New(c2, "/l", "b")
	wctx, cancel := context.WithCancel(ctx)
	got := make(chan error, 1)
	go func() { got <- b.Acquire(wctx) }()
	testutil.WaitFor(t, 30*time.Second, "b's watch on a's node", func() bool {
		ws, err := testutil.Watches(ctx, srv.Addr(0), c2.SessionID())
		return err == nil && len(ws) == 1
	})
	cancel()
	err := <-got
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel = %v, want context.Canceled", err)
	}
	if kids := children(t, c, "/l"); len(kids) != 1 || "/l/"+kids[0] != a.Node() {
		t.Fatalf("children after cancel: %q", kids)
	}
	testutil.NoWatches(t, srv.Addr(0), c2.SessionID())
	// A deadline works the same way.
	dctx, dcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer dcancel()
	if err := b.Acquire(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with deadline = %v", err)
	}
	if kids := children(t, c, "/l"); len(kids) != 1 {
		t.Fatalf("children after deadline: %q", kids)
	}
	testutil.NoWatches(t, srv.Addr(0), c2.SessionID())
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLockFIFO: waiters get the lock in the order they queued.
func TestLockFIFO(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	first := New(c, "/l", "first")
	if err := first.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 5
	order := make(chan string, n)
	locks := make([]*Lock, n)
	for i := range n {
		id := string(rune('a' + i))
		locks[i] = New(c, "/l", id)
		go func() {
			if err := locks[i].Acquire(ctx); err != nil {
				order <- "error: " + err.Error()
				return
			}
			order <- id
			if err := locks[i].Release(ctx); err != nil {
				order <- "error: " + err.Error()
			}
		}()
		testutil.WaitFor(t, 30*time.Second, "waiter "+id, func() bool {
			ids, err := first.Contenders(ctx)
			return err == nil && len(ids) == i+2
		})
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range n {
		got = append(got, <-order)
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("order %q", got)
	}
}

// TestLockSessionExpiry: the holder is told and the next contender gets
// the lock.
func TestLockSessionExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	c2 := testutil.Connect(t, srv, c)
	a := New(c, "/l", "a")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	b := New(c2, "/l", "b")
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx) }()
	lost := a.Lost()
	testutil.Expire(t, ctx, c, px)
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("Lost not closed after the session expired")
	}
	if a.IsAcquired() {
		t.Fatal("IsAcquired after loss")
	}
	if err := a.Err(); !errors.Is(err, ErrLost) || !errors.Is(err, keeper.ErrSessionExpired) {
		t.Fatalf("Err = %v", err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("Release after loss = %v, want ErrLost", err)
	}
	// a can queue again on its new session.
	again := make(chan error, 1)
	go func() { again <- a.Acquire(ctx) }()
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-again; err != nil {
		t.Fatal(err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c2, "/l"); len(kids) != 0 {
		t.Fatalf("children left: %q", kids)
	}
}

// TestLockExpiryWhileWaiting: a waiter whose session expires queues again
// on its new session.
func TestLockExpiryWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	c2 := testutil.Connect(t, srv, c)
	a := New(c2, "/l", "a")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	b := New(c, "/l", "b")
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "b to queue", func() bool {
		ids, _ := a.Contenders(ctx)
		return len(ids) == 2
	})
	testutil.Expire(t, ctx, c, px)
	testutil.WaitFor(t, 30*time.Second, "b to queue again on its new session", func() bool {
		kids := children(t, c2, "/l")
		if len(kids) != 2 {
			return false
		}
		for _, k := range kids {
			st, _ := c2.Exists(ctx, "/l/"+k)
			if st != nil && st.EphemeralOwner == c.SessionID() {
				return true
			}
		}
		return false
	})
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLockNodeDeleted: deleting the holder's node ends the holding.
func TestLockNodeDeleted(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	a := New(c, "/l", "a")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	lost := a.Lost()
	testutil.WaitFor(t, 30*time.Second, "the holder's watch", func() bool {
		return c.CheckWatches(ctx, a.Node(), keeper.WatchData) == nil
	})
	if err := c.Delete(ctx, a.Node(), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("Lost not closed")
	}
	if a.IsAcquired() {
		t.Fatal("IsAcquired after the node was deleted")
	}
}

// TestLockLostReply: a create whose reply is lost leaves exactly one node.
func TestLockLostReply(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	if err := c.EnsurePath(ctx, "/l"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		l := New(c, "/l", "x")
		px.DropNextReply()
		if err := l.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		if kids := children(t, c, "/l"); len(kids) != 1 || "/l/"+kids[0] != l.Node() {
			t.Fatalf("children %q, node %q", kids, l.Node())
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if kids := children(t, c, "/l"); len(kids) != 0 {
			t.Fatalf("children after release %q", kids)
		}
	}
}

func TestReadWriteLock(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	r1 := NewReadLock(c, "/rw", "r1")
	r2 := NewReadLock(c, "/rw", "r2")
	w := NewWriteLock(c, "/rw", "w")
	plain := New(c, "/rw", "plain")
	r3 := NewReadLock(c, "/rw", "r3")
	if err := r1.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := r2.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("second reader: %v, %v", ok, err)
	}
	if ok, err := w.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("writer with readers in: %v, %v", ok, err)
	}
	if ok, err := plain.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("plain lock with readers in: %v, %v", ok, err)
	}
	wgot := make(chan error, 1)
	go func() { wgot <- w.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "the writer to queue", func() bool {
		ids, _ := r1.Contenders(ctx)
		return len(ids) == 3
	})
	// A reader after a waiting writer waits.
	if ok, err := r3.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("reader behind a writer: %v, %v", ok, err)
	}
	rgot := make(chan error, 1)
	go func() { rgot <- r3.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "the reader to queue", func() bool {
		ids, _ := r1.Contenders(ctx)
		return slices.Equal(ids, []string{"r1", "r2", "w", "r3"})
	})
	if err := r1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-wgot; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rgot:
		t.Fatalf("reader got in with the writer: %v", err)
	default:
	}
	if err := w.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-rgot; err != nil {
		t.Fatal(err)
	}
	if err := r3.Release(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

func TestCuratorLayoutMix(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := New(c, "/m", "kazoo-style")
	cur := New(c, "/m", "curator-style", WithCuratorLayout())
	if err := cur.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := k.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("Kazoo-layout lock while a Curator-layout one holds: %v, %v", ok, err)
	}
	if err := cur.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := cur.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("Curator-layout lock while a Kazoo-layout one holds: %v, %v", ok, err)
	}
	if err := k.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Curator's read/write layout: readers share, a writer excludes them,
	// and a Kazoo-layout writer excludes a Curator-layout reader.
	r1 := NewReadLock(c, "/m", "r1", WithCuratorLayout())
	r2 := NewReadLock(c, "/m", "r2")
	w := NewWriteLock(c, "/m", "w", WithCuratorLayout())
	for _, r := range []*Lock{r1, r2} {
		if ok, err := r.TryAcquire(ctx); !ok || err != nil {
			t.Fatalf("reader %v, %v", ok, err)
		}
	}
	if ok, err := w.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("Curator-layout writer beside readers: %v, %v", ok, err)
	}
	kids := children(t, c, "/m")
	if len(kids) != 2 || !curatorRName.MatchString(kids[0]) && !curatorRName.MatchString(kids[1]) {
		t.Fatalf("children %q", kids)
	}
	for _, r := range []*Lock{r1, r2} {
		if err := r.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c, "/m"); len(kids) != 1 || !curatorWName.MatchString(kids[0]) {
		t.Fatalf("children %q", kids)
	}
	for _, l := range []*Lock{r1, r2, k, cur} {
		if ok, err := l.TryAcquire(ctx); ok || err != nil {
			t.Fatalf("%v beside a Curator-layout writer: %v, %v", l.data, ok, err)
		}
	}
	if err := w.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLockDuplicateNode: a create of ours that shows up late (applied after
// the protected create looked for it) is deleted, not left in the queue.
func TestLockDuplicateNode(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	l := New(c, "/l", "x")
	prefix := l.prefix()
	late, err := c.Create(ctx, "/l/"+prefix, nil, keeper.Ephemeral(), keeper.Sequential(), keeper.MakeParents())
	if err != nil {
		t.Fatal(err)
	}
	var st keeper.Stat
	mine, err := c.Create(ctx, "/l/"+prefix, nil, keeper.Ephemeral(), keeper.Sequential(), keeper.StoreStat(&st))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := l.wait(ctx, mine, prefix, st.EphemeralOwner, st.Czxid, false)
	if !ok || err != nil {
		t.Fatalf("wait = %v, %v", ok, err)
	}
	if kids := children(t, c, "/l"); len(kids) != 1 || "/l/"+kids[0] != mine {
		t.Fatalf("children %q; the late %s should be gone", kids, late)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
