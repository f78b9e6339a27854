package queue

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestOrderAndClose(t *testing.T) {
	q := New[int]()
	for i := range 1000 {
		if n, ok := q.Push(i); !ok || n != i+1 {
			t.Fatalf("Push(%d) = %d, %v", i, n, ok)
		}
	}
	q.Close()
	if _, ok := q.Push(-1); ok {
		t.Fatal("Push after Close accepted")
	}
	var got []int
	if done := q.Run(nil, func(v int) bool { got = append(got, v); return true }); !done {
		t.Fatal("Run returned false on a closed queue")
	}
	if len(got) != 1000 || !slices.IsSorted(got) {
		t.Fatalf("got %d items, sorted %v", len(got), slices.IsSorted(got))
	}
}

// TestRunKeepsItemPushedBeforeClose pushes an item and closes the queue
// exactly when Run has found it empty: the item must still be handed to fn
// (the listener's drain loop used to pop it and drop it).
func TestRunKeepsItemPushedBeforeClose(t *testing.T) {
	q := New[string]()
	once := sync.Once{}
	idleHook = func() {
		once.Do(func() {
			q.Push("last")
			q.Close()
		})
	}
	defer func() { idleHook = nil }()
	q.Push("first")
	var got []string
	q.Run(nil, func(v string) bool { got = append(got, v); return true })
	if !slices.Equal(got, []string{"first", "last"}) {
		t.Fatalf("got %q, want [first last]", got)
	}
}

func TestRunStops(t *testing.T) {
	q := New[int]()
	stop := make(chan struct{})
	done := make(chan bool)
	go func() { done <- q.Run(stop, func(int) bool { return true }) }()
	q.Push(1)
	close(stop)
	if <-done {
		t.Fatal("Run stopped by stop returned true")
	}
	q.Push(2)
	q.Push(3)
	if q.Run(nil, func(v int) bool { return v != 2 }) {
		t.Fatal("Run ended by fn returned true")
	}
	if q.Len() != 1 {
		t.Fatalf("Len = %d after fn refused 2, want 1", q.Len())
	}
}

func TestPopNAndTakeAll(t *testing.T) {
	q := New[int]()
	for i := range 600 {
		q.Push(i)
	}
	got := q.PopN(400, nil)
	if len(got) != 400 || got[399] != 399 {
		t.Fatalf("PopN(400) gave %d items", len(got))
	}
	select {
	case <-q.Ready():
	default:
		t.Fatal("PopN leaving items did not fill Ready")
	}
	if v, ok := q.Pop(); !ok || v != 400 {
		t.Fatalf("Pop = %d, %v; want 400", v, ok)
	}
	rest := q.TakeAll()
	if len(rest) != 199 || rest[0] != 401 || !q.Closed() {
		t.Fatalf("TakeAll gave %d items from %v, closed %v", len(rest), rest[:1], q.Closed())
	}
	if _, ok := q.Pop(); ok {
		t.Fatal("Pop after TakeAll found an item")
	}
}

func TestDropAndClose(t *testing.T) {
	q := New[int]()
	for i := range 10 {
		q.Push(i)
	}
	if n := q.DropAndClose(-1); n != 10 {
		t.Fatalf("DropAndClose dropped %d, want 10", n)
	}
	if _, ok := q.Push(11); ok {
		t.Fatal("Push after DropAndClose accepted")
	}
	var got []int
	q.Run(nil, func(v int) bool { got = append(got, v); return true })
	if !slices.Equal(got, []int{-1}) {
		t.Fatalf("got %v, want [-1]", got)
	}
}

func ExampleQueue() {
	q := New[string]()
	q.Push("a")
	q.Push("b")
	q.Close() // no more pushes; what is queued is still delivered
	q.Run(nil, func(s string) bool {
		fmt.Println(s)
		return true
	})
	// Output:
	// a
	// b
}

// TestBurstArrayGivenBack checks that a queue drained after a burst does
// not keep the burst's array: neither once it is empty nor while a few
// items are left in it.
func TestBurstArrayGivenBack(t *testing.T) {
	q := New[int]()
	for i := range 100_000 {
		q.Push(i)
	}
	for i := range 99_000 {
		if v, ok := q.Pop(); !ok || v != i {
			t.Fatalf("Pop %d: %d, %v", i, v, ok)
		}
	}
	if c := cap(q.items); c > 4*1000 {
		t.Errorf("1 000 items left hold an array of %d", c)
	}
	for i := 99_000; i < 100_000; i++ {
		if v, ok := q.Pop(); !ok || v != i {
			t.Fatalf("Pop %d: %d, %v", i, v, ok)
		}
	}
	if c := cap(q.items); c > keepCap {
		t.Errorf("drained queue holds an array of %d", c)
	}
	for i := range 100 {
		q.Push(i)
	}
	if got := q.PopN(0, nil); len(got) != 100 || got[99] != 99 {
		t.Fatalf("PopN after the burst: %v", got)
	}
	if c := cap(q.items); c == 0 || c > keepCap {
		t.Errorf("a small queue's array was not kept for reuse: cap %d", c)
	}
}
