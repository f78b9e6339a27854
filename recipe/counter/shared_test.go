package counter

import (
	"errors"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

func next(t *testing.T, s *SharedCount) CountChange {
	t.Helper()
	select {
	case ch, ok := <-s.Changes():
		if !ok {
			t.Fatal("Changes closed")
		}
		return ch
	case <-time.After(30 * time.Second):
		t.Fatal("no change")
	}
	return CountChange{}
}

func TestSharedCount(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, p := testutil.Proxied(t, srv)
	other := testutil.Connect(t, srv, c)

	a := NewSharedCount(c, "/sc", 5)
	if err := a.SetCount(ctx, 1); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("SetCount before Start: %v", err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b := NewSharedCount(other, "/sc", 99) // a second seed never overwrites
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Count() != 5 || b.Count() != 5 || a.Version() != 0 {
		t.Fatalf("counts after seeding %d, %d (version %d)", a.Count(), b.Count(), a.Version())
	}
	if data, _, _ := c.Get(ctx, "/sc"); string(data) != "\x00\x00\x00\x05" {
		t.Fatalf("data %x", data)
	}

	// a's writes reach b's channel in order, and a's own.
	for i := int32(1); i <= 3; i++ {
		if err := a.SetCount(ctx, 10*i); err != nil {
			t.Fatal(err)
		}
	}
	// a sees each of its own writes; b may see two writes in one read
	// (a watch fires once), but only ever forward.
	for i := int32(1); i <= 3; i++ {
		if ch := next(t, a); ch.Count != 10*i || ch.Version != i {
			t.Fatalf("a's change %d = %+v", i, ch)
		}
	}
	for last := int32(0); last < 3; {
		ch := next(t, b)
		if ch.Version <= last || ch.Count != 10*ch.Version {
			t.Fatalf("b's change after version %d = %+v", last, ch)
		}
		last = ch.Version
	}
	// TrySetCount at a stale version fails and refreshes.
	if ok, err := b.TrySetCount(ctx, 7, 1); ok || err != nil {
		t.Fatalf("TrySetCount at a stale version = %v, %v", ok, err)
	}
	if ok, err := b.TrySetCount(ctx, 7, 3); !ok || err != nil {
		t.Fatalf("TrySetCount = %v, %v", ok, err)
	}
	if ch := next(t, a); ch.Count != 7 || ch.Version != 4 {
		t.Fatalf("a saw %+v", ch)
	}
	if _, err := b.TrySetCount(ctx, 1, -1); err == nil {
		t.Fatal("TrySetCount at version -1 accepted")
	}

	// A change made while a is cut off arrives after the reconnect.
	p.Pause()
	if err := b.SetCount(ctx, 8); err != nil {
		t.Fatal(err)
	}
	p.Drop()
	p.Resume()
	testutil.WaitFor(t, 30*time.Second, "a to catch up", func() bool { return a.Count() == 8 })
	for ch := next(t, a); ch.Count != 8; ch = next(t, a) {
	}

	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-a.Changes(); ok {
		t.Fatal("Changes still open after Close")
	}
	// A non-int32 node is refused.
	if _, err := c.Set(ctx, "/sc", []byte("x"), keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := NewSharedCount(c, "/sc", 0).Start(ctx); !errors.Is(err, ErrBadData) {
		t.Fatalf("Start on 1 byte: %v", err)
	}
	testutil.AssertClean(t, srv, "/sc", c, other)
}
