package keeper

import "sync"

// queue is an unbounded, ordered FIFO drained by one goroutine. Pushing
// never blocks, so the reader can feed it; the consumer may be slow.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	head   int
	signal chan struct{} // 1-buffered
	closed bool
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{signal: make(chan struct{}, 1)}
}

// push appends v; it reports the backlog after the push, or -1 when the
// queue is closed.
func (q *queue[T]) push(v T) int {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return -1
	}
	q.items = append(q.items, v)
	n := len(q.items) - q.head
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return n
}

// pop returns the oldest item; ok is false when the queue is empty.
func (q *queue[T]) pop() (v T, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head >= len(q.items) {
		return v, false
	}
	v = q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 256 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return v, true
}

// close stops further pushes; items already queued can still be popped.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue[T]) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// listener delivers state events to one function, in order, on its own
// goroutine.
type listener struct {
	q    *queue[StateEvent]
	fn   func(StateEvent)
	stop chan struct{}
	once sync.Once
}

func (l *listener) push(ev StateEvent) { l.q.push(ev) }

// close lets the listener drain what is queued and exit.
func (l *listener) close() { l.q.close() }

func (l *listener) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			ev, ok := l.q.pop()
			if !ok {
				break
			}
			l.fn(ev)
		}
		if l.q.isClosed() {
			if _, ok := l.q.pop(); !ok {
				return
			}
			continue
		}
		select {
		case <-l.q.signal:
		case <-l.stop:
			return
		}
	}
}

// Listen calls fn with every later change of the connection state, in
// order, on a goroutine of its own: a slow fn delays only itself, never
// the connection or other listeners. The last event is Closed, when the
// client is closed. stop ends the listener (events not yet delivered are
// dropped); Close waits for fn to return.
func (c *Client) Listen(fn func(StateEvent)) (stop func()) {
	l := &listener{q: newQueue[StateEvent](), fn: fn, stop: make(chan struct{})}
	c.mu.Lock()
	if c.state == Closed {
		c.mu.Unlock()
		return func() {}
	}
	id := c.nextLID
	c.nextLID++
	c.listeners[id] = l
	c.wg.Add(1)
	c.mu.Unlock()
	go l.run(&c.wg)
	return func() {
		c.mu.Lock()
		delete(c.listeners, id)
		c.mu.Unlock()
		l.once.Do(func() { close(l.stop) })
	}
}
