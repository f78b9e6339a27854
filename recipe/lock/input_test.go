package lock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// TestBadInput: bad paths and misuse give errors, never panics.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	for _, p := range []string{"", "relative", "/trailing/", "/a//b", "/nul\x00"} {
		if ok, err := New(c, p, "x").TryAcquire(ctx); ok || err == nil {
			t.Errorf("Lock(%q).TryAcquire = %v, %v", p, ok, err)
		}
		if _, err := New(c, p, "x").Contenders(ctx); err == nil && p != "" {
			t.Errorf("Lock(%q).Contenders: no error", p)
		}
		if ok, err := NewSemaphore(c, p, "x", 1).TryAcquire(ctx); ok || err == nil {
			t.Errorf("Semaphore(%q).TryAcquire = %v, %v", p, ok, err)
		}
	}
	if err := New(c, "/l", "x").Release(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Release of a lock never acquired = %v", err)
	}
	var l *Lock = New(c, "/l", "x", nil)
	if ok, err := l.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("TryAcquire with a nil option = %v, %v", ok, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// A cancelled ctx is an error at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := New(c, "/l", "x").Acquire(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire(cancelled) = %v", err)
	}
}

// TestLockClientClosed: closing the client ends the holding.
func TestLockClientClosed(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	c2 := testutil.Connect(t, srv, c)
	l := New(c2, "/l", "x")
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	lost := l.Lost()
	c2.Close()
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("Lost not closed after Close")
	}
	if err := l.Err(); !errors.Is(err, ErrLost) || !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("Err = %v", err)
	}
	if err := l.Release(ctx); !errors.Is(err, ErrLost) {
		t.Fatalf("Release = %v", err)
	}
	testutil.WaitFor(t, 30*time.Second, "the node to go", func() bool { return len(children(t, c, "/l")) == 0 })
}
