package election

import "sync"

// boolQueue is an unbounded FIFO of leadership changes that one goroutine
// (pump) sends on a channel, so that the latch never blocks on a slow
// receiver and no change is dropped.
type boolQueue struct {
	mu     sync.Mutex
	items  []bool
	closed bool
	signal chan struct{} // 1-buffered: something was pushed, or closed
}

func newBoolQueue() *boolQueue { return &boolQueue{signal: make(chan struct{}, 1)} }

// push appends v unless the queue is closed.
func (q *boolQueue) push(v bool) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, v)
	}
	q.mu.Unlock()
	q.wake()
}

// close ends the queue: pump sends what is queued, then closes its channel.
func (q *boolQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *boolQueue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pump sends every item on out, in order, and closes out once the queue is
// closed and empty.
func (q *boolQueue) pump(out chan<- bool) {
	defer close(out)
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			closed := q.closed
			q.mu.Unlock()
			if closed {
				return
			}
			<-q.signal
			continue
		}
		v := q.items[0]
		q.items = q.items[1:]
		q.mu.Unlock()
		out <- v
	}
}
