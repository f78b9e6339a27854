package election_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/election"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/zktest"
)

// exclusive counts the functions running as leader and records a breach
// of mutual exclusion.
type exclusive struct {
	running  atomic.Int32
	breaches atomic.Int32
	terms    atomic.Int32
}

func (x *exclusive) enter() {
	if x.running.Add(1) != 1 {
		x.breaches.Add(1)
	}
	x.terms.Add(1)
}

func (x *exclusive) exit() { x.running.Add(-1) }

func TestElectionOneLeaderAtATime(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	clients := []*keeper.Client{c0, testutil.Connect(t, srv, c0), testutil.Connect(t, srv, c0)}
	var x exclusive
	var order []string
	var mu sync.Mutex
	errs := make(chan error, 5)
	for i := range 5 {
		id := fmt.Sprintf("c%d", i)
		e := election.New(clients[i%3], "/elect", id)
		go func() {
			errs <- e.Run(ctx, func(ctx context.Context) error {
				x.enter()
				defer x.exit()
				mu.Lock()
				order = append(order, id)
				mu.Unlock()
				// Lead for a moment, letting the others queue.
				t := time.NewTimer(20 * time.Millisecond)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
					return ctx.Err()
				}
				return nil
			})
		}()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := x.breaches.Load(); n != 0 {
		t.Errorf("%d times two leaders ran at once", n)
	}
	slices.Sort(order)
	if !slices.Equal(order, []string{"c0", "c1", "c2", "c3", "c4"}) {
		t.Errorf("leaders %q, want each contender once", order)
	}
	testutil.AssertClean(t, srv, "/elect", clients...)
}

func TestElectionLayoutAndContenders(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c1 := testutil.Connect(t, srv, c0)
	leader := election.New(c0, "/elect", "first")
	waiter := election.New(c1, "/elect", "second")
	leading := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 2)
	go func() {
		done <- leader.Run(ctx, func(ctx context.Context) error {
			close(leading)
			<-release
			return nil
		})
	}()
	<-leading
	ran := make(chan struct{})
	go func() {
		done <- waiter.Run(ctx, func(ctx context.Context) error { close(ran); return nil })
	}()
	testutil.WaitFor(t, 30*time.Second, "two contenders", func() bool {
		ids, err := leader.Contenders(ctx)
		return err == nil && slices.Equal(ids, []string{"first", "second"})
	})
	kids, err := c0.Children(ctx, "/elect")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^[0-9a-f]{32}__lock__[0-9]{10}$`)
	for _, k := range kids {
		if !re.MatchString(k) {
			t.Errorf("node %q is not <uuid hex>__lock__<seq>", k)
		}
	}
	select {
	case <-ran:
		t.Fatal("the second contender ran while the first led")
	default:
	}
	close(release)
	<-ran
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := waiter.Contenders(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("contenders after both ran: %q %v", ids, err)
	}
	if ids, err := election.New(c0, "/none", "").Contenders(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("contenders of a missing path: %q %v", ids, err)
	}
	testutil.AssertClean(t, srv, "/elect", c0, c1)
}

func TestElectionCancel(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c1 := testutil.Connect(t, srv, c0)
	a := election.New(c0, "/elect", "a")
	b := election.New(c1, "/elect", "b")
	leading := make(chan struct{})
	aDone := make(chan error, 1)
	var cause error
	go func() {
		aDone <- a.Run(ctx, func(ctx context.Context) error {
			close(leading)
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		})
	}()
	<-leading
	bDone := make(chan error, 1)
	go func() { bDone <- b.Run(ctx, func(context.Context) error { return errors.New("must not run") }) }()
	testutil.WaitFor(t, 30*time.Second, "b waiting with a watch", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c1)) > 0 })
	b.Cancel()
	if err := <-bDone; !errors.Is(err, election.ErrCancelled) {
		t.Fatalf("waiting Run after Cancel: %v", err)
	}
	b.Cancel() // no Run: no effect

	// Cancel reaches a running leader too; leadership passes on.
	ran := make(chan struct{})
	go func() { bDone <- b.Run(ctx, func(context.Context) error { close(ran); return nil }) }()
	testutil.WaitFor(t, 30*time.Second, "b queued", func() bool {
		ids, _ := a.Contenders(ctx)
		return len(ids) == 2
	})
	a.Cancel()
	if err := <-aDone; !errors.Is(err, context.Canceled) || !errors.Is(cause, election.ErrCancelled) {
		t.Fatalf("cancelled leader: Run %v, cause %v", err, cause)
	}
	<-ran
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/elect", c0, c1)
}

func TestElectionRunCtxCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c1 := testutil.Connect(t, srv, c0)
	leading := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- election.New(c0, "/elect", "a").Run(ctx, func(context.Context) error {
			close(leading)
			<-release
			return nil
		})
	}()
	<-leading
	wctx, cancel := context.WithCancel(ctx)
	wDone := make(chan error, 1)
	go func() {
		wDone <- election.New(c1, "/elect", "b").Run(wctx, func(context.Context) error { return errors.New("must not run") })
	}()
	testutil.WaitFor(t, 30*time.Second, "b waiting with a watch", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c1)) > 0 })
	cancel()
	if err := <-wDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after its ctx ended: %v", err)
	}
	// b's node and watch are gone while a still leads.
	testutil.WaitFor(t, 30*time.Second, "b's node and watch gone", func() bool {
		kids, err := c0.Children(ctx, "/elect")
		return err == nil && len(kids) == 1 && len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c1)) == 0
	})
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/elect", c0, c1)
}

func TestElectionLeaderSessionExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px := testutil.Proxied(t, srv)
	c1 := testutil.Connect(t, srv, c0)
	leading := make(chan struct{})
	var cause error
	aDone := make(chan error, 1)
	go func() {
		aDone <- election.New(c0, "/elect", "a").Run(ctx, func(ctx context.Context) error {
			close(leading)
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		})
	}()
	<-leading
	bLeads := make(chan struct{})
	bDone := make(chan error, 1)
	go func() {
		bDone <- election.New(c1, "/elect", "b").Run(ctx, func(context.Context) error { close(bLeads); return nil })
	}()
	testutil.WaitFor(t, 30*time.Second, "b queued", func() bool {
		kids, _ := c1.Children(ctx, "/elect")
		return len(kids) == 2
	})
	testutil.Expire(t, ctx, c0, px)
	err := <-aDone
	if !errors.Is(err, election.ErrLost) || !errors.Is(err, keeper.ErrSessionExpired) {
		t.Fatalf("Run of the expired leader: %v", err)
	}
	if !errors.Is(cause, election.ErrLost) {
		t.Fatalf("the expired leader's ctx cause: %v", cause)
	}
	<-bLeads
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/elect", c0, c1)
}

func TestElectionLeaderNodeDeleted(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	leading := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- election.New(c, "/elect", "a").Run(ctx, func(ctx context.Context) error {
			close(leading)
			<-ctx.Done()
			return nil
		})
	}()
	<-leading
	kids, err := c.Children(ctx, "/elect")
	if err != nil || len(kids) != 1 {
		t.Fatalf("children %q %v", kids, err)
	}
	if err := c.Delete(ctx, "/elect/"+kids[0], -1); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, election.ErrLost) || !errors.Is(err, node.ErrGone) {
		t.Fatalf("Run after its node was deleted: %v", err)
	}
	testutil.AssertClean(t, srv, "/elect", c)
}

func TestElectionFnError(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	e := election.New(c, "/elect", "a")
	boom := errors.New("boom")
	if err := e.Run(ctx, func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want fn's error", err)
	}
	if err := e.Run(ctx, nil); err == nil {
		t.Fatal("Run(nil) succeeded")
	}
	// The same Election runs again.
	if err := e.Run(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/elect", c)
}

// dropCreateReply arms px to lose the reply to the next create request
// whose path contains marker, as a connection lost right after the server
// applied it.
func dropCreateReply(px *zktest.Proxy, marker string) *atomic.Bool {
	var armed atomic.Bool
	px.Tap(func(fromServer bool, frame []byte) {
		if fromServer || len(frame) < 12 {
			return
		}
		op := int32(binary.BigEndian.Uint32(frame[4:]))
		if op != 1 && op != 15 { // create, create2
			return
		}
		n := int(binary.BigEndian.Uint32(frame[8:]))
		if n < 0 || 12+n > len(frame) || !strings.Contains(string(frame[12:12+n]), marker) {
			return
		}
		if armed.CompareAndSwap(false, true) {
			px.DropNextReply()
		}
	})
	return &armed
}

func TestElectionCreateReplyLost(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px, c := testutil.DirectAndProxied(t, srv)
	dropped := dropCreateReply(px, "__lock__")
	err := election.New(c, "/elect", "a").Run(ctx, func(context.Context) error {
		kids, err := c0.Children(ctx, "/elect")
		if err != nil {
			return err
		}
		if len(kids) != 1 {
			return fmt.Errorf("children %q after a lost create reply, want one node", kids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !dropped.Load() {
		t.Fatal("no create reply was dropped")
	}
	px.Tap(nil)
	testutil.AssertClean(t, srv, "/elect", c0, c)
}

func TestElectionSuspendPolicies(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px, c := testutil.DirectAndProxied(t, srv)

	// Default: a disconnect within the session does not end leadership.
	var suspends atomic.Int32
	stop := c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Suspended {
			suspends.Add(1)
		}
	})
	defer stop()
	leading := make(chan struct{})
	release := make(chan struct{})
	var kept error
	done := make(chan error, 1)
	go func() {
		done <- election.New(c, "/elect", "a").Run(ctx, func(ctx context.Context) error {
			close(leading)
			<-release
			kept = ctx.Err()
			return nil
		})
	}()
	<-leading
	sid := c.SessionID()
	px.Drop()
	testutil.WaitFor(t, 30*time.Second, "a reconnect after the drop", func() bool {
		return suspends.Load() > 0 && c.State() == keeper.Connected
	})
	if err := c.Sync(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if c.SessionID() != sid {
		t.Fatal("the session changed on a mere drop")
	}
	close(release)
	if err := <-done; err != nil || kept != nil {
		t.Fatalf("leader after a disconnect: Run %v, ctx %v; want leadership kept", err, kept)
	}

	// StopOnSuspend: the same disconnect ends leadership.
	leading = make(chan struct{})
	var cause error
	go func() {
		done <- election.New(c, "/elect", "b", election.StopOnSuspend()).Run(ctx, func(ctx context.Context) error {
			close(leading)
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		})
	}()
	<-leading
	px.Drop()
	if err := <-done; !errors.Is(err, election.ErrLost) || !errors.Is(cause, election.ErrLost) {
		t.Fatalf("StopOnSuspend leader after a disconnect: Run %v, cause %v", err, cause)
	}
	testutil.AssertClean(t, srv, "/elect", c0, c)
}
