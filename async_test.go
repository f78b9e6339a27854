package keeper_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// TestAsyncOrder makes many calls of every kind from one goroutine and
// checks that each callback got its own result, in the order the calls
// were made, interleaved with failures found client-side and by the
// server.
func TestAsyncOrder(t *testing.T) {
	c := srv.Client(t)
	ctx := testutil.Ctx(t, 60*time.Second)
	const n = 300
	var got []string // appended by callbacks only, read after Flush
	for i := range n {
		p := fmt.Sprintf("/n%03d", i)
		c.CreateAsync(ctx, p, []byte(p), func(created string, err error) {
			if err != nil {
				t.Errorf("create %s: %v", p, err)
			}
			got = append(got, "c"+created)
		})
		if i%50 == 0 {
			// A bad path fails client-side, in its turn.
			c.GetAsync(ctx, "bad", func(_ []byte, _ *keeper.Stat, err error) {
				got = append(got, fmt.Sprintf("bad:%v", errors.Is(err, keeper.ErrInvalidPath)))
			})
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("c/n%03d", i))
		if i%50 == 0 {
			want = append(want, "bad:true")
		}
	}
	checkSeq(t, "creates", got, want)

	got, want = nil, nil
	for i := range n {
		p := fmt.Sprintf("/n%03d", i)
		c.GetAsync(ctx, p, func(data []byte, st *keeper.Stat, err error) {
			if err != nil || st == nil {
				t.Errorf("get %s: %v %v", p, st, err)
			}
			got = append(got, string(data))
		})
		want = append(want, p)
		if i%100 == 0 {
			c.ExistsAsync(ctx, "/missing", func(st *keeper.Stat, err error) {
				got = append(got, fmt.Sprintf("exists:%v:%v", st, err))
			})
			want = append(want, "exists:<nil>:<nil>")
			c.GetAsync(ctx, "/missing", func(_ []byte, _ *keeper.Stat, err error) {
				got = append(got, fmt.Sprintf("nonode:%v", errors.Is(err, keeper.ErrNoNode)))
			})
			want = append(want, "nonode:true")
		}
	}
	c.ChildrenAsync(ctx, "/", func(children []string, st *keeper.Stat, err error) {
		got = append(got, fmt.Sprintf("children:%d:%d:%v", len(children), st.NumChildren, err))
	})
	want = append(want, fmt.Sprintf("children:%d:%d:<nil>", n, n))
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkSeq(t, "reads", got, want)

	got, want = nil, nil
	c.SetAsync(ctx, "/n000", []byte("v2"), 0, func(st *keeper.Stat, err error) {
		got = append(got, fmt.Sprintf("set:%d:%v", st.Version, err))
	})
	c.SetAsync(ctx, "/n000", []byte("v3"), 0, func(st *keeper.Stat, err error) {
		got = append(got, fmt.Sprintf("badversion:%v:%v", st == nil, errors.Is(err, keeper.ErrBadVersion)))
	})
	c.DeleteAsync(ctx, "/n001", keeper.AnyVersion, func(err error) {
		got = append(got, fmt.Sprintf("delete:%v", err))
	})
	c.Txn().Create("/t", nil).Set("/n000", []byte("v4"), 1).CommitAsync(ctx, func(res []keeper.TxnResult, err error) {
		got = append(got, fmt.Sprintf("txn:%d:%v", len(res), err))
	})
	c.Txn().Delete("/n002", 7).CommitAsync(ctx, func(res []keeper.TxnResult, err error) {
		var te *keeper.TxnError
		got = append(got, fmt.Sprintf("txnfail:%v:%v", errors.As(err, &te), errors.Is(err, keeper.ErrBadVersion)))
	})
	var st keeper.Stat
	c.CreateAsync(ctx, "/seq-", nil, func(p string, err error) {
		got = append(got, fmt.Sprintf("seq:%d:%v:%v", len(p), err, st.Czxid != 0))
	}, keeper.Sequential(), keeper.StoreStat(&st))
	c.CreateAsync(ctx, "/a/b", nil, func(_ string, err error) {
		got = append(got, fmt.Sprintf("parents:%v", errors.Is(err, keeper.ErrBadArguments)))
	}, keeper.MakeParents())
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkSeq(t, "writes", got, []string{"set:1:<nil>", "badversion:true:true", "delete:<nil>", "txn:2:<nil>",
		"txnfail:true:true", "seq:15:<nil>:true", "parents:true"})
	if data, _, err := c.Get(ctx, "/n000"); err != nil || string(data) != "v4" {
		t.Errorf("after the txn: %q %v", data, err)
	}
	if st, err := c.Exists(ctx, "/n001"); err != nil || st != nil {
		t.Errorf("/n001 after DeleteAsync: %v %v", st, err)
	}
}

func checkSeq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d callbacks, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: callback %d got %q, want %q", what, i, got[i], want[i])
		}
	}
}

// TestAsyncSlowCallback checks that a callback that blocks holds up only
// the callbacks after it: replies are still read (a synchronous call goes
// through) and further asynchronous calls are still sent.
func TestAsyncSlowCallback(t *testing.T) {
	c := srv.Client(t)
	ctx := testutil.Ctx(t, 60*time.Second)
	if _, err := c.Create(ctx, "/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var after int
	c.GetAsync(ctx, "/x", func([]byte, *keeper.Stat, error) { <-release })
	for range 100 {
		c.GetAsync(ctx, "/x", func([]byte, *keeper.Stat, error) {
			mu.Lock()
			after++
			mu.Unlock()
		})
	}
	for range 10 {
		if _, _, err := c.Get(ctx, "/x"); err != nil {
			t.Fatal(err)
		}
	}
	// Flush waits for the blocked callback: bounded by its ctx.
	fctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := c.Flush(fctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush while a callback blocks: %v, want DeadlineExceeded", err)
	}
	mu.Lock()
	if after != 0 {
		t.Errorf("%d callbacks ran before the blocked one returned", after)
	}
	mu.Unlock()
	close(release)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if after != 100 {
		t.Errorf("%d callbacks after the slow one, want 100", after)
	}
}

// TestAsyncBackpressure fills the in-flight window through a paused
// proxy: the next call blocks until its ctx ends, and its callback gets
// ctx's error with nothing sent; once the proxy resumes, every queued
// call completes.
func TestAsyncBackpressure(t *testing.T) {
	c, p := testutil.Proxied(t, srv, keeper.WithMaxInflight(4))
	ctx := testutil.Ctx(t, 60*time.Second)
	if _, err := c.Create(ctx, "/x", nil); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	var got []string
	for range 4 {
		c.ExistsAsync(ctx, "/x", func(st *keeper.Stat, err error) {
			got = append(got, fmt.Sprintf("ok:%v", err == nil && st != nil))
		})
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	c.CreateAsync(cctx, "/y", nil, func(_ string, err error) {
		got = append(got, fmt.Sprintf("ctx:%v:%v", errors.Is(err, context.DeadlineExceeded), keeper.SafeToRetry(err)))
	})
	cancel()
	// Called with a ctx already done: never blocks.
	done, dcancel := context.WithCancel(ctx)
	dcancel()
	c.DeleteAsync(done, "/x", keeper.AnyVersion, func(err error) {
		got = append(got, fmt.Sprintf("cancelled:%v", errors.Is(err, context.Canceled)))
	})
	p.Resume()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkSeq(t, "backpressure", got, []string{"ok:true", "ok:true", "ok:true", "ok:true", "ctx:true:true", "cancelled:true"})
	if st, err := c.Exists(ctx, "/y"); err != nil || st != nil {
		t.Errorf("/y created by a call that gave up: %v %v", st, err)
	}
	if st, err := c.Exists(ctx, "/x"); err != nil || st == nil {
		t.Errorf("/x deleted by a cancelled call: %v %v", st, err)
	}
}

// TestAsyncClose closes the client with calls in flight: every callback
// runs (with a result or ErrClosed), Close returns once they have, and a
// call after Close gets ErrClosed at once. TestMain checks that the
// delivery goroutine has ended.
func TestAsyncClose(t *testing.T) {
	c := srv.Client(t)
	ctx := testutil.Ctx(t, 60*time.Second)
	if _, err := c.Create(ctx, "/x", nil); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	var mu sync.Mutex
	var ok, closed, other int
	for range n {
		c.GetAsync(ctx, "/x", func(_ []byte, _ *keeper.Stat, err error) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, keeper.ErrClosed):
				closed++
			default:
				other++
				t.Errorf("get during Close: %v", err)
			}
		})
	}
	if err := c.Close(); err != nil {
		// Its closeSession queues behind the calls in flight: on a loaded
		// machine the server may not confirm it within Close's bound.
		t.Logf("Close: %v", err)
	}
	mu.Lock()
	if ok+closed+other != n {
		t.Errorf("Close returned after %d callbacks of %d", ok+closed+other, n)
	}
	t.Logf("%d replies, %d ErrClosed before Close returned", ok, closed)
	mu.Unlock()
	var after error
	c.GetAsync(ctx, "/x", func(_ []byte, _ *keeper.Stat, err error) { after = err })
	if !errors.Is(after, keeper.ErrClosed) {
		t.Errorf("GetAsync after Close: %v, want ErrClosed at once", after)
	}
	if err := c.Flush(ctx); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
}

// TestAsyncCloseFromCallback closes the client from a callback (Close
// must not wait for the callback calling it) and checks that Flush from a
// callback fails instead of waiting for itself.
func TestAsyncCloseFromCallback(t *testing.T) {
	c := srv.Client(t)
	ctx := testutil.Ctx(t, 60*time.Second)
	var flushErr, closeErr, laterErr error
	c.ExistsAsync(ctx, "/", func(*keeper.Stat, error) {
		flushErr = c.Flush(ctx)
		closeErr = c.Close()
	})
	c.ExistsAsync(ctx, "/", func(_ *keeper.Stat, err error) { laterErr = err })
	testutil.WaitFor(t, 30*time.Second, "the callback's Close", func() bool { return c.State() == keeper.Closed })
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if flushErr == nil {
		t.Error("Flush from a callback returned nil")
	}
	if closeErr != nil {
		t.Errorf("Close from a callback: %v", closeErr)
	}
	if laterErr != nil && !errors.Is(laterErr, keeper.ErrClosed) {
		t.Errorf("the call after the closing one: %v", laterErr)
	}
}

// BenchmarkGetAsync measures Gets from one goroutine with up to 256 in
// flight: throughput and the client's allocations per call.
func BenchmarkGetAsync(b *testing.B) {
	c := srv.Client(b, keeper.WithMaxInflight(256))
	ctx := context.Background()
	if _, err := c.Create(ctx, "/n", make([]byte, 100)); err != nil {
		b.Fatal(err)
	}
	var failed error
	cb := func(_ []byte, _ *keeper.Stat, err error) {
		if err != nil && failed == nil {
			failed = err
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c.GetAsync(ctx, "/n", cb)
	}
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if failed != nil {
		b.Fatal(failed)
	}
}

// TestAsyncRefusedWhenIdle makes calls that end before they are sent (a
// ctx already done, a request over WithMaxRequestSize, a bad path, an
// empty Txn) after every earlier callback has run, so that the delivery
// goroutine is idle: each callback still runs, without another call to
// wake it.
func TestAsyncRefusedWhenIdle(t *testing.T) {
	c := srv.Client(t, keeper.WithMaxRequestSize(1024))
	ctx := testutil.Ctx(t, 30*time.Second)
	c.ExistsAsync(ctx, "/", func(*keeper.Stat, error) {})
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	got := make(chan error, 2)
	c.GetAsync(done, "/", func(_ []byte, _ *keeper.Stat, err error) { got <- err })
	if err := recvErr(t, got); !errors.Is(err, context.Canceled) {
		t.Errorf("GetAsync with a cancelled ctx: %v; want context.Canceled", err)
	}
	c.CreateAsync(ctx, "/big", make([]byte, 2048), func(_ string, err error) { got <- err })
	if err := recvErr(t, got); !errors.Is(err, keeper.ErrRequestTooLarge) {
		t.Errorf("CreateAsync over the request limit: %v; want ErrRequestTooLarge", err)
	}
	c.DeleteAsync(ctx, "bad//path", keeper.AnyVersion, func(err error) { got <- err })
	if err := recvErr(t, got); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Errorf("DeleteAsync of a bad path: %v; want ErrInvalidPath", err)
	}
	c.Txn().CommitAsync(ctx, func(res []keeper.TxnResult, err error) {
		if len(res) != 0 {
			err = fmt.Errorf("%d results", len(res))
		}
		got <- err
	})
	if err := recvErr(t, got); err != nil {
		t.Errorf("CommitAsync of an empty Txn: %v; want no results and no error", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// recvErr waits for a callback's error.
func recvErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10s")
		return nil
	}
}

// TestAsyncCallbacksDuringStream keeps the in-flight window full from one
// goroutine and checks that callbacks run while calls are still being
// made: the delivery goroutine is woken for runs of replies, never held
// until nothing is in flight.
func TestAsyncCallbacksDuringStream(t *testing.T) {
	c := srv.Client(t, keeper.WithMaxInflight(16))
	ctx := testutil.Ctx(t, 60*time.Second)
	const n = 2000
	var made, firstSeen, delivered atomic.Int64
	firstSeen.Store(-1)
	for i := range n {
		c.ExistsAsync(ctx, "/", func(_ *keeper.Stat, err error) {
			if err != nil {
				t.Error(err)
			}
			delivered.Add(1)
			firstSeen.CompareAndSwap(-1, made.Load())
		})
		made.Store(int64(i + 1))
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if delivered.Load() != n {
		t.Fatalf("%d callbacks ran, want %d", delivered.Load(), n)
	}
	// With a window of 16 the first callback is due after a few replies;
	// running it only once all n calls were made would mean the wake-up
	// waited for the stream to end.
	if f := firstSeen.Load(); f >= n {
		t.Errorf("the first callback ran only after all %d calls were made", n)
	} else {
		t.Logf("the first callback ran after %d of %d calls were made", f, n)
	}
}

// TestAsyncLossWhileDelivering fails many calls at once on a connection
// loss while the delivery goroutine is still running the callbacks of
// earlier ones: whoever completes a request must be done with it before
// the delivery goroutine may recycle it (the race detector sees a late
// read; without it, a nil client at worst). Every callback runs, those
// of the calls in flight with ErrConnectionLoss.
func TestAsyncLossWhileDelivering(t *testing.T) {
	c, p := testutil.Proxied(t, srv)
	ctx := testutil.Ctx(t, 60*time.Second)
	total := 0
	for round := range 5 {
		p.Pause()
		const n = 500
		var got, lost int
		for range n {
			c.GetAsync(ctx, "/", func(_ []byte, _ *keeper.Stat, err error) {
				got++
				switch {
				case errors.Is(err, keeper.ErrConnectionLoss):
					lost++
				case err != nil:
					t.Errorf("get on a dropped connection: %v", err)
				}
			})
		}
		p.Drop()
		p.Resume()
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Requests still unwritten at the drop go out on the next
		// connection and get a reply; in a round, all of them may.
		if got != n {
			t.Fatalf("round %d: %d callbacks; want %d", round, got, n)
		}
		total += lost
		if err := c.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if total == 0 {
		t.Error("no call was lost with its connection in 5 rounds: the test did not exercise completions on a loss")
	}
}

// TestAsyncCloseFromCallbackDuringClose has a callback call Close while
// another goroutine's Close is under way. That Close waits for the
// callbacks to run, so the callback's Close must not wait for it in turn:
// both return, with the same result.
func TestAsyncCloseFromCallbackDuringClose(t *testing.T) {
	// Not srv.Client: its cleanup's Close would hang the test binary if the
	// two Closes deadlock; this way the test fails (and TestMain reports
	// the stuck goroutines) instead.
	ctx := testutil.Ctx(t, 60*time.Second)
	c, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	inner := make(chan error, 1)
	c.ExistsAsync(ctx, "/", func(*keeper.Stat, error) {
		<-release
		inner <- c.Close()
	})
	outer := make(chan error, 1)
	go func() { outer <- c.Close() }()
	<-c.Done()
	close(release)
	var errs [2]error
	for i, ch := range []chan error{inner, outer} {
		select {
		case errs[i] = <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("Close from a callback during another Close: no return within 20s (inner, outer = %d, %d)", len(inner), len(outer))
		}
	}
	if errs[0] != errs[1] {
		t.Errorf("Close from the callback returned %v, the other Close %v", errs[0], errs[1])
	}
}

// BenchmarkCreateAsync measures sequential creates from one goroutine with
// up to 64 in flight: throughput and the client's allocations per call.
func BenchmarkCreateAsync(b *testing.B) {
	c := srv.Client(b, keeper.WithMaxInflight(64))
	ctx := context.Background()
	parent := "/bca-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := c.Create(ctx, parent, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.DeleteAll(context.Background(), parent) })
	data := make([]byte, 100)
	var failed error
	cb := func(_ string, err error) {
		if err != nil && failed == nil {
			failed = err
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c.CreateAsync(ctx, parent+"/n-", data, cb, keeper.Sequential())
	}
	if err := c.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if failed != nil {
		b.Fatal(failed)
	}
}
