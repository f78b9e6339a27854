package cache

import "sync"

// fifo is an unbounded, ordered queue. Pushing never blocks; consumers
// wait on signal, which a push (or a pop that leaves items behind) fills.
type fifo[T any] struct {
	mu     sync.Mutex
	items  []T
	head   int
	signal chan struct{} // 1-buffered
	closed bool
}

func newFifo[T any]() *fifo[T] { return &fifo[T]{signal: make(chan struct{}, 1)} }

func (q *fifo[T]) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// push appends v; it reports false when the queue is closed.
func (q *fifo[T]) push(v T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.wake()
	return true
}

// popN moves up to max items (at least one when there are any) to out.
func (q *fifo[T]) popN(max int, out []T) []T {
	q.mu.Lock()
	n := min(max, len(q.items)-q.head)
	var zero T
	for i := 0; i < n; i++ {
		out = append(out, q.items[q.head])
		q.items[q.head] = zero
		q.head++
	}
	left := len(q.items) - q.head
	switch {
	case left == 0:
		q.items, q.head = q.items[:0], 0
	case q.head > 1024 && q.head*2 > len(q.items):
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items, q.head = q.items[:k], 0
	}
	q.mu.Unlock()
	if left > 0 {
		q.wake() // for another consumer
	}
	return out
}

// close refuses further pushes; queued items can still be popped.
func (q *fifo[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

// drain closes the queue and returns what was left in it.
func (q *fifo[T]) drain() []T {
	q.mu.Lock()
	q.closed = true
	out := append([]T(nil), q.items[q.head:]...)
	q.items, q.head = nil, 0
	q.mu.Unlock()
	q.wake()
	return out
}

func (q *fifo[T]) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

func (q *fifo[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
