package counter

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

func TestAtomicLong(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	a := NewAtomicLong(c, "/al")
	defer a.Close(ctx)
	if r, err := a.Get(ctx); err != nil || !r.Succeeded || r.PostValue != 0 {
		t.Fatalf("Get of a missing node = %+v, %v", r, err)
	}
	if ok, err := a.Initialize(ctx, 40); !ok || err != nil {
		t.Fatalf("Initialize = %v, %v", ok, err)
	}
	if ok, err := a.Initialize(ctx, 7); ok || err != nil {
		t.Fatalf("second Initialize = %v, %v", ok, err)
	}
	r, err := a.Increment(ctx)
	if err != nil || !r.Succeeded || r.PreValue != 40 || r.PostValue != 41 {
		t.Fatalf("Increment = %+v, %v", r, err)
	}
	if r, err = a.Add(ctx, 10); err != nil || r.PostValue != 51 {
		t.Fatalf("Add = %+v, %v", r, err)
	}
	if r, err = a.Decrement(ctx); err != nil || r.PostValue != 50 {
		t.Fatalf("Decrement = %+v, %v", r, err)
	}
	if r, err = a.CompareAndSet(ctx, 49, 0); err != nil || r.Succeeded || r.PreValue != 50 || r.PostValue != 50 {
		t.Fatalf("CompareAndSet with the wrong value = %+v, %v", r, err)
	}
	if r, err = a.CompareAndSet(ctx, 50, -5); err != nil || !r.Succeeded || r.PostValue != -5 {
		t.Fatalf("CompareAndSet = %+v, %v", r, err)
	}
	if r, err = a.TrySet(ctx, 1<<40); err != nil || !r.Succeeded || r.PreValue != -5 {
		t.Fatalf("TrySet = %+v, %v", r, err)
	}
	if err := a.ForceSet(ctx, 99); err != nil {
		t.Fatal(err)
	}
	data, _, err := c.Get(ctx, "/al")
	if err != nil || string(data) != "\x00\x00\x00\x00\x00\x00\x00\x63" {
		t.Fatalf("data %x, %v; want 0000000000000063", data, err)
	}
	// Curator's "Corrupted data" is ours too.
	if _, err := c.Set(ctx, "/al", []byte{1, 2, 3}, keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Increment(ctx); !errors.Is(err, ErrBadData) {
		t.Fatalf("Increment on 3 bytes = %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/al", c)
}

func TestAtomicLongOptions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	for _, a := range []*AtomicLong{
		NewAtomicLong(c, "/o", WithTries(0)),
		NewAtomicLong(c, "/o", WithPromotedLock("/l", 0)),
		NewAtomicLong(c, "/o", WithPromotedLock("l", time.Second)),
		NewAtomicLong(c, "o/"),
	} {
		if _, err := a.Increment(ctx); err == nil {
			t.Fatal("a bad option was accepted")
		}
	}
	if kids, _ := c.Children(ctx, "/"); len(kids) != 0 {
		t.Fatalf("nodes written: %q", kids)
	}
}

// TestAtomicLongPromoted runs contending increments with one optimistic
// try each, so that most take the promoted lock; the total is exact and
// the lock path is left empty.
func TestAtomicLongPromoted(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	promoted, failed := 0, 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := NewAtomicLong(c, "/p", WithTries(1), WithPromotedLock("/p-lock", 30*time.Second))
			defer a.Close(ctx)
			for range each {
				for {
					r, err := a.Increment(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if r.Promoted {
						promoted++
					}
					if !r.Succeeded {
						failed++
					}
					mu.Unlock()
					if r.Succeeded {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	r, err := NewAtomicLong(c, "/p").Get(ctx)
	if err != nil || r.PostValue != workers*each {
		t.Fatalf("total %+v, %v; want %d", r, err, workers*each)
	}
	if promoted == 0 {
		t.Fatal("no increment took the promoted lock")
	}
	t.Logf("%d promoted, %d failed rounds", promoted, failed)
	testutil.AssertClean(t, srv, "/p-lock", c)
	testutil.AssertClean(t, srv, "/p", c)
}

// TestAtomicLongLostReply: Curator's increment after a lost reply leaves 2
// (curator.md §2.4); ours leaves 1 and reports 0 → 1.
func TestAtomicLongLostReply(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, p := testutil.Proxied(t, srv)
	a := NewAtomicLong(c, "/l")
	if ok, err := a.Initialize(ctx, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	var dropped bool
	p.Tap(func(fromServer bool, frame []byte) {
		if !fromServer && !dropped && len(frame) >= 8 && opcode(frame) == 14 {
			dropped = true
			p.DropNextReply()
		}
	})
	r, err := a.Increment(ctx)
	p.Tap(nil)
	if err != nil || !r.Succeeded || r.PreValue != 0 || r.PostValue != 1 || !dropped {
		t.Fatalf("Increment after a lost reply = %+v, %v (dropped %v)", r, err, dropped)
	}
	if r, _ := a.Get(ctx); r.PostValue != 1 {
		t.Fatalf("value %d", r.PostValue)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/l", c)
}
