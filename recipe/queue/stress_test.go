package queue

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
	"github.com/keeper-go/keeper/zktest"
)

// inject pauses, drops connections and drops replies until ctx ends; the
// pauses stay well under the session timeout.
func inject(ctx context.Context, proxies []*zktest.Proxy) {
	rng := rand.New(rand.NewPCG(3, 5))
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

// TestLockingQueueStress: a producer and 4 consumers, each on a client of
// its own behind a fault proxy, move *stressItems items: every item is
// consumed exactly once and never held by two consumers at once.
func TestLockingQueueStress(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	first, p0 := testutil.Proxied(t, srv)
	clients, proxies := []*keeper.Client{first}, []*zktest.Proxy{p0}
	for range 4 {
		p, err := zktest.NewProxy(srv.Addr(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		clients = append(clients, testutil.ConnectVia(t, p.Addr(), first))
		proxies = append(proxies, p)
	}
	fctx, stop := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	fwg.Add(1)
	go func() { defer fwg.Done(); inject(fctx, proxies) }()

	n := *stressItems
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		q := NewLocking(clients[0], "/lq")
		defer q.Close(ctx)
		for i := range n {
			if err := q.Put(ctx, []byte(fmt.Sprint(i)), i%3); err != nil {
				t.Errorf("put %d: %v", i, err)
				return
			}
		}
	}()
	var mu sync.Mutex
	holder := map[string]int{}   // item -> consumer holding it
	consumed := map[string]int{} // item -> times consumed
	var done atomic.Int64
	for ci := 1; ci <= 4; ci++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := NewLocking(clients[ci], "/lq")
			defer q.Close(ctx)
			for done.Load() < int64(n) && ctx.Err() == nil {
				gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				data, err := q.Get(gctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					continue
				}
				if err != nil {
					t.Errorf("consumer %d: get: %v", ci, err)
					return
				}
				item := string(data)
				mu.Lock()
				if h, ok := holder[item]; ok {
					t.Errorf("item %s held by consumers %d and %d at once", item, h, ci)
				}
				holder[item] = ci
				mu.Unlock()
				ok, err := q.Consume(ctx)
				mu.Lock()
				delete(holder, item)
				if ok {
					consumed[item]++
				}
				mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("consumer %d: consume %s: %v", ci, item, err)
					return
				case ok:
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	stop()
	fwg.Wait()
	for _, p := range proxies {
		p.Resume()
	}
	if len(consumed) != n {
		t.Fatalf("%d distinct items consumed, want %d", len(consumed), n)
	}
	for k, v := range consumed {
		if v != 1 {
			t.Fatalf("item %s consumed %d times", k, v)
		}
	}
	if l, err := NewLocking(first, "/lq").Len(ctx); l != 0 || err != nil {
		t.Fatalf("Len after = %d, %v", l, err)
	}
	testutil.AssertClean(t, srv, "/lq/taken", first)
	testutil.AssertClean(t, srv, "/lq/entries", first)
}
