package keeper_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/hostile"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// stateLog records a client's state events.
type stateLog struct {
	mu  sync.Mutex
	evs []keeper.StateEvent
}

func listen(c *keeper.Client) *stateLog {
	l := &stateLog{}
	c.Listen(func(ev keeper.StateEvent) {
		l.mu.Lock()
		l.evs = append(l.evs, ev)
		l.mu.Unlock()
	})
	return l
}

// has reports whether an event with state s was seen, and returns the
// first such one.
func (l *stateLog) has(s keeper.State) (keeper.StateEvent, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.evs {
		if ev.State == s {
			return ev, true
		}
	}
	return keeper.StateEvent{}, false
}

func (l *stateLog) states() []keeper.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []keeper.State
	for _, ev := range l.evs {
		out = append(out, ev.State)
	}
	return out
}

// proxied returns a client that reaches the shared server through a fault
// proxy, on a fresh chroot.
func proxied(t *testing.T, opts ...keeper.Option) (*keeper.Client, *zktest.Proxy, *keeper.Client) {
	t.Helper()
	admin := srv.Client(t)
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := keeper.Connect(ctxT(t), p.Addr()+admin.Chroot(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, p, admin
}

func TestSessionExpiryForced(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t, keeper.WithSessionTimeout(4*time.Second))
	log := listen(c)
	if _, err := c.Create(ctx, "/eph", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	_, _, watch, err := c.GetW(ctx, "/eph")
	if err != nil {
		t.Fatal(err)
	}
	old := c.SessionID()
	if err := zktest.ExpireSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "Lost then Connected on a new session", func() bool {
		return c.State() == keeper.Connected && c.SessionID() != old && c.SessionID() != 0
	})
	lost, ok := log.has(keeper.Lost)
	if !ok || !errors.Is(lost.Err, keeper.ErrSessionExpired) || lost.SessionID != old {
		t.Fatalf("Lost event = %+v (seen %v); states %v", lost, ok, log.states())
	}
	// The watch on the old session ends with an event that says so. The
	// node's deletion may fire it first: both are a single event.
	ev := <-watch
	if ev.Type != keeper.EventNodeDeleted && !(ev.Type == keeper.EventNotWatching && errors.Is(ev.Err, keeper.ErrSessionExpired)) {
		t.Fatalf("watch event after expiry = %+v", ev)
	}
	if _, ok := <-watch; ok {
		t.Fatal("one-shot watch channel not closed")
	}
	if st, err := c.Exists(ctx, "/eph"); st != nil || err != nil {
		t.Fatalf("old ephemeral still there: %v %v", st, err)
	}
	if _, err := c.Create(ctx, "/eph", nil, keeper.Ephemeral()); err != nil {
		t.Fatalf("new session cannot write: %v", err)
	}
}

func TestPresumedExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	const timeout = 2 * time.Second
	c, p, admin := proxied(t, keeper.WithSessionTimeout(timeout))
	log := listen(c)
	if _, err := c.Create(ctx, "/eph", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	old, pw := c.Session()
	p.Pause()
	start := time.Now()
	// Keep the old session alive on the server from a second connection,
	// so that only the client's own presumption can end it.
	// keep reconnects slowly, as a real stale holder would not race us.
	var dials atomic.Int32
	slow := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) > 1 {
			select {
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	keep, err := keeper.Connect(ctx, srv.Servers(), keeper.WithSession(old, pw), keeper.WithNoAutoResession(),
		keeper.WithDialer(slow), keeper.WithServerVersion("3.8.0"))
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	keepLog := listen(keep)
	waitFor(t, 20*time.Second, "Lost", func() bool { _, ok := log.has(keeper.Lost); return ok })
	lostAfter := time.Since(start)
	lost, _ := log.has(keeper.Lost)
	if !errors.Is(lost.Err, keeper.ErrSessionPresumedExpired) || !errors.Is(lost.Err, keeper.ErrSessionExpired) {
		t.Fatalf("Lost error = %v", lost.Err)
	}
	t.Logf("Lost %v after the cut, session timeout %v", lostAfter, timeout)
	// The server still holds the session (keep pings it): the node is there.
	if st, _ := admin.Exists(ctx, "/eph"); st == nil {
		t.Fatal("session ended on the server before the client presumed it")
	}
	p.Resume()
	waitFor(t, 20*time.Second, "a new session", func() bool {
		return c.State() == keeper.Connected && c.SessionID() != old
	})
	// The client closes the old session itself: keep, which held it alive,
	// learns from the server that it is gone, and the ephemeral vanishes.
	waitFor(t, 20*time.Second, "the old session's ephemeral to vanish", func() bool {
		st, err := admin.Exists(ctx, "/eph")
		return err == nil && st == nil
	})
	waitFor(t, 20*time.Second, "the old session to be reported expired to its other holder", func() bool {
		ev, ok := keepLog.has(keeper.Lost)
		return ok && errors.Is(ev.Err, keeper.ErrSessionExpired)
	})
}

func TestSuspendedRequestCompletes(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, _ := proxied(t, keeper.WithSessionTimeout(10*time.Second))
	log := listen(c)
	if _, err := c.Create(ctx, "/n", []byte("v"), keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()
	// Stop new connections from reaching the server, then drop the live one.
	p.Pause()
	p.Drop()
	waitFor(t, 10*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	// A call made while Suspended waits for the reconnect and succeeds.
	done := make(chan error, 1)
	go func() {
		_, err := c.Set(ctx, "/n", []byte("w"), keeper.AnyVersion)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Set returned while suspended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	p.Resume()
	if err := <-done; err != nil {
		t.Fatalf("Set after reconnect: %v", err)
	}
	if c.SessionID() != sid {
		t.Fatal("session changed across a short disconnect")
	}
	if d, _, err := c.Get(ctx, "/n"); err != nil || string(d) != "w" {
		t.Fatalf("ephemeral after reconnect: %q %v", d, err)
	}
	if _, ok := log.has(keeper.Suspended); !ok {
		t.Fatalf("no Suspended event: %v", log.states())
	}
}

func TestInflightRequestFailsOnDrop(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, admin := proxied(t)
	// The reply to the next write is lost: the caller must learn that the
	// outcome is unknown (ErrConnectionLoss), not that it failed.
	p.DropNextReply()
	_, err := c.Create(ctx, "/maybe", nil)
	if !errors.Is(err, keeper.ErrConnectionLoss) || keeper.SafeToRetry(err) {
		t.Fatalf("Create with lost reply = %v (safe %v)", err, keeper.SafeToRetry(err))
	}
	// It was in fact applied.
	if st, _ := admin.Exists(ctx, "/maybe"); st == nil {
		t.Fatal("the create was not applied")
	}
	// Reads are retried on connection loss.
	p.DropNextReply()
	if _, _, err := c.Get(ctx, "/maybe"); err != nil {
		t.Fatalf("Get with a lost reply was not retried: %v", err)
	}
}

func TestCancelWhileSuspended(t *testing.T) {
	t.Parallel()
	c, p, _ := proxied(t)
	p.Pause()
	p.Drop()
	waitFor(t, 10*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Create(ctx, "/never", nil)
	if !errors.Is(err, context.DeadlineExceeded) || !keeper.SafeToRetry(err) {
		t.Fatalf("Create while suspended = %v (safe %v)", err, keeper.SafeToRetry(err))
	}
	p.Resume()
	if _, err := c.Exists(ctxT(t), "/never"); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Exists(ctxT(t), "/never"); st != nil {
		t.Fatal("a call cancelled before it was sent was sent after all")
	}
}

func TestQueuedRequestsFailOnExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, admin := proxied(t, keeper.WithSessionTimeout(2*time.Second))
	p.Pause()
	p.Drop()
	waitFor(t, 10*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	done := make(chan error, 1)
	go func() {
		_, err := c.Create(ctx, "/queued", nil)
		done <- err
	}()
	err := <-done // fails at the presumed expiry, never sent
	var ke *keeper.Error
	if !errors.Is(err, keeper.ErrSessionExpired) || !errors.Is(err, keeper.ErrSessionPresumedExpired) ||
		!errors.As(err, &ke) || ke.Op != "create" || !keeper.SafeToRetry(err) {
		t.Fatalf("queued Create = %v (safe %v)", err, keeper.SafeToRetry(err))
	}
	p.Resume()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := admin.Exists(ctx, "/queued"); st != nil {
		t.Fatal("a request queued for the lost session was replayed on the new one")
	}
}

func TestServerRestartKeepsSession(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	// A restart on a loaded machine can take several seconds: a session
	// timeout of 30s leaves it room (the client presumes expiry at 27s).
	cl := zktest.Start(t, zktest.Config("maxSessionTimeout", "30000"))
	c, err := keeper.Connect(ctx, cl.Servers(), keeper.WithSessionTimeout(30*time.Second), testutil.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create(ctx, "/eph", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()
	if err := cl.Restart(0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/eph", []byte("x"), -1); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if c.SessionID() != sid {
		t.Fatal("session changed across a restart within the timeout")
	}
}

// TestSilentServerKeepsSession: a reconnect that reaches a server which
// accepts the connection and never answers the handshake gives up on it
// after a third of the session timeout and tries again, so that with a
// single host the session survives: a connect attempt bounded by the whole
// session timeout (as the Java client's, with one host) would wait until
// the session was presumed expired.
func TestSilentServerKeepsSession(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, _ := proxied(t, keeper.WithSessionTimeout(6*time.Second), testutil.Logger(t))
	log := listen(c)
	if _, err := c.Create(ctx, "/eph", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()

	silent := hostile.Start(t, func(c *hostile.Conn, n int) { c.Stall() }) // accepts, never answers
	real := p.Target()
	p.SetTarget(silent.Addr())
	p.Drop()
	waitFor(t, 10*time.Second, "a connection to the silent server", func() bool { return silent.Accepted() > 0 })
	p.SetTarget(real)
	if _, err := c.Set(ctx, "/eph", []byte("x"), -1); err != nil {
		t.Fatalf("after the silent server: %v (states %v)", err, log.states())
	}
	if c.SessionID() != sid {
		t.Fatalf("session 0x%x replaced by 0x%x", sid, c.SessionID())
	}
	if ev, ok := log.has(keeper.Lost); ok {
		t.Fatalf("session lost: %v", ev.Err)
	}
}

func TestEnsembleFailover(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	cl := zktest.Start(t, zktest.Nodes(3))
	c, err := keeper.Connect(ctx, cl.Servers(), keeper.WithSessionTimeout(6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log := listen(c)
	if _, err := c.Create(ctx, "/eph", []byte("x"), keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()
	victim := -1
	for i := 0; i < cl.Len(); i++ {
		if cl.Addr(i) == c.Server() {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("connected to %q, not a member", c.Server())
	}
	if err := cl.Kill(victim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "Suspended", func() bool { _, ok := log.has(keeper.Suspended); return ok })
	// Issued while Suspended (or already reconnected): completes without error.
	if _, err := c.Set(ctx, "/eph", []byte("y"), keeper.AnyVersion); err != nil {
		t.Fatalf("Set during failover: %v", err)
	}
	waitFor(t, 30*time.Second, "reconnect to another member", func() bool {
		return c.State() == keeper.Connected && c.Server() != cl.Addr(victim)
	})
	if _, err := c.Set(ctx, "/eph", []byte("z"), keeper.AnyVersion); err != nil {
		t.Fatalf("Set after failover: %v", err)
	}
	if c.SessionID() != sid {
		t.Fatal("session changed on failover")
	}
	if d, _, err := c.Get(ctx, "/eph"); err != nil || string(d) != "z" {
		t.Fatalf("ephemeral after failover: %q %v", d, err)
	}
	if _, ok := log.has(keeper.Suspended); !ok {
		t.Fatalf("no Suspended event: %v", log.states())
	}
}

// TestSkipsServerBehindUs: a server whose last zxid is behind the client's
// closes the connection without a reply (ZooKeeper's single system image);
// the client must treat that as one failed attempt, not attach there, and
// resume its session as soon as a server that is up to date answers.
func TestSkipsServerBehindUs(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	behind := zktest.Start(t) // a fresh server: its zxid is far behind srv's
	c, p, _ := proxied(t, keeper.WithSessionTimeout(10*time.Second))
	log := listen(c)
	// Move the client's last zxid well past anything the fresh server has.
	for i := 0; i < 50; i++ {
		if _, err := c.Create(ctx, "/z-", nil, keeper.Sequential()); err != nil {
			t.Fatal(err)
		}
	}
	sid := c.SessionID()
	p.SetTarget(behind.Addr(0))
	p.Drop()
	waitFor(t, 10*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	// Let it try the stale server a few times.
	waitFor(t, 10*time.Second, "a few refused attempts", func() bool {
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		return errors.Is(c.WaitConnected(ctx), context.DeadlineExceeded)
	})
	if c.State() != keeper.Suspended || c.SessionID() != sid {
		t.Fatalf("attached to a server behind us: state %v session %x", c.State(), c.SessionID())
	}
	p.SetTarget(srv.Addr(0))
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if c.SessionID() != sid {
		t.Fatalf("session changed: %x -> %x", sid, c.SessionID())
	}
	if _, ok := log.has(keeper.Lost); ok {
		t.Fatalf("session reported lost: %v", log.states())
	}
}
