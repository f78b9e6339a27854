package node

import (
	"sync"

	"github.com/keeper-go/keeper/internal/queue"
)

// Events hands values to a consumer in order through an unbounded queue
// (internal/queue): Push never blocks, so a recipe's loop is never held up
// by a slow reader of its events channel. One goroutine per Events moves
// the values to C.
type Events[T any] struct {
	q    *queue.Queue[T]
	out  chan T
	stop chan struct{}
	once sync.Once
	done chan struct{}
}

// NewEvents starts the queue's goroutine; Close ends it.
func NewEvents[T any]() *Events[T] {
	e := &Events[T]{q: queue.New[T](), out: make(chan T), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		defer close(e.out)
		e.q.Run(e.stop, func(v T) bool {
			select {
			case e.out <- v:
				return true
			case <-e.stop:
				return false
			}
		})
	}()
	return e
}

// C returns the channel the values arrive on. It is closed after Close.
func (e *Events[T]) C() <-chan T { return e.out }

// Push queues v; after Close it does nothing.
func (e *Events[T]) Push(v T) { e.q.Push(v) }

// Close drops the values not yet received, closes C and waits for the
// queue's goroutine. It is idempotent.
func (e *Events[T]) Close() {
	e.once.Do(func() {
		e.q.Close()
		close(e.stop)
	})
	<-e.done
}
