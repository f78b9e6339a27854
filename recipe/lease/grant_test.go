package lease

import (
	"errors"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// TestGrantGuard: a grant's guarded write is applied until another
// process takes the lease over after its end; then the server refuses it,
// and the new grant's token is larger.
func TestGrantGuard(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	if _, err := c.Create(ctx, "/data", nil); err != nil {
		t.Fatal(err)
	}
	// Long enough that b's first try comes before its end even on a
	// loaded machine (a one-second lease once ended first).
	a, err := Obtain(ctx, c, "/l", 5*time.Second, "a")
	if err != nil || a == nil {
		t.Fatalf("Obtain = %v, %v", a, err)
	}
	if a.Holder.Holder != "a" || a.Token() == 0 {
		t.Fatalf("grant %+v, token %d", a.Holder, a.Token())
	}
	if _, err := a.Guard(c.Txn()).Set("/data", []byte("a"), keeper.AnyVersion).Commit(ctx); err != nil {
		t.Fatalf("guarded write while the lease is ours: %v", err)
	}
	if g, err := Obtain(ctx, other, "/l", time.Second, "b"); g != nil || err != nil {
		t.Fatalf("b obtained a held lease: %v, %v", g, err)
	}
	var b *Grant
	testutil.WaitFor(t, 30*time.Second, "a's lease to end and b to take it", func() bool {
		b, err = Obtain(ctx, other, "/l", time.Minute, "b")
		if err != nil {
			t.Fatal(err)
		}
		return b != nil
	})
	if b.Token() <= a.Token() {
		t.Fatalf("b's token %d is not above a's %d", b.Token(), a.Token())
	}
	_, err = a.Guard(c.Txn()).Set("/data", []byte("stale"), keeper.AnyVersion).Commit(ctx)
	if !errors.Is(err, keeper.ErrBadVersion) {
		t.Fatalf("stale grant's guarded write = %v, want ErrBadVersion", err)
	}
	if _, err := b.Guard(other.Txn()).Set("/data", []byte("b"), keeper.AnyVersion).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if data, _, _ := c.Get(ctx, "/data"); string(data) != "b" {
		t.Fatalf("/data = %q", data)
	}
}
