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
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

func TestCuratorMessageCodec(t *testing.T) {
	// Curator's put("x"), as curator-layouts-5.4.md has it.
	if got := EncodeMessage([][]byte{[]byte("x")}); !bytes.Equal(got, []byte{0, 1, 0, 1, 1, 0, 0, 0, 1, 'x', 2}) {
		t.Fatalf("put(x) = % x", got)
	}
	for _, items := range [][][]byte{nil, {{}}, {[]byte("a"), {}, []byte("hello")}} {
		got, err := DecodeMessage(EncodeMessage(items))
		if err != nil || len(got) != len(items) {
			t.Fatalf("round trip of %q: %q, %v", items, got, err)
		}
		for i := range items {
			if !bytes.Equal(got[i], items[i]) {
				t.Fatalf("round trip of %q: %q", items, got)
			}
		}
	}
	// Curator ignores bytes after the end record.
	if got, err := DecodeMessage(append(EncodeMessage([][]byte{[]byte("a")}), 9, 9)); err != nil || len(got) != 1 {
		t.Fatalf("trailing bytes: %q, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"short header": {0, 1, 0},
		"bad version":  {0, 1, 0, 2, 2},
		"no end":       {0, 1, 0, 1},
		"bad opcode":   {0, 1, 0, 1, 3},
		"short length": {0, 1, 0, 1, 1, 0, 0},
		"negative":     {0, 1, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 2},
		"cut short":    {0, 1, 0, 1, 1, 0, 0, 0, 5, 'a', 2},
	} {
		if _, err := DecodeMessage(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestCuratorNames(t *testing.T) {
	// Node names from curator.md's layout dump.
	for p, want := range map[int32]string{5: "queue-100000005", -3: "queue-0FFFFFFFD", 0: "queue-100000000"} {
		if got := priorityName(p); got != want {
			t.Errorf("priority %d: %s, want %s", p, got, want)
		}
	}
	if got := idName("my/id|x"); got != "queue-|my_id_x|" {
		t.Errorf("id name %s", got)
	}
	if id, rest := idOf("queue-|my_id_x|0000000007"); id != "my_id_x" || rest != "queue-0000000007" {
		t.Errorf("idOf: %q %q", id, rest)
	}
	at := time.UnixMilli(0x1A205D7DA5A)
	if got := delayName(at); got != "queue-|1A205D7DA5A|" {
		t.Errorf("delay name %s", got)
	}
	if got := delayName(time.UnixMilli(5)); got != "queue-|00000005|" {
		t.Errorf("delay name %s", got)
	}
	if got := delayOf("queue-|1A205D7DA5A|0000000003"); got != 0x1A205D7DA5A {
		t.Errorf("delayOf %x", got)
	}
	if got := delayOf("queue-0000000003"); got != 0 {
		t.Errorf("delayOf without a delay %x", got)
	}
	// The delay's width varies: order by the number.
	names := []string{"queue-|100000000|0000000000", "queue-|FFFFFFFF|0000000001", "queue-|0000000A|0000000002"}
	sortItems(names, sortDelay)
	if want := []string{"queue-|0000000A|0000000002", "queue-|FFFFFFFF|0000000001", "queue-|100000000|0000000000"}; !slices.Equal(names, want) {
		t.Errorf("delay order %q", names)
	}
	names = []string{"queue-|z|0000000002", "queue-|a|0000000003", "queue-|m|0000000001"}
	sortItems(names, sortID)
	if want := []string{"queue-|m|0000000001", "queue-|z|0000000002", "queue-|a|0000000003"}; !slices.Equal(names, want) {
		t.Errorf("id order %q", names)
	}
	for name, want := range map[string]string{
		"queue-0000000004":              "queue-",
		"queue--2147483648":             "queue-",
		"queue-1000000050000000012":     "queue-100000005",
		"queue-100000005-2147483648":    "queue-100000005",
		"queue-|1A205D7DA5A|-999999999": "queue-|1A205D7DA5A|",
		"queue-|my_id|0000000001":       "queue-|my_id|",
	} {
		if got := trimSeq(name); got != want {
			t.Errorf("trimSeq(%s) = %s, want %s", name, got, want)
		}
	}
}

func TestSimpleQueue(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	q := NewSimple(c, "/app/sq")
	defer q.Close(ctx)
	if _, err := q.Element(ctx); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Element of a missing queue: %v", err)
	}
	if _, ok, err := q.Poll(ctx); ok || err != nil {
		t.Fatalf("Poll of a missing queue: %v %v", ok, err)
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := q.Offer(ctx, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// A foreign child is skipped, as Curator skips it.
	if _, err := c.Create(ctx, "/app/sq/zz-foreign", nil); err != nil {
		t.Fatal(err)
	}
	if kids, _ := c.Children(ctx, "/app/sq"); len(kids) != 4 || !slices.Contains(kids, "qn-0000000000") {
		t.Fatalf("children %q", kids)
	}
	if d, ok, err := q.Peek(ctx); string(d) != "a" || !ok || err != nil {
		t.Fatalf("Peek %q %v %v", d, ok, err)
	}
	if d, err := q.Element(ctx); string(d) != "a" || err != nil {
		t.Fatalf("Element %q %v", d, err)
	}
	if d, err := q.Remove(ctx); string(d) != "a" || err != nil {
		t.Fatalf("Remove %q %v", d, err)
	}
	if d, ok, err := q.Poll(ctx); string(d) != "b" || !ok || err != nil {
		t.Fatalf("Poll %q %v %v", d, ok, err)
	}
	if d, err := q.Take(ctx); string(d) != "c" || err != nil {
		t.Fatalf("Take %q %v", d, err)
	}
	if _, err := q.Remove(ctx); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Remove of an empty queue: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := q.Take(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Take of an empty queue past its deadline: %v", err)
	}
	// The parent goes (Curator's is a container): a waiting Take makes it
	// again and gets the next item.
	if err := c.DeleteAll(ctx, "/app/sq"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		d, err := q.Take(ctx)
		got <- fmt.Sprintf("%s %v", d, err)
	}()
	testutil.WaitFor(t, time.Minute, "Take re-creates the queue's node", func() bool {
		st, err := c.Exists(ctx, "/app/sq")
		return err == nil && st != nil && st.NumChildren == 0
	})
	testutil.WaitChildWatch(t, c, "/app/sq")
	if err := q.Offer(ctx, []byte("d")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "d <nil>" {
		t.Fatalf("Take after the parent went: %s", s)
	}
	testutil.NoChildWatches(t, c, "/app/sq")
}

// TestCuratorLostReplies drops the replies of puts and takes: each item
// is stored once and delivered once, for both queue kinds.
func TestCuratorLostReplies(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, p := testutil.Proxied(t, srv)
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
	sq := NewSimple(c, "/sq")
	dq := NewDistributed(c, "/dq", WithAtMostOnce()) // its deletes are transactions too
	for i := range 4 {
		done := dropMulti()
		if err := sq.Offer(ctx, []byte{byte('a' + i)}); err != nil || !done() {
			t.Fatalf("Offer %d: %v", i, err)
		}
		done = dropMulti()
		if err := dq.Put(ctx, []byte{byte('a' + i)}); err != nil || !done() {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	for _, dir := range []string{"/sq", "/dq"} {
		if kids, _ := c.Children(ctx, dir); len(kids) != 4 {
			t.Fatalf("%s: %q after 4 puts with lost replies", dir, kids)
		}
	}
	var got []byte
	for range 4 {
		done := dropMulti()
		d, err := sq.Take(ctx)
		if err != nil || !done() {
			t.Fatal(err)
		}
		got = append(got, d...)
	}
	if string(got) != "abcd" {
		t.Fatalf("took %q", got)
	}
	got = nil
	cctx, cancel := context.WithCancel(ctx)
	err := dq.Consume(cctx, func(_ context.Context, item []byte) error {
		got = append(got, item...)
		if len(got) == 4 {
			cancel()
		} else {
			dropMulti()
		}
		return nil
	})
	p.Tap(nil)
	if !errors.Is(err, context.Canceled) || string(got) != "abcd" {
		t.Fatalf("consumed %q, %v", got, err)
	}
	sq.Close(ctx)
	dq.Close(ctx)
}

// consumeN consumes n items and returns them as strings.
func consumeN(t *testing.T, ctx context.Context, n int, consume func(context.Context, ConsumeFunc) error, fn ConsumeFunc) []string {
	t.Helper()
	var got []string
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := consume(cctx, func(ctx context.Context, item []byte) error {
		if fn != nil {
			if err := fn(ctx, item); err != nil {
				return err
			}
		}
		got = append(got, string(item))
		if len(got) == n {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Consume: %v (got %q)", err, got)
	}
	return got
}

func TestDistributedQueueModes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	q := NewDistributed(c, "/jobs")
	defer q.Close(ctx)
	if err := q.Put(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := q.PutMulti(ctx, [][]byte{[]byte("b"), []byte("c"), []byte("d")}); err != nil {
		t.Fatal(err)
	}
	kids, _ := c.Children(ctx, "/jobs")
	slices.Sort(kids)
	if len(kids) != 2 || kids[0] != "queue-0000000000" {
		t.Fatalf("children %q", kids)
	}
	raw, _, _ := c.Get(ctx, "/jobs/"+kids[1])
	if want := EncodeMessage([][]byte{[]byte("b"), []byte("c"), []byte("d")}); !bytes.Equal(raw, want) {
		t.Fatalf("multi message % x", raw)
	}
	// A corrupt message (bad header) is reported and deleted; the queue
	// goes on. The consumer's error on "c" requeues c and d at the tail.
	if _, err := c.Create(ctx, "/jobs/queue-", []byte{0, 2, 0, 1, 2}, keeper.Sequential()); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, []byte("e")); err != nil {
		t.Fatal(err)
	}
	var reported []error
	q2 := NewDistributed(c, "/jobs", WithErrorHandler(func(err error) { reported = append(reported, err) }))
	failed := false
	got := consumeN(t, ctx, 5, q2.Consume, func(_ context.Context, item []byte) error {
		if string(item) == "c" && !failed {
			failed = true
			return errors.New("try later")
		}
		return nil
	})
	if want := []string{"a", "b", "e", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("consumed %q, want %q", got, want)
	}
	testutil.NoChildWatches(t, c, "/jobs") // Consume took its watch off when ctx ended
	var ce *CorruptError
	if len(reported) != 1 || !errors.Is(reported[0], ErrCorrupt) || !errors.As(reported[0], &ce) || !bytes.Equal(ce.Data, []byte{0, 2, 0, 1, 2}) {
		t.Fatalf("reported %v", reported)
	}
}

func TestDistributedQueueOptions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)

	// DeleteOnError drops the failed item and goes on; WithAtMostOnce
	// reports the consumer's errors.
	for _, opt := range []CuratorOption{WithErrorMode(DeleteOnError), WithAtMostOnce()} {
		var reported []error
		q := NewDistributed(c, "/d", opt, WithErrorHandler(func(err error) { reported = append(reported, err) }))
		if err := q.PutMulti(ctx, [][]byte{[]byte("x"), []byte("y")}); err != nil {
			t.Fatal(err)
		}
		if err := q.Put(ctx, []byte("z")); err != nil {
			t.Fatal(err)
		}
		got := consumeN(t, ctx, 2, q.Consume, func(_ context.Context, item []byte) error {
			if string(item) == "x" {
				return errors.New("bad x")
			}
			return nil
		})
		if !slices.Equal(got, []string{"y", "z"}) {
			t.Fatalf("consumed %q", got)
		}
		if kids, _ := c.Children(ctx, "/d"); len(kids) != 0 {
			t.Fatalf("left %q", kids)
		}
		q.Close(ctx)
	}

	// A bounded queue: the third put waits for room.
	b := NewDistributed(c, "/b", WithMaxItems(2))
	defer b.Close(ctx)
	for _, s := range []string{"1", "2"} {
		if err := b.Put(ctx, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := b.Put(short, []byte("3"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put into a full queue: %v", err)
	}
	put := make(chan error, 1)
	go func() { put <- b.Put(ctx, []byte("3")) }()
	testutil.WaitChildWatch(t, c, "/b")
	got := consumeN(t, ctx, 1, b.Consume, nil)
	if err := <-put; err != nil || !slices.Equal(got, []string{"1"}) {
		t.Fatalf("Put after room: %v (consumed %q)", err, got)
	}

	// Bad options and input: clear errors, nothing written.
	if err := NewDistributed(c, "/x", WithMaxItems(0)).Put(ctx, nil); err == nil || !strings.Contains(err.Error(), "WithMaxItems") {
		t.Fatalf("WithMaxItems(0): %v", err)
	}
	if err := NewDistributed(c, "/x", WithLockPath("bad")).Consume(ctx, nil); err == nil {
		t.Fatal("WithLockPath(bad) accepted")
	}
	if err := NewDistributed(c, "x").Put(ctx, []byte("a")); err == nil {
		t.Fatal("bad path accepted")
	}
	big := make([]byte, keeper.DefaultMaxRequestSize)
	if err := NewDistributed(c, "/big").Put(ctx, big); !errors.Is(err, keeper.ErrRequestTooLarge) {
		t.Fatalf("too large Put: %v", err)
	}
	if err := NewSimple(c, "/big").Offer(ctx, big); !errors.Is(err, keeper.ErrRequestTooLarge) {
		t.Fatalf("too large Offer: %v", err)
	}
	if st, _ := c.Exists(ctx, "/big"); st != nil && st.NumChildren != 0 {
		t.Fatalf("a too large item was written")
	}
	// The queue keeps working after the refusal.
	s := NewSimple(c, "/big")
	defer s.Close(ctx)
	if err := s.Offer(ctx, make([]byte, 1000<<10)); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Take(ctx); err != nil || len(d) != 1000<<10 {
		t.Fatalf("big item: %d bytes, %v", len(d), err)
	}
}

func TestCuratorVariants(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	pq := NewPriority(c, "/p")
	defer pq.Close(ctx)
	for i, p := range []int32{5, -3, 0, 7, -3} {
		if err := pq.Put(ctx, []byte(fmt.Sprint(i)), p); err != nil {
			t.Fatal(err)
		}
	}
	if got := consumeN(t, ctx, 5, pq.Consume, nil); !slices.Equal(got, []string{"1", "4", "2", "0", "3"}) {
		t.Fatalf("priority order %q", got)
	}

	dq := NewDelay(c, "/dl")
	defer dq.Close(ctx)
	now := time.Now()
	// String order would be b, a, c; due order is a, b, then c once due.
	for _, it := range []struct {
		s  string
		at time.Time
	}{{"c", now.Add(time.Second)}, {"b", time.UnixMilli(0x100000000)}, {"a", time.UnixMilli(0xFFFFFFFF)}} {
		if err := dq.Put(ctx, []byte(it.s), it.at); err != nil {
			t.Fatal(err)
		}
	}
	var when time.Time
	got := consumeN(t, ctx, 3, dq.Consume, func(_ context.Context, item []byte) error {
		when = time.Now()
		return nil
	})
	if !slices.Equal(got, []string{"a", "b", "c"}) || when.Before(now.Add(time.Second)) {
		t.Fatalf("delay order %q, last at %v (due %v)", got, when, now.Add(time.Second))
	}

	iq := NewID(c, "/id")
	defer iq.Close(ctx)
	for _, it := range [][2]string{{"1", "z"}, {"2", "a/b"}, {"3", "z"}, {"4", "a"}} {
		if err := iq.Put(ctx, []byte(it[0]), it[1]); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := iq.Remove(ctx, "z"); n != 2 || err != nil {
		t.Fatalf("Remove(z) = %d, %v", n, err)
	}
	if n, err := iq.Remove(ctx, "a|b"); n != 1 || err != nil { // the same name as a/b
		t.Fatalf("Remove(a|b) = %d, %v", n, err)
	}
	if got := consumeN(t, ctx, 1, iq.Consume, nil); !slices.Equal(got, []string{"4"}) {
		t.Fatalf("id queue %q", got)
	}
	if err := iq.Put(ctx, nil, ""); err == nil {
		t.Fatal("empty id accepted")
	}
}

// TestCuratorLockLostReply drops the reply of a consumer's lock create:
// the consumer finds its own lock by its token (Curator's gives the item
// up and leaves the lock orphaned), consumes the item once and deletes
// the lock.
func TestCuratorLockLostReply(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, p := testutil.Proxied(t, srv)
	q := NewDistributed(c, "/lq")
	defer q.Close(ctx)
	// The lock path exists, so that the first create is a lock's.
	if _, err := c.Create(ctx, "/lq-lock", nil, keeper.Container()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b"} {
		if err := q.Put(ctx, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	dropped := false
	p.Tap(func(fromServer bool, frame []byte) {
		mu.Lock()
		defer mu.Unlock()
		if op := opcode(frame); !fromServer && !dropped && len(frame) >= 8 && (op == 1 || op == 15) {
			dropped = true
			p.DropNextReply()
		}
	})
	got := consumeN(t, ctx, 2, q.Consume, nil)
	p.Tap(nil)
	mu.Lock()
	defer mu.Unlock()
	if !dropped || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("consumed %q (a lock create's reply dropped: %v)", got, dropped)
	}
	for _, dir := range []string{"/lq", "/lq-lock"} {
		if kids, err := c.Children(ctx, dir); len(kids) != 0 {
			t.Fatalf("%s: %q left, %v", dir, kids, err)
		}
	}
}

// A consumer that finds an item locked by another consumer must take it
// once that consumer's lock goes without the item being taken (its session
// ended): no children change of the queue says so.
func TestDistributedQueueLockReleased(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	q := NewDistributed(c, "/held")
	defer q.Close(ctx)
	if err := q.Put(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	kids, err := c.Children(ctx, "/held")
	if err != nil || len(kids) != 1 {
		t.Fatalf("children %q, %v", kids, err)
	}
	// Another consumer's lock, as Curator writes it (<path>-lock/<item>).
	if _, err := other.Create(ctx, "/held-lock/"+kids[0], nil, keeper.Ephemeral(), keeper.MakeParents()); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- q.Consume(cctx, func(_ context.Context, item []byte) error {
			got <- item
			return nil
		})
	}()
	// Once the consumer waits on the other's lock, that consumer goes.
	testutil.WaitWatch(t, srv.Addr(0), c, "/held-lock/"+kids[0])
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case item := <-got:
		if string(item) != "x" {
			t.Fatalf("consumed %q", item)
		}
	case <-ctx.Done():
		t.Fatal("the item was never consumed after the other consumer's lock went")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Consume: %v", err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// TestAtMostOnceReadAhead: an at-most-once consumer reads a round's
// messages ahead; one taken by another consumer after it was read ahead is
// not delivered (the delete of the version read fails), the others are, in
// order.
func TestAtMostOnceReadAhead(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	q := NewDistributed(c, "/amo", WithAtMostOnce())
	defer q.Close(ctx)
	var want []string
	for i := range 200 {
		if err := q.Put(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if i != 50 {
			want = append(want, fmt.Sprint(i))
		}
	}
	kids, err := c.Children(ctx, "/amo")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kids)
	got := consumeN(t, ctx, 199, q.Consume, func(_ context.Context, item []byte) error {
		if string(item) == "2" {
			// 0 was read alone, 1 to 128 together: take 50 meanwhile.
			if err := c.Delete(ctx, keeper.JoinPath("/amo", kids[50]), -1); err != nil {
				t.Error(err)
			}
		}
		return nil
	})
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
