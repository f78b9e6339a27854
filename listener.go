package keeper

import (
	"sync"

	"github.com/keeper-go/keeper/internal/queue"
)

// listener delivers state events to one function, in order, on its own
// goroutine.
type listener struct {
	q    *queue.Queue[StateEvent]
	fn   func(StateEvent)
	stop chan struct{}
	once sync.Once
}

func newListener(fn func(StateEvent)) *listener {
	return &listener{q: queue.New[StateEvent](), fn: fn, stop: make(chan struct{})}
}

func (l *listener) push(ev StateEvent) { l.q.Push(ev) }

// close lets the listener drain what is queued and exit.
func (l *listener) close() { l.q.Close() }

func (l *listener) run(wg *sync.WaitGroup) {
	defer wg.Done()
	l.q.Run(l.stop, func(ev StateEvent) bool {
		l.fn(ev)
		return true
	})
}

// Listen calls fn with every later change of the connection state, in
// order, on a goroutine of its own: a slow fn delays only itself, never
// the connection or other listeners. The last event is Closed, when the
// client is closed. stop ends the listener (events not yet delivered are
// dropped); Close waits for fn to return.
func (c *Client) Listen(fn func(StateEvent)) (stop func()) {
	l := newListener(fn)
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
