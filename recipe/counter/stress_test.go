package counter

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// faulty returns n clients on one chroot, each through a fault proxy of
// its own.
func faulty(t *testing.T, n int) ([]*keeper.Client, []*zktest.Proxy) {
	first, p := testutil.Proxied(t, srv)
	clients, proxies := []*keeper.Client{first}, []*zktest.Proxy{p}
	for range n - 1 {
		p, err := zktest.NewProxy(srv.Addr(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		clients = append(clients, testutil.ConnectVia(t, p.Addr(), first))
		proxies = append(proxies, p)
	}
	return clients, proxies
}

// inject pauses, drops connections and drops replies until ctx ends. The
// pauses stay well under the session timeout: sessions survive.
func inject(ctx context.Context, proxies []*zktest.Proxy) {
	rng := rand.New(rand.NewPCG(7, 13))
	for step := 0; ; step++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(100+rng.IntN(300)) * time.Millisecond):
		}
		p := proxies[rng.IntN(len(proxies))]
		switch step % 3 {
		case 0:
			p.Pause()
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond):
			}
			p.Resume()
		case 1:
			p.Drop()
		default:
			p.DropNextReply()
		}
	}
}

// stress runs 20 goroutines on each of 3 faulty clients, each making
// *stressOps increments with incr (one handle per client, from mk), and
// checks that the final value is the number of acknowledged increments.
func stress(t *testing.T, mk func(c *keeper.Client) (incr func(context.Context) error, closer func(context.Context) error), value func(context.Context, *keeper.Client) int64) {
	ctx := testCtx(t)
	clients, proxies := faulty(t, 3)
	fctx, stop := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	fwg.Add(1)
	go func() { defer fwg.Done(); inject(fctx, proxies) }()
	var acked, failed atomic.Int64
	var wg sync.WaitGroup
	var closers []func(context.Context) error
	for _, c := range clients {
		incr, closer := mk(c)
		closers = append(closers, closer)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range *stressOps {
					octx, cancel := context.WithTimeout(ctx, 60*time.Second)
					err := incr(octx)
					cancel()
					if err != nil {
						failed.Add(1)
						t.Errorf("increment: %v", err)
						return
					}
					acked.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	stop()
	fwg.Wait()
	for _, p := range proxies {
		p.Resume()
	}
	for _, cl := range closers {
		if err := cl(ctx); err != nil {
			t.Error(err)
		}
	}
	got := value(ctx, clients[0])
	t.Logf("%d acknowledged, %d failed, final value %d", acked.Load(), failed.Load(), got)
	if got != acked.Load() {
		t.Fatalf("final value %d, acknowledged increments %d", got, acked.Load())
	}
	testutil.AssertClean(t, srv, "/s", clients[0])
}

func TestCounterStress(t *testing.T) {
	t.Parallel()
	stress(t, func(c *keeper.Client) (func(context.Context) error, func(context.Context) error) {
		k := New[int64](c, "/s", 0)
		return func(ctx context.Context) error { _, err := k.Add(ctx, 1); return err }, k.Close
	}, func(ctx context.Context, c *keeper.Client) int64 {
		v, err := New[int64](c, "/s", 0).Value(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	})
}

func TestAtomicLongStress(t *testing.T) {
	t.Parallel()
	stress(t, func(c *keeper.Client) (func(context.Context) error, func(context.Context) error) {
		a := NewAtomicLong(c, "/s", WithTries(1000))
		return func(ctx context.Context) error {
			r, err := a.Increment(ctx)
			if err == nil && !r.Succeeded {
				err = errors.New("did not succeed in 1000 tries")
			}
			return err
		}, a.Close
	}, func(ctx context.Context, c *keeper.Client) int64 {
		r, err := NewAtomicLong(c, "/s").Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r.PostValue
	})
}
