package queue

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
)

var kazooEntry = regexp.MustCompile(`^entry-\d{3}-\d{10}$`)

func TestLockingQueue(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	q := NewLocking(c, "/lq")
	if ok, err := q.Consume(ctx); ok || err != nil {
		t.Fatalf("Consume without Get = %v, %v", ok, err)
	}
	if ok, err := q.HoldsLock(ctx); ok || err != nil {
		t.Fatalf("HoldsLock without Get = %v, %v", ok, err)
	}
	for _, it := range []struct {
		data string
		p    int
	}{{"b", 100}, {"a", 7}, {"c", 100}} {
		if err := q.Put(ctx, []byte(it.data), it.p); err != nil {
			t.Fatal(err)
		}
	}
	data, err := q.Get(ctx)
	if err != nil || string(data) != "a" {
		t.Fatalf("Get = %q, %v", data, err)
	}
	// Layout: Kazoo's entries and an ephemeral lock holding our id.
	kids, _ := c.Children(ctx, "/lq/taken")
	if len(kids) != 1 || !kazooEntry.MatchString(kids[0]) {
		t.Fatalf("taken %q", kids)
	}
	lock, st, err := c.Get(ctx, "/lq/taken/"+kids[0])
	if err != nil || string(lock) != q.ID() || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("lock node %q owner %x, %v", lock, st.EphemeralOwner, err)
	}
	if again, err := q.Get(ctx); string(again) != "a" || err != nil {
		t.Fatalf("second Get = %q, %v; want the held item again", again, err)
	}
	if ok, err := q.HoldsLock(ctx); !ok || err != nil {
		t.Fatalf("HoldsLock = %v, %v", ok, err)
	}
	select {
	case <-q.Lost():
		t.Fatal("Lost closed while held")
	default:
	}
	// Another consumer gets the next item, not ours.
	other := NewLocking(c, "/lq")
	if data, err := other.Get(ctx); string(data) != "b" || err != nil {
		t.Fatalf("other's Get = %q, %v", data, err)
	}
	if ok, err := other.Release(ctx); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	if ok, err := q.Consume(ctx); !ok || err != nil {
		t.Fatalf("Consume = %v, %v", ok, err)
	}
	if n, _ := q.Len(ctx); n != 2 {
		t.Fatalf("Len = %d after one consume of three", n)
	}
	// The released item comes back.
	if data, err := q.Get(ctx); string(data) != "b" || err != nil {
		t.Fatalf("Get after release = %q, %v", data, err)
	}
	q.Consume(ctx)
	if data, err := other.Get(ctx); string(data) != "c" || err != nil {
		t.Fatalf("Get = %q, %v", data, err)
	}
	other.Consume(ctx)

	// An empty queue: Get waits, bounded by ctx, and leaves nothing.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = q.Get(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on an empty queue = %v", err)
	}
	testutil.NoChildWatches(t, c, "/lq/entries", "/lq/taken")
	// A waiting Get gets an item put later.
	got := make(chan string, 1)
	go func() {
		data, err := q.Get(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- string(data)
	}()
	testutil.WaitChildWatch(t, c, "/lq/entries")
	if err := other.Put(ctx, []byte("late"), 1); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "late" {
		t.Fatalf("waiting Get = %q", s)
	}
	if err := q.Close(ctx); err != nil { // releases "late"
		t.Fatal(err)
	}
	other.Close(ctx)
	if kids, _ := c.Children(ctx, "/lq/taken"); len(kids) != 0 {
		t.Fatalf("locks left after Close: %q", kids)
	}
	if n, _ := q.Len(ctx); n != 1 {
		t.Fatalf("Len = %d; the released item should stay", n)
	}
	testutil.NoChildWatches(t, c, "/lq/entries", "/lq/taken")
}

// TestLockingQueueOneWinner: three consumers wait; one item; exactly one
// gets it (Kazoo's test_queue.py).
func TestLockingQueueOneWinner(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qs := make([]*LockingQueue, 3)
	for i := range qs {
		cl := testutil.Connect(t, srv, c)
		qs[i] = NewLocking(cl, "/lq")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := qs[i].Get(wctx); err == nil {
				mu.Lock()
				winners++
				mu.Unlock()
				cancel()
			}
		}()
	}
	testutil.WaitFor(t, 30*time.Second, "consumers to wait", func() bool {
		_, err := c.Exists(ctx, "/lq/taken")
		return err == nil
	})
	if err := NewLocking(c, "/lq").Put(ctx, []byte("only"), 100); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d consumers got the one item", winners)
	}
	for _, q := range qs {
		q.Close(ctx)
	}
}

// TestLockingQueueExpiry: a consumer's session expires before Consume; the
// item goes to another consumer, and the first learns it lost it.
func TestLockingQueueExpiry(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	proxied, p := testutil.Proxied(t, srv)
	direct := testutil.Connect(t, srv, proxied)
	a := NewLocking(proxied, "/lq")
	b := NewLocking(direct, "/lq")
	if err := b.Put(ctx, []byte("job"), 1); err != nil {
		t.Fatal(err)
	}
	if data, err := a.Get(ctx); string(data) != "job" || err != nil {
		t.Fatalf("a's Get = %q, %v", data, err)
	}
	// b waits: the item is held.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := b.Get(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b got a held item: %v", err)
	}
	cancel()
	testutil.Expire(t, ctx, proxied, p)
	select {
	case <-a.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("Lost not closed after the session expired")
	}
	if data, err := b.Get(ctx); string(data) != "job" || err != nil {
		t.Fatalf("b's Get after a's expiry = %q, %v", data, err)
	}
	if ok, err := a.Consume(ctx); ok || !errors.Is(err, ErrLost) {
		t.Fatalf("a's Consume after its session expired = %v, %v; want ErrLost", ok, err)
	}
	if ok, _ := a.HoldsLock(ctx); ok {
		t.Fatal("a still holds")
	}
	if ok, err := b.Consume(ctx); !ok || err != nil {
		t.Fatalf("b's Consume = %v, %v", ok, err)
	}
	if n, _ := b.Len(ctx); n != 0 {
		t.Fatalf("%d items left", n)
	}
	a.Close(ctx)
	b.Close(ctx)
	if kids, _ := direct.Children(ctx, "/lq/taken"); len(kids) != 0 {
		t.Fatalf("locks left: %q", kids)
	}
}
