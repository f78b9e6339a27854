package keeper

import (
	"fmt"
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
	m    *Metrics // nil without WithMetrics
}

func newListener(fn func(StateEvent)) *listener {
	return &listener{q: queue.New[StateEvent](), fn: fn, stop: make(chan struct{})}
}

// push queues ev. A listener more than max events behind (WithMaxQueued;
// 0 is no bound) is ended: the events it has not received are dropped and
// it gets, once fn returns, one last event with the state of ev and an Err
// matching ErrSlowConsumer. push reports false when the listener has ended.
func (l *listener) push(ev StateEvent, max int) bool {
	n, ok := l.q.Push(ev)
	if !ok {
		return false
	}
	l.m.backlog(ConsumerListener, n)
	if max <= 0 || n <= max {
		return true
	}
	l.m.slow(ConsumerListener)
	last := ev
	last.Err = fmt.Errorf("%w: a state listener more than %d events behind was ended", ErrSlowConsumer, max)
	l.q.DropAndClose(last)
	return false
}

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
// dropped); Close waits for fn to return. With WithMaxQueued(n), a
// listener that falls more than n events behind is ended too: it gets one
// last event whose Err matches ErrSlowConsumer instead of those it missed.
func (c *Client) Listen(fn func(StateEvent)) (stop func()) {
	l := newListener(fn)
	l.m = c.cfg.metrics
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
