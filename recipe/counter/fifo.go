package counter

import "sync"

// fifo is an unbounded, ordered queue. Pushing never blocks; the consumer
// waits on signal, which a push fills.
type fifo[T any] struct {
	mu     sync.Mutex
	items  []T
	signal chan struct{} // 1-buffered
}

func newFifo[T any]() *fifo[T] { return &fifo[T]{signal: make(chan struct{}, 1)} }

func (q *fifo[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// popN moves up to n items to out, oldest first.
func (q *fifo[T]) popN(n int, out []T) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.items))
	out = append(out, q.items[:n]...)
	k := copy(q.items, q.items[n:])
	clear(q.items[k:])
	q.items = q.items[:k]
	return out
}
