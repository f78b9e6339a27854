package lock

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

var leaseName = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestSemaphore(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	c2 := testutil.Connect(t, srv, c)
	s1 := NewSemaphore(c, "/sem", "s1", 2)
	s2 := NewSemaphore(c2, "/sem", "s2", 2)
	s3 := NewSemaphore(c, "/sem", "s3", 2)
	if err := s1.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := s2.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("second lease: %v, %v", ok, err)
	}
	if ok, err := s3.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("third lease of two: %v, %v", ok, err)
	}
	if err := s1.Acquire(ctx); !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire while held = %v", err)
	}
	// Layout: path holds "2", leases are <uuid hex> with the identifier,
	// and the sibling lock directory is empty between acquisitions.
	data, _, err := c.Get(ctx, "/sem")
	if err != nil || string(data) != "2" {
		t.Fatalf("/sem data %q, %v", data, err)
	}
	kids := children(t, c, "/sem")
	if len(kids) != 2 || !leaseName.MatchString(kids[0]) || !leaseName.MatchString(kids[1]) {
		t.Fatalf("leases %q", kids)
	}
	if k := children(t, c, "/sem-__lock__"); len(k) != 0 {
		t.Fatalf("lock dir %q", k)
	}
	holders, err := s3.LeaseHolders(ctx)
	slices.Sort(holders)
	if err != nil || !slices.Equal(holders, []string{"s1", "s2"}) {
		t.Fatalf("LeaseHolders = %q, %v", holders, err)
	}
	got := make(chan error, 1)
	go func() { got <- s3.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "s3 to wait on the leases", func() bool {
		return c.CheckWatches(ctx, "/sem", keeper.WatchChildren) == nil
	})
	select {
	case err := <-got:
		t.Fatalf("third lease of two: %v", err)
	default:
	}
	if err := s2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if !s3.IsAcquired() || s2.IsAcquired() {
		t.Fatal("wrong holders")
	}
	// A Semaphore with other max leases is refused.
	if err := NewSemaphore(c2, "/sem", "bad", 3).Acquire(ctx); !errors.Is(err, ErrMaxLeases) {
		t.Fatalf("mismatched max leases = %v", err)
	}
	if _, err := NewSemaphore(c2, "/sem", "bad", 0).TryAcquire(ctx); !errors.Is(err, ErrBadOption) {
		t.Fatalf("zero max leases = %v", err)
	}
	if err := s1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s3.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s3.Release(ctx); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second Release = %v", err)
	}
	if kids := children(t, c, "/sem"); len(kids) != 0 {
		t.Fatalf("leases left %q", kids)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
	testutil.NoWatches(t, srv.Addr(0), c2.SessionID())
	testutil.NoChildWatches(t, c, "/sem", "/sem-__lock__")
	testutil.NoChildWatches(t, c2, "/sem", "/sem-__lock__")
}

func TestSemaphoreNonNumericData(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/sem", []byte("used for something else")); err != nil {
		t.Fatal(err)
	}
	s := NewSemaphore(c, "/sem", "x", 4)
	if err := s.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSemaphoreCancel(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	c2 := testutil.Connect(t, srv, c)
	s1 := NewSemaphore(c, "/sem", "s1", 1)
	if err := s1.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := NewSemaphore(c2, "/sem", "s2", 1)
	wctx, cancel := context.WithCancel(ctx)
	got := make(chan error, 1)
	go func() { got <- s2.Acquire(wctx) }()
	testutil.WaitFor(t, 30*time.Second, "s2 to wait on the leases", func() bool {
		return c2.CheckWatches(ctx, "/sem", keeper.WatchChildren) == nil
	})
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel = %v", err)
	}
	if kids := children(t, c, "/sem"); len(kids) != 1 {
		t.Fatalf("leases %q", kids)
	}
	if kids := children(t, c, "/sem-__lock__"); len(kids) != 0 {
		t.Fatalf("lock nodes %q", kids)
	}
	testutil.NoWatches(t, srv.Addr(0), c2.SessionID())
	testutil.NoChildWatches(t, c2, "/sem")
	if err := s1.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSemaphoreExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	c2 := testutil.Connect(t, srv, c)
	s1 := NewSemaphore(c, "/sem", "s1", 1)
	if err := s1.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := NewSemaphore(c2, "/sem", "s2", 1)
	got := make(chan error, 1)
	go func() { got <- s2.Acquire(ctx) }()
	lost := s1.Lost()
	testutil.Expire(t, ctx, c, px)
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("Lost not closed")
	}
	if s1.IsAcquired() || !errors.Is(s1.Err(), ErrLost) {
		t.Fatalf("after expiry: IsAcquired %v, Err %v", s1.IsAcquired(), s1.Err())
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := s2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
