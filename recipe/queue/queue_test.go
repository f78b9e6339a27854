package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

func mustGet(t *testing.T, ctx context.Context, q *Queue) string {
	t.Helper()
	data, ok, err := q.Get(ctx)
	if err != nil || !ok {
		t.Fatalf("Get = %q, %v, %v", data, ok, err)
	}
	return string(data)
}

func TestQueueOrder(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	q := New(c, "/q")
	if _, ok, err := q.Get(ctx); ok || err != nil {
		t.Fatalf("Get on a missing queue = %v, %v", ok, err)
	}
	for i, p := range []int{100, 5, 100, 999, 0, 5} {
		if err := q.Put(ctx, []byte(fmt.Sprintf("%d-%d", p, i)), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.PutAll(ctx, [][]byte{[]byte("all-a"), []byte("all-b")}, 50); err != nil {
		t.Fatal(err)
	}
	kids, err := c.Children(ctx, "/q")
	if err != nil || len(kids) != 8 {
		t.Fatalf("children %q, %v", kids, err)
	}
	for _, k := range kids {
		if !kazooEntry.MatchString(k) {
			t.Fatalf("child %q is not Kazoo's entry-ppp-seq", k)
		}
	}
	if n, err := q.Len(ctx); n != 8 || err != nil {
		t.Fatalf("Len = %d, %v", n, err)
	}
	var got []string
	for range 8 {
		got = append(got, mustGet(t, ctx, q))
	}
	want := "0-4 5-1 5-5 all-a all-b 100-0 100-2 999-3"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %q\nwant  %q", strings.Join(got, " "), want)
	}
	if _, ok, err := q.Get(ctx); ok || err != nil {
		t.Fatalf("Get on an empty queue = %v, %v", ok, err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/q", c)
	if st, _ := c.Exists(ctx, "/q.keeper"); st != nil {
		t.Fatal("marker directory left after Close")
	}
}

func TestQueueBadInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	for _, q := range []interface {
		Put(context.Context, []byte, int) error
	}{New(c, "/q"), NewLocking(c, "/lq")} {
		for _, p := range []int{-1, 1000} {
			if err := q.Put(ctx, []byte("x"), p); !errors.Is(err, ErrBadPriority) {
				t.Fatalf("priority %d: %v", p, err)
			}
		}
		big := bytes.Repeat([]byte("x"), 1<<20)
		if err := q.Put(ctx, big, 1); !errors.Is(err, keeper.ErrRequestTooLarge) {
			t.Fatalf("1 MiB item: %v", err)
		}
	}
	if err := New(c, "/q").PutAll(ctx, [][]byte{make([]byte, 600<<10), make([]byte, 600<<10)}, 1); !errors.Is(err, keeper.ErrRequestTooLarge) {
		t.Fatalf("1.2 MB batch: %v", err)
	}
	if err := New(c, "q").Put(ctx, nil, 1); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("bad path: %v", err)
	}
	closed := testutil.Connect(t, srv, c)
	closed.Close()
	if err := New(closed, "/q").Put(ctx, []byte("x"), 1); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("closed client Put: %v", err)
	}
	if _, err := NewLocking(closed, "/lq").Get(ctx); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("closed client Get: %v", err)
	}
	if kids, _ := c.Children(ctx, "/"); len(kids) != 0 {
		t.Fatalf("nodes written: %q", kids)
	}
	// A big item under the limit goes through.
	q := New(c, "/q")
	if err := q.Put(ctx, make([]byte, 1000<<10), 1); err != nil {
		t.Fatal(err)
	}
	if data, ok, err := q.Get(ctx); err != nil || !ok || len(data) != 1000<<10 {
		t.Fatalf("big item: %d bytes, %v, %v", len(data), ok, err)
	}
	q.Close(ctx)
}

// TestQueueLostReply drops the replies of puts and of gets' deletes:
// every item is stored once and taken once.
func TestQueueLostReply(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, p := testutil.Proxied(t, srv)
	q := New(c, "/q")
	dropMulti := func() (done func() bool) {
		var mu sync.Mutex
		dropped := false
		p.Tap(func(fromServer bool, frame []byte) {
			mu.Lock()
			defer mu.Unlock()
			if !fromServer && !dropped && len(frame) >= 8 && opcode(frame) == 14 {
				dropped = true
				p.DropNextReply()
			}
		})
		return func() bool { p.Tap(nil); mu.Lock(); defer mu.Unlock(); return dropped }
	}
	for i := range 5 {
		done := dropMulti()
		err := q.Put(ctx, []byte{byte('a' + i)}, 1)
		if !done() || err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if n, _ := q.Len(ctx); n != 5 {
		t.Fatalf("%d items after 5 puts with lost replies", n)
	}
	var got []byte
	for range 5 {
		done := dropMulti()
		data, ok, err := q.Get(ctx)
		if !done() || err != nil || !ok {
			t.Fatalf("Get: %q, %v, %v", data, ok, err)
		}
		got = append(got, data...)
	}
	if string(got) != "abcde" {
		t.Fatalf("got %q", got)
	}
	if n, _ := q.Len(ctx); n != 0 {
		t.Fatalf("%d items left", n)
	}
	q.Close(ctx)
	testutil.AssertClean(t, srv, "/q", c)
}

func opcode(frame []byte) int32 {
	return int32(uint32(frame[4])<<24 | uint32(frame[5])<<16 | uint32(frame[6])<<8 | uint32(frame[7]))
}

func TestQueueConcurrentGet(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	const n = 200
	items := make([][]byte, n)
	for i := range items {
		items[i] = []byte(fmt.Sprint(i))
	}
	if err := New(c, "/q").PutAll(ctx, items, 7); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i := range 4 {
		cl := c
		if i%2 == 1 {
			cl = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := New(cl, "/q")
			defer q.Close(ctx)
			for {
				data, ok, err := q.Get(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				seen[string(data)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct items taken, want %d", len(seen), n)
	}
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("item %s taken %d times", k, v)
		}
	}
	testutil.AssertClean(t, srv, "/q", c)
}

// TestQueueReadAhead: Get reads the next items ahead (one, then two, then
// four...), in order across many reads ahead; an item changed after it was
// read ahead is read again (its delete of the version read fails), so Get
// returns the data it deletes; and on a server without multi-reads Get
// reads one item at a time.
func TestQueueReadAhead(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	q := New(c, "/q")
	defer q.Close(ctx)
	var want []string
	for i := 0; i < 300; i += 100 {
		var items [][]byte
		for j := range 100 {
			items = append(items, []byte(fmt.Sprint(i+j)))
			want = append(want, fmt.Sprint(i+j))
		}
		if err := q.PutAll(ctx, items, DefaultPriority); err != nil {
			t.Fatal(err)
		}
	}
	// 0 is read alone, 1 and 2 together (with multi-reads): change 2
	// before its turn.
	if got := mustGet(t, ctx, q); got != "0" {
		t.Fatalf("first Get = %q", got)
	}
	multi := c.ServerVersion().AtLeast(3, 6, 0)
	if got := mustGet(t, ctx, q); got != "1" || multi && len(q.ahead) != 1 || q.oneByOne == multi {
		t.Fatalf("second Get = %q, %d left read ahead (one by one: %v), want 1 and 1", got, len(q.ahead), q.oneByOne)
	}
	if _, err := c.Set(ctx, keeper.JoinPath("/q", q.cache[0]), []byte("2 changed"), keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	want[2] = "2 changed"
	got := []string{"0", "1"}
	for range 298 {
		got = append(got, mustGet(t, ctx, q))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if _, ok, err := q.Get(ctx); ok || err != nil {
		t.Fatalf("Get on an empty queue = %v, %v", ok, err)
	}

	old := New(testutil.Connect(t, srv, c, keeper.WithServerVersion("3.5.9")), "/q")
	defer old.Close(ctx)
	if err := q.PutAll(ctx, [][]byte{[]byte("a"), []byte("b")}, DefaultPriority); err != nil {
		t.Fatal(err)
	}
	if a, b := mustGet(t, ctx, old), mustGet(t, ctx, old); a != "a" || b != "b" || !old.oneByOne {
		t.Fatalf("without multi-reads: %q, %q (one by one: %v)", a, b, old.oneByOne)
	}
}
