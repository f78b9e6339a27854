package keeper_test

import (
	"context"
	"errors"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// recorder is a Metrics that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	ops      map[[2]string]int // op, code
	maxOpDur time.Duration
	inflight int
	states   map[[2]keeper.State]int
	connects map[string]int // result
	backlog  map[string]int // kind -> deepest
	slow     map[string]int
}

func newRecorder() *recorder {
	return &recorder{ops: map[[2]string]int{}, states: map[[2]keeper.State]int{},
		connects: map[string]int{}, backlog: map[string]int{}, slow: map[string]int{}}
}

func (r *recorder) metrics() *keeper.Metrics {
	return &keeper.Metrics{
		Op: func(op, code string, d time.Duration) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.ops[[2]string{op, code}]++
			r.maxOpDur = max(r.maxOpDur, d)
		},
		InFlight: func(delta int) { r.mu.Lock(); r.inflight += delta; r.mu.Unlock() },
		State: func(from, to keeper.State) {
			r.mu.Lock()
			r.states[[2]keeper.State{from, to}]++
			r.mu.Unlock()
		},
		Connect: func(server, result string, d time.Duration) {
			r.mu.Lock()
			r.connects[result]++
			r.mu.Unlock()
		},
		Backlog: func(kind string, depth int) {
			r.mu.Lock()
			r.backlog[kind] = max(r.backlog[kind], depth)
			r.mu.Unlock()
		},
		SlowConsumer: func(kind string) { r.mu.Lock(); r.slow[kind]++; r.mu.Unlock() },
	}
}

func (r *recorder) get(f func() int) int { r.mu.Lock(); defer r.mu.Unlock(); return f() }

func TestMetricsOps(t *testing.T) {
	rec := newRecorder()
	c := srv.Client(t, keeper.WithMetrics(rec.metrics()))
	ctx := testutil.Ctx(t, 0)
	if _, err := c.Create(ctx, "/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := c.Get(ctx, "/a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.Get(ctx, "/missing"); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("get /missing: %v", err)
	}
	if _, err := c.Create(ctx, "/a", nil); !errors.Is(err, keeper.ErrNodeExists) {
		t.Fatalf("create /a again: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.Get(cctx, "/a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with a cancelled ctx: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[[2]string]int{
		{"create", "ok"}: 1, {"get", "ok"}: 3, {"get", "NoNode"}: 1,
		{"create", "NodeExists"}: 1, {"get", "Canceled"}: 1,
	}
	for k, n := range want {
		if rec.ops[k] != n {
			t.Errorf("ops %v = %d, want %d (all: %v)", k, rec.ops[k], n, rec.ops)
		}
	}
	if rec.maxOpDur <= 0 {
		t.Errorf("no latency recorded: %v", rec.maxOpDur)
	}
	if rec.inflight != 0 {
		t.Errorf("in flight after every call returned: %d", rec.inflight)
	}
	if rec.connects["ok"] != 1 || rec.states[[2]keeper.State{keeper.Connecting, keeper.Connected}] != 1 {
		t.Errorf("connects %v, states %v: want one ok and one Connecting->Connected", rec.connects, rec.states)
	}
}

// TestMetricsInFlight sees calls waiting on a stalled server counted in
// flight, and back to zero once they return.
func TestMetricsInFlight(t *testing.T) {
	rec := newRecorder()
	c, p := testutil.Proxied(t, srv, keeper.WithMetrics(rec.metrics()))
	ctx := testutil.Ctx(t, 0)
	p.Pause()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, _ = c.Exists(cctx, "/")
		}()
	}
	waitFor(t, 30*time.Second, "4 calls in flight", func() bool { return rec.get(func() int { return rec.inflight }) == 4 })
	p.Resume()
	wg.Wait()
	if n := rec.get(func() int { return rec.inflight }); n != 0 {
		t.Fatalf("in flight after the calls returned: %d", n)
	}
}

// TestMetricsReconnectStorm drops the connection repeatedly, then makes the
// server refuse connections, then stalls it: each shows in the connect
// results and state changes, and a state listener that never returns is
// seen backing up and then ended as a slow consumer.
func TestMetricsReconnectStorm(t *testing.T) {
	rec := newRecorder()
	// A port where nothing listens: dialed while refuse is set.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	var mu sync.Mutex
	refuse := false
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	// Dial through the proxy, or to the dead port while refuse is set.
	c := srv.Client(t, keeper.WithMetrics(rec.metrics()), keeper.WithMaxQueued(3),
		keeper.WithSessionTimeout(4*time.Second), keeper.WithConnectTimeout(time.Second),
		keeper.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond),
		keeper.WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
			mu.Lock()
			addr := p.Addr()
			if refuse {
				addr = dead
			}
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}))
	ctx := testutil.Ctx(t, 0)
	block := make(chan struct{})
	defer close(block)
	c.Listen(func(keeper.StateEvent) { <-block })
	connected := func() bool { return c.State() == keeper.Connected }
	ok0 := rec.get(func() int { return rec.connects["ok"] })

	const drops = 5
	for i := range drops {
		p.Drop()
		waitFor(t, 30*time.Second, "reconnected", func() bool {
			return connected() && rec.get(func() int { return rec.connects["ok"] }) >= ok0+i+1
		})
	}
	if n := rec.get(func() int { return rec.states[[2]keeper.State{keeper.Connected, keeper.Suspended}] }); n < drops {
		t.Errorf("Connected->Suspended %d times, want at least %d", n, drops)
	}

	mu.Lock()
	refuse = true
	mu.Unlock()
	p.Drop()
	waitFor(t, 30*time.Second, "3 refused attempts", func() bool { return rec.get(func() int { return rec.connects["refused"] }) >= 3 })
	mu.Lock()
	refuse = false
	mu.Unlock()
	waitFor(t, 30*time.Second, "reconnected", connected)

	// A stalled server: the connection times out, and so do attempts.
	p.Pause()
	waitFor(t, 60*time.Second, "a timed-out attempt", func() bool { return rec.get(func() int { return rec.connects["timeout"] }) >= 1 })
	p.Resume()
	waitFor(t, 60*time.Second, "reconnected", connected)
	if _, err := c.Exists(ctx, "/"); err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.slow[keeper.ConsumerListener] != 1 || rec.backlog[keeper.ConsumerListener] < 4 {
		t.Errorf("listener blocked: slow %v, deepest backlog %v; want one slow listener, past 3", rec.slow, rec.backlog)
	}
	t.Logf("connects %v, states %v", rec.connects, rec.states)
}

// TestMetricsSlowWatcher: a watcher nobody reads backs up and is ended.
func TestMetricsSlowWatcher(t *testing.T) {
	rec := newRecorder()
	c := srv.Client(t, keeper.WithMetrics(rec.metrics()), keeper.WithMaxQueued(5))
	ctx := testutil.Ctx(t, 0)
	needsAddWatch(t, ctx, c)
	if _, err := c.Create(ctx, "/w", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, "/w", false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; w.Err() == nil && i < 100; i++ {
		if _, err := c.Set(ctx, "/w", []byte{byte(i)}, keeper.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the watcher ended", func() bool { return w.Err() != nil })
	if !errors.Is(w.Err(), keeper.ErrSlowConsumer) {
		t.Fatalf("watcher ended with %v", w.Err())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.slow[keeper.ConsumerWatcher] != 1 || rec.backlog[keeper.ConsumerWatcher] != 6 {
		t.Fatalf("slow %v, deepest backlog %v: want one slow watcher, deepest 6", rec.slow, rec.backlog)
	}
}

// TestMetricsNoAllocs: the hooks, set with functions that allocate
// nothing, add no allocation to a call; unset, they are a nil check.
func TestMetricsNoAllocs(t *testing.T) {
	bare := srv.Client(t)
	var ops, inflight, nanos atomic.Int64
	measured := testutil.Connect(t, srv, bare, keeper.WithMetrics(&keeper.Metrics{
		Op: func(op, code string, d time.Duration) {
			if op == "exists" && code == "ok" {
				ops.Add(1)
			}
			nanos.Add(int64(d))
		},
		InFlight: func(delta int) { inflight.Add(int64(delta)) },
	}))
	ctx := testutil.Ctx(t, 0)
	if _, err := bare.Create(ctx, "/n", []byte("data")); err != nil {
		t.Fatal(err)
	}
	// The least of three runs of 300 calls: other goroutines (the
	// connections' readers) may add to a run, never take away. Under the
	// race detector sync.Pool drops items at random, adding a fraction of
	// an allocation per call to both clients alike: there the counts are
	// compared with half an allocation to spare, which still catches one
	// per call.
	allocs := func(c *keeper.Client) float64 {
		least := math.Inf(1)
		call := func() {
			if _, err := c.Exists(ctx, "/n"); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if !raceEnabled {
				least = min(least, testing.AllocsPerRun(300, call))
				continue
			}
			// AllocsPerRun rounds down: count exactly.
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 300 {
				call()
			}
			runtime.ReadMemStats(&after)
			least = min(least, float64(after.Mallocs-before.Mallocs)/300)
		}
		return least
	}
	a0, a1 := allocs(bare), allocs(measured)
	t.Logf("allocations per Exists: %.2f without metrics, %.2f with", a0, a1)
	slack := 0.0
	if raceEnabled {
		slack = 0.5
	}
	if a1 > a0+slack {
		t.Fatalf("metrics cost %.2f allocations per call (%.2f without, %.2f with)", a1-a0, a0, a1)
	}
	if ops.Load() < 900 || nanos.Load() <= 0 || inflight.Load() != 0 {
		t.Fatalf("exists recorded %d times, %v in all, %d in flight", ops.Load(), time.Duration(nanos.Load()), inflight.Load())
	}
}

func TestErrorCodeAndConnectResult(t *testing.T) {
	codes := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{keeper.ErrNoNode, "NoNode"},
		{&keeper.Error{Op: "set", Path: "/a", Code: keeper.CodeBadVersion}, "BadVersion"},
		{&keeper.Error{Op: "get", Code: keeper.Code(-12345)}, "Other"},
		{keeper.ErrConnectionLoss, "ConnectionLoss"},
		{keeper.ErrSessionExpired, "SessionExpired"},
		{keeper.ErrClosed, "Closed"},
		{keeper.ErrRequestTooLarge, "RequestTooLarge"},
		{keeper.ErrInvalidPath, "InvalidPath"},
		{keeper.ErrUnimplemented, "Unimplemented"},
		{context.Canceled, "Canceled"},
		{context.DeadlineExceeded, "DeadlineExceeded"},
		{errors.New("something"), "Other"},
	}
	for _, c := range codes {
		if got := keeper.ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}

	// A real refusal: a port where nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := net.Dial("tcp", addr)
	_, unresolved := net.LookupHost("no-such-host.invalid")
	results := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{refused, "refused"},
		{unresolved, "dns"},
		{keeper.ErrAuthFailed, "auth"},
		{keeper.ErrClosed, "closed"},
		{context.DeadlineExceeded, "timeout"},
		{errors.New("something"), "other"},
	}
	for _, c := range results {
		if got := keeper.ConnectResult(c.err); got != c.want {
			t.Errorf("ConnectResult(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
