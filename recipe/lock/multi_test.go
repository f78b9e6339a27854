package lock

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// TestMultiLockAllOrNothing: a MultiLock whose last lock is held elsewhere
// gives the ones it took back when its ctx ends; it holds all once free.
func TestMultiLockAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := New(testutil.Connect(t, srv, c), "/m3", "other")
	if err := other.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	m := NewMultiLockPaths(c, []string{"/m1", "/m2", "/m3"}, "multi", WithCuratorLayout())
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := m.Acquire(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire = %v, want the deadline", err)
	}
	for _, p := range []string{"/m1", "/m2"} {
		if kids := children(t, c, p); len(kids) != 0 {
			t.Fatalf("%s keeps %q after a failed Acquire", p, kids)
		}
	}
	if m.IsAcquired() {
		t.Fatal("held after a failed Acquire")
	}
	got := make(chan error, 1)
	go func() { got <- m.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "the multi-lock to wait for /m3", func() bool { return len(children(t, c, "/m3")) == 2 })
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if !m.IsAcquired() {
		t.Fatal("not held")
	}
	if _, err := m.Guard(c.Txn()).Create("/done", nil).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	lost := m.Lost()
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	<-lost
	if err := m.Release(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second Release = %v", err)
	}
	if err := NewMultiLock().Acquire(ctx); !errors.Is(err, ErrBadOption) {
		t.Fatalf("empty MultiLock = %v", err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// TestMultiLockNeverASubset: two MultiLocks over the same three paths, one
// behind a fault proxy (a dropped reply, a pause shorter than the session
// timeout, one longer), acquire with random short deadlines. A failed
// Acquire leaves no node of its own on any path and no lock held; a
// successful one holds all three (its guarded write is applied unless a
// lock was lost since); the two never hold at once.
func TestMultiLockNeverASubset(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	const timeout = 3 * time.Second
	cf, px := testutil.Proxied(t, srv, keeper.WithSessionTimeout(timeout))
	cd := testutil.Connect(t, srv, cf, keeper.WithSessionTimeout(timeout))
	paths := []string{"/a", "/b", "/c"}
	var holders atomic.Int32
	var breaches, held, failed atomic.Int32
	var problems sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range []*keeper.Client{cf, cd} {
		id := fmt.Sprintf("m%d", i)
		m := NewMultiLockPaths(c, paths, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				actx, cancel := context.WithTimeout(ctx, time.Duration(5+rand.IntN(200))*time.Millisecond)
				err := m.Acquire(actx)
				cancel()
				if err != nil {
					failed.Add(1)
					for _, l := range m.locks {
						if l.IsAcquired() {
							problems.Store(id+": a lock held after a failed Acquire", err)
						}
					}
					for _, p := range paths {
						kids, _ := cd.Children(ctx, p)
						for _, k := range kids {
							if data, _, err := cd.Get(ctx, p+"/"+k); err == nil && string(data) == id {
								// Only an unfinished delete (its client
								// cut off) may leave one: it goes with
								// the session.
								if c.State() == keeper.Connected && cleanupDone(ctx, cd, p+"/"+k) {
									problems.Store(id+": node left after a failed Acquire: "+p+"/"+k, err)
								}
							}
						}
					}
					continue
				}
				held.Add(1)
				if holders.Add(1) != 1 {
					breaches.Add(1)
				}
				_, werr := m.Guard(c.Txn()).Create("/w-", []byte(id), keeper.Sequential()).Commit(ctx)
				if werr != nil && m.Err() == nil && !errors.Is(werr, keeper.ErrConnectionLoss) {
					problems.Store(id+": guarded write failed while all held", werr)
				}
				holders.Add(-1)
				_ = m.Release(ctx)
			}
		}()
	}
	progress := func(what string) {
		from := held.Load()
		testutil.WaitFor(t, 60*time.Second, "acquisitions after "+what, func() bool { return held.Load() >= from+10 })
	}
	hold := func(d time.Duration) {
		tm := time.NewTimer(d)
		defer tm.Stop()
		<-tm.C
	}
	progress("start")
	px.DropNextReply()
	progress("a dropped reply")
	px.Pause()
	hold(timeout / 4)
	px.Resume()
	progress("a short pause")
	px.Pause()
	hold(timeout * 3 / 2) // the session expires
	px.Resume()
	progress("a pause past the session timeout")
	close(stop)
	wg.Wait()
	problems.Range(func(k, v any) bool {
		t.Errorf("%s (%v)", k, v)
		return true
	})
	if n := breaches.Load(); n != 0 {
		t.Errorf("%d times both held", n)
	}
	t.Logf("%d acquisitions, %d failed", held.Load(), failed.Load())
	for _, p := range paths {
		testutil.AssertClean(t, srv, p, cf, cd)
	}
}

// cleanupDone reports whether the node at p is still there after its
// owner's clean-up had a chance to run: it waits (up to 10s) for it to go.
func cleanupDone(ctx context.Context, c *keeper.Client, p string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.Exists(ctx, p)
		if err == nil && st == nil {
			return false
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
	return true
}
