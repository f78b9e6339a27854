package lock

import (
	"errors"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// TestGuardAfterExpiry: a holder cut off for longer than its session
// timeout still believes it holds when it is back, but its guarded write
// is refused by the server, and the new holder's is applied.
func TestGuardAfterExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv, keeper.WithSessionTimeout(2*time.Second))
	other := testutil.Connect(t, srv, c)
	if _, err := other.Create(ctx, "/data", []byte("0"), keeper.MakeParents()); err != nil {
		t.Fatal(err)
	}
	a := New(c, "/l", "a")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	tokA := a.Token()
	if tokA == 0 {
		t.Fatal("no token while held")
	}
	if _, err := a.Guard(c.Txn()).Set("/data", []byte("a"), keeper.AnyVersion).Commit(ctx); err != nil {
		t.Fatalf("guarded write while held: %v", err)
	}
	// Cut a off; b takes the lock once the server expires a's session.
	px.Pause()
	b := New(other, "/l", "b")
	if err := b.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Token() <= tokA {
		t.Fatalf("token of the next holder %d is not above %d", b.Token(), tokA)
	}
	// a's guard names its old node whatever a believes now.
	txn := a.Guard(c.Txn()).Set("/data", []byte("stale"), keeper.AnyVersion)
	px.Resume()
	_, err := txn.Commit(ctx)
	for errors.Is(err, keeper.ErrConnectionLoss) || errors.Is(err, keeper.ErrSessionExpired) {
		// The client was still finding out about its session: try again
		// (the write cannot have been applied: the check fails).
		txn = a.Guard(c.Txn()).Set("/data", []byte("stale"), keeper.AnyVersion)
		_, err = txn.Commit(ctx)
	}
	var te *keeper.TxnError
	if !errors.Is(err, keeper.ErrNoNode) || !errors.As(err, &te) || te.Index != 0 {
		t.Fatalf("stale holder's guarded write = %v, want ErrNoNode at the check", err)
	}
	if _, err := b.Guard(other.Txn()).Set("/data", []byte("b"), keeper.AnyVersion).Commit(ctx); err != nil {
		t.Fatalf("new holder's guarded write: %v", err)
	}
	if data, _, err := other.Get(ctx, "/data"); err != nil || string(data) != "b" {
		t.Fatalf("/data = %q, %v", data, err)
	}
	<-a.Lost()
	if a.Token() != 0 {
		t.Fatal("token after the loss")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// A released (or never acquired) lock's guard is refused too.
	for _, l := range []*Lock{b, New(other, "/l", "never")} {
		if _, err := l.Guard(other.Txn()).Set("/data", []byte("x"), keeper.AnyVersion).Commit(ctx); !errors.Is(err, keeper.ErrNoNode) {
			t.Fatalf("guard of a lock not held = %v", err)
		}
	}
}

// TestVerifiedAfterBlip: a pause shorter than the session timeout closes
// Suspended, then Verified once the node is checked again; the lock stays
// held and a new Suspended channel waits for the next disconnect.
func TestVerifiedAfterBlip(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv, keeper.WithSessionTimeout(8*time.Second))
	l := New(c, "/l", "a")
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	tok := l.Token()
	susp := l.Suspended()
	select {
	case <-l.Verified():
	default:
		t.Fatal("Verified open while connected")
	}
	for round := 0; round < 2; round++ {
		px.Drop() // cut the connection; the client reconnects at once
		select {
		case <-susp:
		case <-ctx.Done():
			t.Fatal("no Suspended after the drop")
		}
		select {
		case <-l.Verified():
		case <-l.Lost():
			t.Fatalf("lost after a blip: %v", l.Err())
		case <-ctx.Done():
			t.Fatal("not verified after the reconnect")
		}
		if !l.IsAcquired() || l.Token() != tok {
			t.Fatalf("after the blip: held %v, token %d (was %d)", l.IsAcquired(), l.Token(), tok)
		}
		next := l.Suspended()
		if next == susp {
			t.Fatal("Suspended not renewed after verification")
		}
		select {
		case <-next:
			t.Fatal("the new Suspended is closed while connected")
		default:
		}
		susp = next
	}
	if _, err := l.Guard(c.Txn()).Create("/x", nil).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	<-susp // closed at the end
}

// TestRevoke: Revoke on a holder's node closes its Revoked; the holder
// still holds until it releases.
func TestRevoke(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	a := New(c, "/l", "a")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Revoked():
		t.Fatal("Revoked closed before any request")
	default:
	}
	got := make(chan error, 1)
	b := New(other, "/l", "b")
	go func() { got <- b.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "b to queue", func() bool { return len(children(t, c, "/l")) == 2 })
	if err := Revoke(ctx, other, a.Node()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Revoked():
	case <-ctx.Done():
		t.Fatal("revocation not seen")
	}
	if !a.IsAcquired() {
		t.Fatal("revocation released the lock by itself")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := Revoke(ctx, other, "/l/gone"); err != nil {
		t.Fatalf("Revoke of a missing node = %v", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}
