package barrier_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/barrier"
)

// runDouble runs one round of a double barrier with one participant per
// client and checks that nobody passes Enter before all have entered, nor
// Leave before all have called Leave.
func runDouble(t *testing.T, ctx context.Context, clients []*keeper.Client, path string) {
	t.Helper()
	n := len(clients)
	var entering, leaving atomic.Int32
	var inside sync.WaitGroup // everyone checked Enter before anyone leaves
	inside.Add(n)
	errs := make(chan error, n)
	for i, c := range clients {
		d := barrier.NewDouble(c, path, fmt.Sprintf("p%d", i), n)
		go func() {
			errs <- func() error {
				entering.Add(1)
				if err := d.Enter(ctx); err != nil {
					inside.Done()
					return err
				}
				if got := entering.Load(); got != int32(n) {
					inside.Done()
					return fmt.Errorf("participant %d passed Enter when %d of %d had entered", i, got, n)
				}
				inside.Done()
				inside.Wait()
				leaving.Add(1)
				if err := d.Leave(ctx); err != nil {
					return err
				}
				if got := leaving.Load(); got != int32(n) {
					return fmt.Errorf("participant %d passed Leave when %d of %d had called it", i, got, n)
				}
				return nil
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestDoubleBarrier(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	clients := []*keeper.Client{c0}
	for range 4 {
		clients = append(clients, testutil.Connect(t, srv, c0))
	}
	for round := range 3 {
		runDouble(t, ctx, clients, "/db")
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
		testutil.AssertClean(t, srv, "/db", clients...)
	}
}

func TestDoubleBarrierSharedClient(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	runDouble(t, ctx, []*keeper.Client{c, c, c, c}, "/db")
	testutil.AssertClean(t, srv, "/db", c)
}

func TestDoubleBarrierLayout(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	d := barrier.NewDouble(c, "/db", "me", 1)
	if err := d.Enter(ctx); err != nil {
		t.Fatal(err)
	}
	kids, err := c.Children(ctx, "/db")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kids)
	name := d.Node()[len("/db/"):]
	if len(name) != 32 || !slices.Equal(kids, []string{name, "ready"}) {
		t.Fatalf("children %q, want [<uuid hex> ready]", kids)
	}
	data, st, err := c.Get(ctx, d.Node())
	if err != nil || string(data) != "me" || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("member: %q %+v %v", data, st, err)
	}
	data, st, err = c.Get(ctx, "/db/ready")
	if err != nil || len(data) != 0 || st.EphemeralOwner != 0 {
		t.Fatalf("ready: %q %+v %v", data, st, err)
	}
	if err := d.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/db", c)
	if err := barrier.NewDouble(c, "/db", "x", 0).Enter(ctx); err == nil {
		t.Fatal("Enter with numClients 0 succeeded")
	}
}

func TestDoubleBarrierEnterCancelled(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	quitter := barrier.NewDouble(c0, "/db", "quitter", 3)
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- quitter.Enter(qctx) }()
	testutil.WaitChildWatch(t, c0, "/db")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Enter after cancel: %v", err)
	}
	if st, err := c0.Exists(ctx, quitter.Node()); err != nil || st != nil {
		t.Fatalf("the cancelled participant's node is still there: %v %v", st, err)
	}
	testutil.AssertClean(t, srv, "/db", c0)
	// The quitter does not count: three others still all wait for each other.
	clients := []*keeper.Client{c0, testutil.Connect(t, srv, c0), testutil.Connect(t, srv, c0)}
	runDouble(t, ctx, clients, "/db")
	testutil.AssertClean(t, srv, "/db", clients...)
}

func TestDoubleBarrierLeaveCancelled(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c1 := testutil.Connect(t, srv, c0)
	a := barrier.NewDouble(c0, "/db", "a", 2)
	b := barrier.NewDouble(c1, "/db", "b", 2)
	var wg sync.WaitGroup
	for _, d := range []*barrier.DoubleBarrier{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Enter(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Leave(lctx) }()
	// a waits either for b's node (a is lowest) or for the lowest, b.
	testutil.WaitFor(t, 30*time.Second, "a to wait in Leave", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c0)) > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Leave after cancel: %v", err)
	}
	if err := b.Leave(ctx); err != nil {
		t.Fatalf("the other participant's Leave: %v", err)
	}
	testutil.AssertClean(t, srv, "/db", c0, c1)
}

func TestDoubleBarrierReentersAfterSessionLoss(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px := testutil.Proxied(t, srv)
	c1 := testutil.Connect(t, srv, c0)
	a := barrier.NewDouble(c0, "/db", "a", 2)
	done := make(chan error, 1)
	go func() { done <- a.Enter(ctx) }()
	testutil.WaitChildWatch(t, c0, "/db")
	old := c0.SessionID()
	testutil.Expire(t, ctx, c0, px)
	testutil.WaitFor(t, 30*time.Second, "a's node in the new session", func() bool {
		st, err := c1.Exists(ctx, a.Node())
		return err == nil && st != nil && st.EphemeralOwner != old && st.EphemeralOwner == c0.SessionID()
	})
	select {
	case err := <-done:
		t.Fatalf("Enter returned %v with one participant of two", err)
	default:
	}
	b := barrier.NewDouble(c1, "/db", "b", 2)
	if err := b.Enter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() { errs <- a.Leave(ctx) }()
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/db", c0, c1)
}

func TestDoubleBarrierEnterLostReply(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px, c := testutil.DirectAndProxied(t, srv)
	if err := c.EnsurePath(ctx, "/db"); err != nil {
		t.Fatal(err)
	}
	d := barrier.NewDouble(c, "/db", "me", 1)
	px.DropNextReply() // the reply to the member's create
	if err := d.Enter(ctx); err != nil {
		t.Fatal(err)
	}
	kids, err := c0.Children(ctx, "/db")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 2 {
		t.Fatalf("children %q, want our node and ready", kids)
	}
	if err := d.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/db", c0, c)
}

func TestDoubleBarrierWaitsForTheLast(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	const n = 4
	clients := []*keeper.Client{c0}
	var ds []*barrier.DoubleBarrier
	for i := range n {
		if i > 0 {
			clients = append(clients, testutil.Connect(t, srv, c0))
		}
		ds = append(ds, barrier.NewDouble(clients[i], "/db", fmt.Sprint(i), n))
	}
	entered := make(chan int, n)
	for i, d := range ds[:n-1] {
		go func() {
			if err := d.Enter(ctx); err != nil {
				t.Error(err)
			}
			entered <- i
		}()
	}
	// The first n-1 wait, each with a watch; none has passed.
	for i := range n - 1 {
		testutil.WaitChildWatch(t, clients[i], "/db")
	}
	select {
	case i := <-entered:
		t.Fatalf("participant %d passed Enter before the last one came", i)
	default:
	}
	if err := ds[n-1].Enter(ctx); err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		<-entered
	}

	// Leave: the first n-1 leave; each waits (with a data watch) for
	// another's node, and none returns while the last one is inside.
	left := make(chan error, n)
	for _, d := range ds[:n-1] {
		go func() { left <- d.Leave(ctx) }()
	}
	for i := range n - 1 {
		testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("participant %d to wait in Leave", i), func() bool {
			return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), clients[i])) > 0
		})
	}
	select {
	case err := <-left:
		t.Fatalf("Leave returned (%v) before the last participant left", err)
	default:
	}
	if err := ds[n-1].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		if err := <-left; err != nil {
			t.Fatal(err)
		}
	}
	testutil.AssertClean(t, srv, "/db", clients...)
}

// TestDoubleBarrierSlowEntrantPasses: a participant whose wake-up on
// "ready" arrives late (its connection stalled while the last participant
// raised ready, passed and began to leave) still passes Enter. When Leave
// deleted ready first, as Kazoo does, the late one found no ready and too
// few members, and waited forever; so did the leaver, waiting for its node.
func TestDoubleBarrierSlowEntrantPasses(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px := testutil.Proxied(t, srv)
	c1 := testutil.Connect(t, srv, c0)
	a := barrier.NewDouble(c0, "/db", "a", 2)
	// The leaver must not be the lowest member: the lowest keeps its node
	// until the others have gone, and the late one would count it.
	b := barrier.NewDouble(c1, "/db", "b", 2)
	for path.Base(b.Node()) < path.Base(a.Node()) {
		b = barrier.NewDouble(c1, "/db", "b", 2)
	}
	entered := make(chan error, 1)
	go func() { entered <- a.Enter(ctx) }()
	testutil.WaitChildWatch(t, c0, "/db")
	px.Pause() // a's wake-up waits in the proxy
	// Resume is a no-op once resumed: the deferred one ends the pause only
	// if the test stops early.
	defer px.Resume()
	if err := b.Enter(ctx); err != nil {
		t.Fatal(err)
	}
	left := make(chan error, 1)
	go func() { left <- b.Leave(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "b to leave its node", func() bool {
		st, err := c1.Exists(ctx, b.Node())
		return err == nil && st == nil
	})
	px.Resume()
	select {
	case err := <-entered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the late participant is still in Enter 30s after its wake-up")
	}
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-left; err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/db", c0, c1)
}
