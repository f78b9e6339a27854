// Package queue is the client's one unbounded, ordered queue: producers
// that must never block (a connection's reader) push, and one consumer,
// which may be slow, drains it with Run (or Pop and Ready for a loop of
// its own). The listeners of connection states, persistent watchers and
// the recipes' caches all use it.
package queue

import "sync"

// Queue is an unbounded FIFO safe for concurrent use. Push never blocks;
// after Close it refuses new items, but those already queued can still
// be taken. Create one with New.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T
	head   int
	signal chan struct{} // 1-buffered: filled by Push, Close and PopN
	closed bool
}

// New returns an empty, open queue.
func New[T any]() *Queue[T] { return &Queue[T]{signal: make(chan struct{}, 1)} }

func (q *Queue[T]) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// Push appends v and returns the number of items queued after it, or 0
// and false when the queue is closed (v is dropped).
func (q *Queue[T]) Push(v T) (n int, ok bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, false
	}
	q.items = append(q.items, v)
	n = len(q.items) - q.head
	q.mu.Unlock()
	q.wake()
	return n, true
}

// Pop removes and returns the oldest item; ok is false when the queue is
// empty.
func (q *Queue[T]) Pop() (v T, ok bool) {
	v, ok, _ = q.next()
	return v, ok
}

// next is Pop that also says, in the same critical section, whether the
// queue is closed: empty and closed means nothing will ever come.
func (q *Queue[T]) next() (v T, ok, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head >= len(q.items) {
		return v, false, q.closed
	}
	v = q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	q.compactLocked()
	return v, true, q.closed
}

// PopN appends up to max of the oldest items (all of them when max <= 0)
// to out and returns it. When items are left it fills Ready again, for
// another consumer.
func (q *Queue[T]) PopN(max int, out []T) []T {
	q.mu.Lock()
	n := len(q.items) - q.head
	if max > 0 {
		n = min(n, max)
	}
	out = append(out, q.items[q.head:q.head+n]...)
	clear(q.items[q.head : q.head+n])
	q.head += n
	q.compactLocked()
	left := len(q.items) - q.head
	q.mu.Unlock()
	if left > 0 {
		q.wake()
	}
	return out
}

// keepCap is the capacity an emptied queue keeps for reuse. A larger
// array, left by a burst (a cache's initial load queues an event per
// node), is given back to the collector once the queue has drained,
// rather than held for as long as the queue lives.
const keepCap = 1024

// compactLocked drops the consumed prefix once it is most of the slice,
// and the array of a burst once it is drained or mostly consumed.
func (q *Queue[T]) compactLocked() {
	rest := len(q.items) - q.head
	switch {
	case rest == 0 && cap(q.items) > keepCap:
		q.items, q.head = nil, 0
	case rest == 0:
		q.items, q.head = q.items[:0], 0
	case q.head > 256 && q.head*2 > len(q.items):
		if cap(q.items) > keepCap && 4*rest < cap(q.items) {
			// A burst's array, mostly consumed: move the rest to a
			// smaller one.
			q.items = append(make([]T, 0, 2*rest), q.items[q.head:]...)
		} else {
			k := copy(q.items, q.items[q.head:])
			clear(q.items[k:])
			q.items = q.items[:k]
		}
		q.head = 0
	}
}

// Ready returns a channel that holds a value after a Push or a Close: a
// consumer that found the queue empty waits on it, then looks again.
func (q *Queue[T]) Ready() <-chan struct{} { return q.signal }

// Close refuses further pushes; items already queued can still be taken.
// It is idempotent.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

// TakeAll closes the queue and returns what was left in it.
func (q *Queue[T]) TakeAll() []T {
	q.mu.Lock()
	q.closed = true
	out := append([]T(nil), q.items[q.head:]...)
	q.items, q.head = nil, 0
	q.mu.Unlock()
	q.wake()
	return out
}

// DropAndClose drops every queued item, queues last (the items a slow
// consumer gets instead of what it missed) and closes the queue. It
// returns how many items were dropped.
func (q *Queue[T]) DropAndClose(last ...T) (dropped int) {
	q.mu.Lock()
	dropped = len(q.items) - q.head
	clear(q.items)
	q.items = append(q.items[:0], last...)
	q.head = 0
	q.closed = true
	q.mu.Unlock()
	q.wake()
	return dropped
}

// Closed reports whether Close (or TakeAll) was called.
func (q *Queue[T]) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// Len returns the number of items queued.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// idleHook, when set by a test, runs each time Run finds the queue empty,
// before it decides whether to wait or to return.
var idleHook func()

// Run is the drain loop: it calls fn with every item, in order, on the
// calling goroutine until the queue is closed and empty (Run returns
// true: every item pushed was handed to fn), stop is closed, or fn
// returns false (Run returns false; items still queued are left). An item
// pushed just before Close is never lost.
func (q *Queue[T]) Run(stop <-chan struct{}, fn func(T) bool) bool {
	for {
		select {
		case <-stop:
			return false
		default:
		}
		v, ok, closed := q.next()
		if ok {
			if !fn(v) {
				return false
			}
			continue
		}
		if idleHook != nil {
			idleHook()
		}
		if closed {
			return true
		}
		select {
		case <-q.signal:
		case <-stop:
			return false
		}
	}
}
