package election_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/election"
	"github.com/keeper-go/keeper/zktest"
)

var curatorMutexName = regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-\d{10}$`)

// TestSelectorLayoutAndParticipants: a selector's node is Curator's mutex
// node holding the id; Participants lists ids in order, the leader first;
// without AutoRequeue it leads once, and again after Requeue.
func TestSelectorLayoutAndParticipants(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	release := make(chan struct{})
	leading := make(chan string, 4)
	lead := func(id string) func(context.Context) {
		return func(ctx context.Context) {
			leading <- id
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}
	a := election.NewLeaderSelector(c, "/sel", "a", lead("a"))
	b := election.NewLeaderSelector(testutil.Connect(t, srv, c), "/sel", "b", lead("b"))
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if got := <-leading; got != "a" {
		t.Fatalf("%s leads first", got)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "b to queue", func() bool {
		ps, err := a.Participants(ctx)
		return err == nil && slices.Equal(ps, []election.Participant{{ID: "a", Leader: true}, {ID: "b"}})
	})
	kids, err := c.Children(ctx, "/sel")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if !curatorMutexName.MatchString(k) {
			t.Fatalf("node %q is not Curator's mutex node", k)
		}
	}
	if !a.HasLeadership() || b.HasLeadership() || a.Token() == 0 || b.Token() != 0 {
		t.Fatalf("leadership a=%v b=%v, tokens %d %d", a.HasLeadership(), b.HasLeadership(), a.Token(), b.Token())
	}
	if p, ok, err := b.Leader(ctx); err != nil || !ok || p.ID != "a" {
		t.Fatalf("Leader = %v, %v, %v", p, ok, err)
	}
	if !a.Requeue() || a.Requeue() {
		t.Fatal("Requeue while leading: the first must be taken, the second refused")
	}
	close(release)
	if got := <-leading; got != "b" {
		t.Fatalf("%s leads second", got)
	}
	// a asked to requeue while it led: it leads once more after b.
	if got := <-leading; got != "a" {
		t.Fatalf("%s leads third", got)
	}
	testutil.WaitFor(t, 30*time.Second, "nobody contending", func() bool {
		ps, err := a.Participants(ctx)
		return err == nil && len(ps) == 0
	})
	if a.Terms() != 2 || b.Terms() != 1 {
		t.Fatalf("terms a=%d b=%d", a.Terms(), b.Terms())
	}
	for _, s := range []*election.LeaderSelector{a, b} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	testutil.AssertClean(t, srv, "/sel", c)
}

// TestSelectorInterruptAndClose: InterruptLeadership and Close cancel the
// leader's ctx with their causes; with AutoRequeue the selector leads
// again after an interruption.
func TestSelectorInterruptAndClose(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	causes := make(chan error, 4)
	s := election.NewLeaderSelector(c, "/sel", "a", func(ctx context.Context) {
		<-ctx.Done()
		causes <- context.Cause(ctx)
	}, election.AutoRequeue())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "leadership", s.HasLeadership)
	s.InterruptLeadership()
	if err := <-causes; !errors.Is(err, election.ErrInterrupted) {
		t.Fatalf("cause %v", err)
	}
	testutil.WaitFor(t, 30*time.Second, "leadership again", func() bool { return s.Terms() == 2 && s.HasLeadership() })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-causes; !errors.Is(err, election.ErrClosed) {
		t.Fatalf("cause %v", err)
	}
	if s.HasLeadership() || s.Start() == nil || s.Requeue() {
		t.Fatal("a closed selector still leads or starts")
	}
	testutil.AssertClean(t, srv, "/sel", c)
}

// TestSelectorSessionLoss: a leader whose session expires sees its ctx
// cancelled with ErrLost; its guarded write is refused; with AutoRequeue it
// leads again in the new session.
func TestSelectorSessionLoss(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	causes := make(chan error, 4)
	var sel *election.LeaderSelector
	sel = election.NewLeaderSelector(c, "/sel", "a", func(ctx context.Context) {
		<-ctx.Done()
		// Leadership is gone: a guarded write must be refused.
		_, err := sel.Guard(c.Txn()).Create("/stale", nil).Commit(context.Background())
		causes <- fmt.Errorf("%w (write: %w)", context.Cause(ctx), err)
	}, election.AutoRequeue())
	if err := sel.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "leadership", sel.HasLeadership)
	first := sel.Token()
	testutil.Expire(t, ctx, c, px)
	err := <-causes
	if !errors.Is(err, election.ErrLost) || !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("cause %v, want ErrLost and a refused write", err)
	}
	testutil.WaitFor(t, 30*time.Second, "leadership in the new session", func() bool { return sel.HasLeadership() && sel.Terms() == 2 })
	if sel.Token() <= first {
		t.Fatalf("token %d after %d", sel.Token(), first)
	}
	if st, err := c.Exists(ctx, "/stale"); err != nil || st != nil {
		t.Fatalf("stale write applied: %v, %v", st, err)
	}
	if err := sel.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/sel", c)
}

// TestSelectorSuspendPolicy: a disconnect shorter than the session
// timeout ends the term with StopOnSuspend, and not without it (then
// Verified tells the leader it still leads).
func TestSelectorSuspendPolicy(t *testing.T) {
	t.Parallel()
	for _, stop := range []bool{false, true} {
		t.Run(fmt.Sprint("StopOnSuspend=", stop), func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c, px := testutil.Proxied(t, srv, keeper.WithSessionTimeout(8*time.Second))
			opts := []election.Option{}
			if stop {
				opts = append(opts, election.StopOnSuspend())
			}
			ended := make(chan error, 1)
			sel := election.NewLeaderSelector(c, "/sel", "a", func(ctx context.Context) {
				<-ctx.Done()
				ended <- context.Cause(ctx)
			}, opts...)
			if err := sel.Start(); err != nil {
				t.Fatal(err)
			}
			testutil.WaitFor(t, 30*time.Second, "leadership", sel.HasLeadership)
			susp := sel.Suspended()
			px.Drop()
			<-susp
			if stop {
				if err := <-ended; !errors.Is(err, election.ErrLost) {
					t.Fatalf("cause %v", err)
				}
			} else {
				select {
				case <-sel.Verified():
				case <-ctx.Done():
					t.Fatal("leadership not verified after the reconnect")
				}
				if !sel.HasLeadership() {
					t.Fatal("leadership ended by a blip")
				}
				select {
				case err := <-ended:
					t.Fatalf("term ended by a blip: %v", err)
				default:
				}
			}
			if err := sel.Close(); err != nil {
				t.Fatal(err)
			}
			testutil.AssertClean(t, srv, "/sel", c)
		})
	}
}

// TestSelectorOneLeaderAutoRequeue: 3 clients, each with an AutoRequeue
// selector, take 100 terms each. Without faults no two leader functions
// ever overlap. Then faults (a reply dropped, a pause shorter than the
// session timeout, one longer) while every term writes two guarded entries
// to a log: the server's log never has an older term's entry after a newer
// term's (a stale leader's writes are refused).
func TestSelectorOneLeaderAutoRequeue(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	const timeout = 3 * time.Second
	base := srv.Client(t)
	if _, err := base.Create(ctx, "/log", nil); err != nil {
		t.Fatal(err)
	}
	var x exclusive
	var faulty atomic.Bool
	var refused atomic.Int32
	var sels []*election.LeaderSelector
	var proxies []*zktest.Proxy
	for i := range 3 {
		px, err := zktest.NewProxy(srv.Addr(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { px.Close() })
		proxies = append(proxies, px)
		c := testutil.ConnectVia(t, px.Addr(), base, keeper.WithSessionTimeout(timeout))
		var s *election.LeaderSelector
		s = election.NewLeaderSelector(c, "/sel", fmt.Sprintf("c%d", i), func(ctx context.Context) {
			if !faulty.Load() {
				x.enter()
				defer x.exit()
			}
			tok := []byte(fmt.Sprintf("%020d", s.Token()))
			for range 2 {
				_, err := s.Guard(c.Txn()).Create("/log/e-", tok, keeper.Sequential()).Commit(ctx)
				if errors.Is(err, keeper.ErrNoNode) {
					refused.Add(1)
				}
			}
			if faulty.Load() {
				// Terms long enough for a fault to hit a leader.
				tm := time.NewTimer(50 * time.Millisecond)
				select {
				case <-tm.C:
				case <-ctx.Done():
				}
				tm.Stop()
			}
			if ctx.Err() != nil {
				// A leader that does not heed its ctx writes once more
				// (until the server answers): applied while its node is
				// still there (and so in order), refused once it is gone.
				wctx, cancel := context.WithTimeout(context.Background(), 4*timeout)
				defer cancel()
				for {
					_, err := s.Guard(c.Txn()).Create("/log/e-", tok, keeper.Sequential()).Commit(wctx)
					if errors.Is(err, keeper.ErrNoNode) {
						refused.Add(1)
					}
					if wctx.Err() != nil || !errors.Is(err, keeper.ErrSessionExpired) && !errors.Is(err, keeper.ErrConnectionLoss) {
						break
					}
				}
			}
		}, election.AutoRequeue(), election.StopOnSuspend())
		sels = append(sels, s)
	}
	for _, s := range sels {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
	}
	terms := func() (n int64) {
		for _, s := range sels {
			n += s.Terms()
		}
		return n
	}
	testutil.WaitFor(t, 60*time.Second, "150 terms", func() bool { return terms() >= 150 })
	faulty.Store(true)
	leaderProxy := func() *zktest.Proxy {
		for i, s := range sels {
			if s.HasLeadership() {
				return proxies[i]
			}
		}
		return proxies[0]
	}
	progress := func(what string) {
		from := terms()
		testutil.WaitFor(t, 60*time.Second, "terms after "+what, func() bool { return terms() >= from+5 })
	}
	leaderProxy().DropNextReply()
	progress("a dropped reply")
	hold := func(d time.Duration) {
		tm := time.NewTimer(d)
		defer tm.Stop()
		<-tm.C
	}
	px := leaderProxy()
	px.Pause()
	hold(timeout / 4) // short of a disconnect
	px.Resume()
	progress("a short pause")
	px = leaderProxy()
	px.Pause()
	hold(timeout * 3 / 2) // the session expires; the others lead meanwhile
	px.Resume()
	progress("the leader cut off past its session timeout")
	testutil.WaitFor(t, 60*time.Second, "100 terms each", func() bool {
		for _, s := range sels {
			if s.Terms() < 100 {
				return false
			}
		}
		return true
	})
	for _, s := range sels {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := x.breaches.Load(); n != 0 {
		t.Errorf("%d times two leaders ran at once", n)
	}
	kids, err := base.Children(ctx, "/log")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kids)
	last := ""
	for _, k := range kids {
		data, _, err := base.Get(ctx, path.Join("/log", k))
		if err != nil {
			t.Fatal(err)
		}
		if string(data) < last {
			t.Fatalf("log entry %s of term %s after one of term %s", k, data, last)
		}
		last = string(data)
	}
	t.Logf("%d terms, %d log entries, %d stale writes refused", terms(), len(kids), refused.Load())
	testutil.AssertClean(t, srv, "/sel", base)
}

// TestSelectorEnsembleMemberKilled: 3 AutoRequeue selectors on a
// 3-member ensemble keep taking turns while the ensemble's leader and then
// a follower are killed and restarted: no two leader functions overlap,
// and the guarded log stays in term order.
func TestSelectorEnsembleMemberKilled(t *testing.T) {
	t.Parallel()
	zk := zktest.Start(t, zktest.Nodes(3))
	ctx := testutil.Ctx(t, 0)
	base := zk.Client(t)
	if _, err := base.Create(ctx, "/log", nil); err != nil {
		t.Fatal(err)
	}
	var x exclusive
	var sels []*election.LeaderSelector
	for i := range 3 {
		c := testutil.Connect(t, zk, base, keeper.WithSessionTimeout(4*time.Second))
		var s *election.LeaderSelector
		s = election.NewLeaderSelector(c, "/sel", fmt.Sprintf("c%d", i), func(ctx context.Context) {
			x.enter()
			defer x.exit()
			tok := []byte(fmt.Sprintf("%020d", s.Token()))
			_, _ = s.Guard(c.Txn()).Create("/log/e-", tok, keeper.Sequential()).Commit(ctx)
			tm := time.NewTimer(10 * time.Millisecond)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-ctx.Done():
			}
		}, election.AutoRequeue(), election.StopOnSuspend())
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		sels = append(sels, s)
	}
	terms := func() (n int64) {
		for _, s := range sels {
			n += s.Terms()
		}
		return n
	}
	progress := func(what string) {
		t.Helper()
		from := terms()
		testutil.WaitFor(t, 90*time.Second, "terms after "+what, func() bool { return terms() >= from+10 })
	}
	progress("start")
	leader := zk.Leader()
	if leader < 0 {
		t.Fatal("no ensemble leader")
	}
	if err := zk.Kill(leader); err != nil {
		t.Fatal(err)
	}
	progress("killing the ensemble's leader")
	if err := zk.Restart(leader); err != nil {
		t.Fatal(err)
	}
	follower := (zk.Leader() + 1) % zk.Len()
	if err := zk.Kill(follower); err != nil {
		t.Fatal(err)
	}
	progress("killing a follower")
	if err := zk.Restart(follower); err != nil {
		t.Fatal(err)
	}
	progress("restarting it")
	for _, s := range sels {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := x.breaches.Load(); n != 0 {
		t.Errorf("%d times two leaders ran at once", n)
	}
	kids, err := base.Children(ctx, "/log")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kids)
	last := ""
	for _, k := range kids {
		data, _, err := base.Get(ctx, path.Join("/log", k))
		if err != nil {
			t.Fatal(err)
		}
		if string(data) < last {
			t.Fatalf("log entry %s of term %s after one of term %s", k, data, last)
		}
		last = string(data)
	}
	t.Logf("%d terms, %d log entries", terms(), len(kids))
	testutil.AssertClean(t, zk, "/sel", base)
}
