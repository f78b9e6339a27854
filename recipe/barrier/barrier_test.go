package barrier_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/barrier"
)

func TestBarrierWaitRemove(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c1 := testutil.Connect(t, srv, c0)
	b0 := barrier.New(c0, "/b/gate")
	if err := b0.Wait(ctx); err != nil {
		t.Fatalf("Wait on a barrier that is not up: %v", err)
	}
	if err := b0.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b0.Create(ctx); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	data, st, err := c0.Get(ctx, "/b/gate")
	if err != nil || len(data) != 0 || st.EphemeralOwner != 0 {
		t.Fatalf("barrier node: data %q stat %+v err %v; want a persistent node with empty data", data, st, err)
	}

	var removed atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		c := c0
		if i%2 == 1 {
			c = c1
		}
		b := barrier.New(c, "/b/gate")
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.Wait(ctx)
			if err == nil && !removed.Load() {
				err = errors.New("Wait returned while the barrier was up")
			}
			errs <- err
		}()
	}
	testutil.WaitWatch(t, srv.Addr(0), c0, "/b/gate")
	testutil.WaitWatch(t, srv.Addr(0), c1, "/b/gate")
	removed.Store(true)
	if up, err := barrier.New(c1, "/b/gate").Remove(ctx); !up || err != nil {
		t.Fatalf("Remove = %v, %v; want true", up, err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if up, err := b0.Remove(ctx); up || err != nil {
		t.Fatalf("Remove of a barrier that is not up = %v, %v; want false", up, err)
	}
	testutil.AssertClean(t, srv, "/b", c0)
}

func TestBarrierWaitCancelLeavesNoWatch(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := testutil.Ctx(t, 0)
	b := barrier.New(c, "/gate")
	if err := b.Create(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Wait(wctx) }()
	testutil.WaitWatch(t, srv.Addr(0), c, "/gate")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
	testutil.WaitFor(t, 30*time.Second, "the watch to go", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c)) == 0 })
	if up, err := b.Remove(ctx); !up || err != nil {
		t.Fatalf("Remove = %v, %v; want true", up, err)
	}
	testutil.AssertClean(t, srv, "/", c)
}

func TestBarrierWaitAcrossSessionLoss(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	other := testutil.Connect(t, srv, c)
	done := waitingAt(t, ctx, c, "/gate")
	old := c.SessionID()
	testutil.Expire(t, ctx, c, px)
	testutil.WaitFor(t, 30*time.Second, "a new session", func() bool {
		return c.State() == keeper.Connected && c.SessionID() != old
	})
	testutil.WaitWatch(t, srv.Addr(0), c, "/gate") // armed again in the new session
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v while the barrier is up", err)
	default:
	}
	if up, err := barrier.New(other, "/gate").Remove(ctx); !up || err != nil {
		t.Fatalf("Remove = %v, %v; want true", up, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/", c)
}

func TestBarrierWaitClientClosed(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c := testutil.Connect(t, srv, c0)
	done := waitingAt(t, ctx, c, "/gate")
	c.Close()
	if err := <-done; !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}
	if up, err := barrier.New(c0, "/gate").Remove(ctx); !up || err != nil {
		t.Fatalf("Remove = %v, %v; want true", up, err)
	}
	testutil.AssertClean(t, srv, "/", c0)
}

// TestBarrierWaitCancelledInFlight cancels Wait while its watching read is
// on the wire: the server has set the watch, the client has not seen the
// reply yet. The watch must still be taken off the server.
func TestBarrierWaitCancelledInFlight(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	b := barrier.New(c, "/gate")
	if err := b.Create(ctx); err != nil {
		t.Fatal(err)
	}
	px.Delay(300 * time.Millisecond) // replies reach the client late
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.Wait(wctx) }()
	testutil.WaitWatch(t, srv.Addr(0), c, "/gate") // set on the server; its reply still on the way
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
	px.Delay(0)
	testutil.WaitFor(t, 30*time.Second, "the watch to go", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c)) == 0 })
	if up, err := b.Remove(ctx); !up || err != nil {
		t.Fatalf("Remove = %v, %v; want true", up, err)
	}
	testutil.AssertClean(t, srv, "/", c)
}

// TestBarrierRemoveLostReply drops the reply of Remove's delete: the
// repeated delete finds no node, and Remove still says the barrier was up.
func TestBarrierRemoveLostReply(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	b := barrier.New(c, "/gate")
	if err := b.Create(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	dropped := false
	px.Tap(func(fromServer bool, frame []byte) {
		mu.Lock()
		defer mu.Unlock()
		if !fromServer && !dropped && len(frame) >= 8 && frame[7] == 2 && frame[4]|frame[5]|frame[6] == 0 { // delete
			dropped = true
			px.DropNextReply()
		}
	})
	up, err := b.Remove(ctx)
	px.Tap(nil)
	mu.Lock()
	defer mu.Unlock()
	if !up || err != nil || !dropped {
		t.Fatalf("Remove with a lost reply = %v, %v (dropped %v)", up, err, dropped)
	}
	if up, err := b.Remove(ctx); up || err != nil {
		t.Fatalf("second Remove = %v, %v", up, err)
	}
}

// TestBarrierWaitDownWhileDisconnected: a barrier taken down and put up
// again while the waiter is cut off releases the waiter. Its watch,
// restored on reconnect, tells only of a changed node (EventNodeDataChanged),
// so Wait must notice that the node is a new one.
func TestBarrierWaitDownWhileDisconnected(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	other, px, c := testutil.DirectAndProxied(t, srv)
	done := waitingAt(t, ctx, c, "/gate")
	px.Pause() // the reconnect waits until Resume
	// Resume is a no-op once resumed: the deferred one ends the pause only
	// if the test stops early.
	defer px.Resume()
	px.Drop()
	ob := barrier.New(other, "/gate")
	if up, err := ob.Remove(ctx); !up || err != nil {
		t.Fatalf("Remove = %v, %v; want true", up, err)
	}
	if err := ob.Create(ctx); err != nil {
		t.Fatal(err)
	}
	px.Resume()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait still blocked 30s after the reconnect, though the barrier was down meanwhile")
	}
	if _, err := ob.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/", c)
}

// waitingAt raises a barrier at path with c and starts a Wait on it, which
// has set its watch, and had the reply, when waitingAt returns; the Wait's
// result comes on the channel.
func waitingAt(t *testing.T, ctx context.Context, c *keeper.Client, path string) <-chan error {
	t.Helper()
	b := barrier.New(c, path)
	if err := b.Create(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Wait(ctx) }()
	testutil.WaitWatch(t, srv.Addr(0), c, path)
	// The server has the watch; a round trip after it (replies come in
	// order) makes sure the client has the read's reply too, so that a
	// connection the test drops next cannot take that reply with it.
	if _, err := c.Exists(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	return done
}
