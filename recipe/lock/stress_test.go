package lock

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/zktest"
)

// faultyClients connects n clients to the ensemble on one chroot, each
// through proxies of its own (one per member), and returns them with
// their proxies.
func faultyClients(t *testing.T, zk *zktest.Cluster, n int) ([]*keeper.Client, [][]*zktest.Proxy) {
	t.Helper()
	var clients []*keeper.Client
	var proxies [][]*zktest.Proxy
	chroot := ""
	for i := range n {
		byAddr := map[string]*zktest.Proxy{}
		var ps []*zktest.Proxy
		for m := range zk.Len() {
			p, err := zktest.NewProxy(zk.Addr(m))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			byAddr[zk.Addr(m)] = p
			ps = append(ps, p)
		}
		dial := keeper.WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
			p, ok := byAddr[addr]
			if !ok {
				return nil, fmt.Errorf("no proxy for %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, p.Addr())
		})
		var c *keeper.Client
		if i == 0 {
			c = zk.Client(t, dial)
			chroot = c.Chroot()
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var err error
			c, err = keeper.Connect(ctx, zk.Servers()+chroot, dial)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
		}
		clients = append(clients, c)
		proxies = append(proxies, ps)
	}
	return clients, proxies
}

// faults pauses, resumes and drops the clients' connections until ctx
// ends; when kill is set it also kills one member and restarts it.
func faults(ctx context.Context, t *testing.T, zk *zktest.Cluster, proxies [][]*zktest.Proxy, kill bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	step := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(200+rng.IntN(400)) * time.Millisecond):
		}
		step++
		ps := proxies[rng.IntN(len(proxies))]
		switch {
		case kill && step == 5:
			m := rng.IntN(zk.Len())
			t.Logf("killing member %d", m)
			if err := zk.Kill(m); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			if err := zk.Restart(m); err != nil {
				t.Error(err)
				return
			}
			t.Logf("member %d restarted", m)
		case step%2 == 0:
			for _, p := range ps {
				p.Pause()
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(100+rng.IntN(500)) * time.Millisecond):
			}
			for _, p := range ps {
				p.Resume()
			}
		default:
			for _, p := range ps {
				p.Drop()
			}
		}
	}
}

// counter is a znode counter updated by read-modify-write with version
// checks, inside a critical section: a BadVersion means that someone else
// wrote it at the same time. Each write carries a unique token, so a write
// whose reply was lost is recognised without reading the value again (a
// re-read from a lagging server would count it twice).
type counter struct {
	c    *keeper.Client
	path string
}

var tokens atomic.Int64

func (k counter) incr(ctx context.Context) error {
	var data []byte
	var st *keeper.Stat
	var err error
	for {
		data, st, err = k.c.Get(ctx, k.path)
		if err == nil {
			break
		}
		if !keeper.IsRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
	n, _ := strconv.Atoi(strings.SplitN(string(data), ":", 2)[0])
	want := fmt.Sprintf("%d:%d", n+1, tokens.Add(1))
	for {
		_, err := k.c.Set(ctx, k.path, []byte(want), st.Version)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, keeper.ErrConnectionLoss) && ctx.Err() == nil:
			continue // the same versioned write: it cannot apply twice
		case errors.Is(err, keeper.ErrBadVersion):
			// Our earlier attempt, or someone else's write?
			if err := k.c.Sync(ctx, k.path); err != nil {
				return err
			}
			got, _, err := k.c.Get(ctx, k.path)
			if err != nil {
				return err
			}
			if string(got) == want {
				return nil
			}
			return fmt.Errorf("counter written by someone else: %q after %q", got, data)
		default:
			return err
		}
	}
}

func (k counter) value(t *testing.T, ctx context.Context) int {
	data, _, err := k.c.Get(ctx, k.path)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.SplitN(string(data), ":", 2)[0])
	return n
}

// stall is how long the stress tests wait without one completed
// acquisition before they give up: a progress limit, not a total one, so a
// slow or shared machine only makes them longer.
const stall = 60 * time.Second

// watchdog logs the state of the lock queue when done has not moved for
// 15s, to tell a stall from a slow machine, and calls giveUp when it has
// not moved for stall.
func watchdog(ctx context.Context, t *testing.T, zk *zktest.Cluster, clients []*keeper.Client, path string, done *atomic.Int64, giveUp func(error)) {
	last, since, logged := done.Load(), time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if n := done.Load(); n != last {
			last, since, logged = n, time.Now(), time.Now()
			continue
		}
		if time.Since(since) >= stall {
			giveUp(fmt.Errorf("no acquisition completed for %v (at %d)", stall, last))
			return
		}
		if time.Since(logged) < 15*time.Second {
			continue
		}
		logged = time.Now()
		var b strings.Builder
		fmt.Fprintf(&b, "no progress for %v at %d:\n", time.Since(since).Round(time.Second), last)
		for i, c := range clients {
			fmt.Fprintf(&b, "  client %d: session 0x%x state %v server %s\n", i, c.SessionID(), c.State(), c.Server())
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		kids, err := clients[0].Children(qctx, path)
		fmt.Fprintf(&b, "  %d children of %s (%v):\n", len(kids), path, err)
		for _, e := range node.SortBySeq(kids) {
			st, err := clients[0].Exists(qctx, path+"/"+e.Name)
			if st != nil {
				fmt.Fprintf(&b, "    %s owner 0x%x\n", e.Name, st.EphemeralOwner)
			} else {
				fmt.Fprintf(&b, "    %s gone %v\n", e.Name, err)
			}
		}
		for m := range zk.Len() {
			out, err := zk.FourLetterWord(qctx, m, "wchc")
			fmt.Fprintf(&b, "  member %d wchc (%v):\n%s\n", m, err, out)
		}
		cancel()
		t.Log(b.String())
	}
}

// TestStress runs the mutual exclusion tests on a 3-server ensemble while
// the clients' connections are paused and dropped (and, for the Lock, one
// member is killed and restarted).
func TestStress(t *testing.T) {
	t.Parallel()
	zk := zktest.Start(t, zktest.Nodes(3))
	t.Run("Lock", func(t *testing.T) { stressLock(t, zk) })
	t.Run("WriteLock", func(t *testing.T) { stressReadWrite(t, zk) })
	t.Run("Semaphore", func(t *testing.T) { stressSemaphore(t, zk) })
}

// stressTotal is the number of acquisitions of the Lock stress test:
// 2,000 (about 20s under the race detector on an idle 2-core machine);
// -lock.stress=N changes it.
var stressTotal = flag.Int("lock.stress", 2000, "acquisitions in the Lock stress test")

func stressLock(t *testing.T, zk *zktest.Cluster) {
	// The watchdog ends ctx when no acquisition completes for stall; the
	// outer limit only keeps a livelock from running into go test's.
	ctx, giveUp := context.WithCancelCause(testutil.Ctx(t, 15*time.Minute))
	defer giveUp(nil)
	clients, proxies := faultyClients(t, zk, 3)
	c0 := clients[0]
	if _, err := c0.Create(ctx, "/counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	fctx, stopFaults := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	var inside, done atomic.Int64
	fwg.Go(func() { faults(fctx, t, zk, proxies, true) })
	fwg.Go(func() { watchdog(fctx, t, zk, clients, "/lock", &done, giveUp) })
	defer func() { stopFaults(); fwg.Wait() }()

	start := time.Now()
	budget := atomic.Int64{}
	budget.Store(int64(*stressTotal))
	errs := make(chan error, 60)
	var wg sync.WaitGroup
	for ci, c := range clients {
		cnt := counter{c, "/counter"}
		for g := range 20 {
			wg.Go(func() {
				id := fmt.Sprintf("c%d-g%d", ci, g)
				for budget.Add(-1) >= 0 {
					l := New(c, "/lock", id)
					if err := l.Acquire(ctx); err != nil {
						errs <- fmt.Errorf("%s: acquire: %w", id, err)
						return
					}
					if n := inside.Add(1); n != 1 {
						errs <- fmt.Errorf("%s: %d holders at once", id, n)
					}
					err := cnt.incr(ctx)
					inside.Add(-1)
					if err != nil {
						errs <- fmt.Errorf("%s: counter: %w", id, err)
						return
					}
					select {
					case <-l.Lost():
						errs <- fmt.Errorf("%s: lost the lock while holding it: %w", id, l.Err())
						return
					default:
					}
					if err := l.Release(ctx); err != nil {
						errs <- fmt.Errorf("%s: release: %w", id, err)
						return
					}
					done.Add(1)
				}
			})
		}
	}
	wg.Wait()
	stopFaults()
	fwg.Wait()
	close(errs)
	if err := context.Cause(ctx); err != nil {
		t.Errorf("stopped: %v", err)
	}
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d acquisitions in %v", done.Load(), time.Since(start).Round(time.Millisecond))
	if done.Load() != int64(*stressTotal) {
		t.Fatalf("%d acquisitions, want %d", done.Load(), *stressTotal)
	}
	if n := (counter{c0, "/counter"}).value(t, ctx); n != *stressTotal {
		t.Fatalf("znode counter %d, want %d", n, *stressTotal)
	}
	// c0's server may be a follower behind the others' deletes.
	if err := c0.Sync(ctx, "/lock"); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c0, "/lock"); len(kids) != 0 {
		t.Fatalf("nodes left: %q", kids)
	}
}

func stressReadWrite(t *testing.T, zk *zktest.Cluster) {
	ctx, giveUp := context.WithCancelCause(testutil.Ctx(t, 15*time.Minute))
	defer giveUp(nil)
	clients, proxies := faultyClients(t, zk, 3)
	c0 := clients[0]
	if _, err := c0.Create(ctx, "/counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	fctx, stopFaults := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	fwg.Go(func() { faults(fctx, t, zk, proxies, false) })
	var done atomic.Int64
	fwg.Go(func() { watchdog(fctx, t, zk, clients, "/rw", &done, giveUp) })
	defer func() { stopFaults(); fwg.Wait() }()

	const total = 300
	var readers, writers, writes, maxReaders atomic.Int64
	budget := atomic.Int64{}
	budget.Store(total)
	errs := make(chan error, 30)
	var wg sync.WaitGroup
	for ci, c := range clients {
		cnt := counter{c, "/counter"}
		for g := range 6 {
			wg.Go(func() {
				id := fmt.Sprintf("c%d-g%d", ci, g)
				for i := 0; budget.Add(-1) >= 0; i++ {
					write := (g+i)%3 == 0
					l := NewReadLock(c, "/rw", id)
					if write {
						l = NewWriteLock(c, "/rw", id)
					}
					if err := l.Acquire(ctx); err != nil {
						errs <- fmt.Errorf("%s: acquire: %w", id, err)
						return
					}
					if write {
						if n := writers.Add(1); n != 1 || readers.Load() != 0 {
							errs <- fmt.Errorf("%s: writer beside %d writers and %d readers", id, n-1, readers.Load())
						}
						if err := cnt.incr(ctx); err != nil {
							errs <- fmt.Errorf("%s: counter: %w", id, err)
							return
						}
						writes.Add(1)
						writers.Add(-1)
					} else {
						n := readers.Add(1)
						for m := maxReaders.Load(); n > m && !maxReaders.CompareAndSwap(m, n); m = maxReaders.Load() {
						}
						if writers.Load() != 0 {
							errs <- fmt.Errorf("%s: reader beside a writer", id)
						}
						if _, _, err := c.Get(ctx, "/counter"); err != nil {
							errs <- fmt.Errorf("%s: read: %w", id, err)
						}
						readers.Add(-1)
					}
					if err := l.Release(ctx); err != nil {
						errs <- fmt.Errorf("%s: release: %w", id, err)
						return
					}
					done.Add(1)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	if err := context.Cause(ctx); err != nil {
		t.Errorf("stopped: %v", err)
	}
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if n := (counter{c0, "/counter"}).value(t, ctx); n != int(writes.Load()) {
		t.Fatalf("znode counter %d, want %d", n, writes.Load())
	}
	t.Logf("%d writes; up to %d readers at once", writes.Load(), maxReaders.Load())
	// c0's server may be a follower behind the others' deletes.
	if err := c0.Sync(ctx, "/rw"); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c0, "/rw"); len(kids) != 0 {
		t.Fatalf("nodes left: %q", kids)
	}
}

func stressSemaphore(t *testing.T, zk *zktest.Cluster) {
	ctx, giveUp := context.WithCancelCause(testutil.Ctx(t, 15*time.Minute))
	defer giveUp(nil)
	clients, proxies := faultyClients(t, zk, 3)
	c0 := clients[0]
	fctx, stopFaults := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	fwg.Go(func() { faults(fctx, t, zk, proxies, false) })
	var done atomic.Int64
	fwg.Go(func() { watchdog(fctx, t, zk, clients, "/sem", &done, giveUp) })
	defer func() { stopFaults(); fwg.Wait() }()

	const total, maxLeases = 200, 3
	var inside, most atomic.Int64
	budget := atomic.Int64{}
	budget.Store(total)
	errs := make(chan error, 30)
	var wg sync.WaitGroup
	for ci, c := range clients {
		for g := range 6 {
			wg.Go(func() {
				id := fmt.Sprintf("c%d-g%d", ci, g)
				for budget.Add(-1) >= 0 {
					s := NewSemaphore(c, "/sem", id, maxLeases)
					if err := s.Acquire(ctx); err != nil {
						errs <- fmt.Errorf("%s: acquire: %w", id, err)
						return
					}
					n := inside.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					if n > maxLeases {
						errs <- fmt.Errorf("%s: %d holders of %d leases", id, n, maxLeases)
					}
					kids, err := c.Children(ctx, "/sem")
					if err == nil && len(kids) > maxLeases {
						errs <- fmt.Errorf("%s: %d lease nodes of %d", id, len(kids), maxLeases)
					}
					inside.Add(-1)
					if err := s.Release(ctx); err != nil {
						errs <- fmt.Errorf("%s: release: %w", id, err)
						return
					}
					done.Add(1)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	if err := context.Cause(ctx); err != nil {
		t.Errorf("stopped: %v", err)
	}
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("up to %d holders at once", most.Load())
	// c0's server may be a follower behind the others' deletes.
	if err := c0.Sync(ctx, "/sem"); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c0, "/sem"); len(kids) != 0 {
		t.Fatalf("lease nodes left: %q", kids)
	}
	if kids := children(t, c0, "/sem-__lock__"); len(kids) != 0 {
		t.Fatalf("lock nodes left: %q", kids)
	}
}
