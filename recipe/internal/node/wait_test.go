package node

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

func TestWaitGone(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	var b Backoff
	if gone, err := WaitGone(ctx, c, "/missing", &b); !gone || err != nil {
		t.Fatalf("WaitGone(missing) = %v, %v; want true, nil", gone, err)
	}
	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	type result struct {
		gone bool
		err  error
	}
	wait := func(ctx context.Context) chan result {
		done := make(chan result, 1)
		go func() {
			gone, err := WaitGone(ctx, c, "/n", &Backoff{})
			done <- result{gone, err}
		}()
		return done
	}
	// A change of the data is not a delete: look again.
	done := wait(ctx)
	testutil.WaitWatch(t, srv.Addr(0), c, "/n")
	if _, err := c.Set(ctx, "/n", []byte("x"), keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.gone || r.err != nil {
		t.Fatalf("WaitGone after a Set = %v, %v; want false, nil", r.gone, r.err)
	}
	// A delete.
	done = wait(ctx)
	testutil.WaitWatch(t, srv.Addr(0), c, "/n")
	if err := c.Delete(ctx, "/n", keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if r := <-done; !r.gone || r.err != nil {
		t.Fatalf("WaitGone after a Delete = %v, %v; want true, nil", r.gone, r.err)
	}
	// A cancelled wait takes its watch off the server, with the cause.
	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("given up")
	cctx, cancel := context.WithCancelCause(ctx)
	done = wait(cctx)
	testutil.WaitWatch(t, srv.Addr(0), c, "/n")
	cancel(cause)
	if r := <-done; r.gone || !errors.Is(r.err, cause) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled WaitGone = %v, %v; want false and the cause", r.gone, r.err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
	// A closed client ends the wait with keeper.ErrClosed.
	done = wait(ctx)
	testutil.WaitWatch(t, srv.Addr(0), c, "/n")
	c.Close()
	if r := <-done; r.gone || !errors.Is(r.err, keeper.ErrClosed) {
		t.Fatalf("WaitGone on Close = %v, %v; want false, ErrClosed", r.gone, r.err)
	}
}

func TestDeleteOwnAndContenders(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	if ids, err := Contenders(ctx, c, "/q", "__lock__"); ids != nil || err != nil {
		t.Fatalf("Contenders(missing) = %q, %v; want nil, nil", ids, err)
	}
	var made []string
	for _, id := range []string{"a", "b", "c"} {
		p, err := ProtectedCreate(ctx, c, "/q", UUIDHex()+"__lock__", []byte(id))
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, p)
	}
	if _, err := c.Create(ctx, "/q/other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	ids, err := Contenders(ctx, c, "/q", "__lock__")
	if err != nil || !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Fatalf("Contenders = %q, %v; want [a b c]", ids, err)
	}
	if err := DeleteOwn(ctx, c, made[1]); err != nil {
		t.Fatal(err)
	}
	if err := DeleteOwn(ctx, c, made[1]); err != nil {
		t.Fatalf("DeleteOwn of a gone node = %v", err)
	}
	ids, err = Contenders(ctx, c, "/q", "__lock__")
	if err != nil || !slices.Equal(ids, []string{"a", "c"}) {
		t.Fatalf("Contenders = %q, %v; want [a c]", ids, err)
	}
	c.Close()
	if err := DeleteOwn(ctx, c, made[0]); err != nil {
		t.Fatalf("DeleteOwn on a closed client = %v", err)
	}
}

func TestHolder(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	errNotHeld, errLost := errors.New("not held"), errors.New("lost")
	h := NewHolder(c, "test", "/h", errNotHeld, errLost)
	select {
	case <-h.Lost():
	default:
		t.Fatal("Lost of an empty Holder is not closed")
	}
	if err := h.Release(ctx); !errors.Is(err, errNotHeld) {
		t.Fatalf("Release of nothing = %v", err)
	}
	p, err := ProtectedCreate(ctx, c, "/h", UUIDHex(), nil, keeper.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	h.Hold(p, 0, NewFence(c, p, 0, nil))
	if !h.Held() || h.Node() != p || h.Err() != nil {
		t.Fatalf("Held %v Node %q Err %v after Hold", h.Held(), h.Node(), h.Err())
	}
	lost := h.Lost()
	// Another one deletes the node: the holder reports the loss.
	if err := c.Delete(ctx, p, keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("Lost not closed after the node was deleted")
	}
	if err := h.Err(); !errors.Is(err, errLost) || !errors.Is(err, ErrGone) {
		t.Fatalf("Err = %v; want errLost and ErrGone", err)
	}
	if err := h.Release(ctx); !errors.Is(err, errLost) {
		t.Fatalf("Release of a lost node = %v", err)
	}
	// Begin serialises: a second Begin waits until End.
	if err := h.Begin(ctx, "acquire"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := h.Begin(short, "acquire"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Begin = %v; want DeadlineExceeded", err)
	}
	h.End()
}
