package queue

import (
	"context"
	"errors"
	"time"

	"github.com/keeper-go/keeper"
)

// DistributedQueue is Curator's DistributedQueue: each put is one
// persistent sequential node "queue-<sequence>" whose data is a message
// in Curator's ItemSerializer format (EncodeMessage) holding one item, or
// several for PutMulti. Messages are consumed in name order (first in,
// first out); see Consume for the delivery guarantees. Create one with
// NewDistributed.
//
// Its methods are safe for concurrent use.
type DistributedQueue struct{ q *curatorQueue }

// NewDistributed returns a DistributedQueue on the node at path, for
// client c. Nothing is sent until a method is called.
func NewDistributed(c *keeper.Client, path string, opts ...CuratorOption) *DistributedQueue {
	return &DistributedQueue{newCurator(c, path, sortName, opts)}
}

// Path returns the queue's node.
func (q *DistributedQueue) Path() string { return q.q.path }

// Put adds a message holding item. It is stored exactly once, even when
// the reply is lost (unless WithRawPuts); with WithMaxItems it first waits
// for room, bounded by ctx. A message too large for a request fails with
// an error matching keeper.ErrRequestTooLarge, and nothing is written.
func (q *DistributedQueue) Put(ctx context.Context, item []byte) error {
	return q.q.put(ctx, curatorItemName, [][]byte{item})
}

// PutMulti adds one message holding items (Curator's putMulti): they are
// consumed together, in order.
func (q *DistributedQueue) PutMulti(ctx context.Context, items [][]byte) error {
	return q.q.put(ctx, curatorItemName, items)
}

// Consume consumes the queue until ctx ends (it then returns an error
// matching ctx's) or a permanent error: it watches the queue's node and
// calls fn for each item of each message in queue order, on the calling
// goroutine (never on the client's), one at a time. Run several Consume
// calls, on one handle or several, for parallel consumers.
//
// With lock safety (the default) a message is locked with the ephemeral
// node "<lockPath>/<item name>", delivered, and only then deleted: a
// consumer that stops or loses its session before the delete leaves it to
// another (at least once), and no two consumers, Keeper's or Curator's
// with the same lockPath, hold it at the same time. An error from fn
// requeues the message's rest or drops the item (WithErrorMode). With
// WithAtMostOnce a message is deleted before its items are delivered, as
// Curator does without a lockPath.
//
// The lock is an ephemeral node: when the consumer's session ends while
// fn runs, the lock goes with it and another consumer can take the message
// while fn still runs (as with Curator's). Items are delivered again after
// such a loss; fn should be idempotent, or check the client's session.
//
// A message that is not in Curator's format is deleted and reported to
// WithErrorHandler's function, as a *CorruptError.
func (q *DistributedQueue) Consume(ctx context.Context, fn ConsumeFunc) error {
	return q.q.consume(ctx, fn)
}

// Close deletes the markers that protected puts and consumers left (see
// the package doc). The queue can still be used afterwards.
func (q *DistributedQueue) Close(ctx context.Context) error { return q.q.close(ctx) }

// DistributedPriorityQueue is Curator's DistributedPriorityQueue: a
// DistributedQueue whose node names carry a priority, lower first
// ("queue-" + "1" for a priority of 0 or more, else "0" + the priority
// as 8 hex digits + the sequence), so that name order is priority order
// and then first in, first out. A requeued message keeps its priority
// (Curator's loses it). Create one with NewPriority.
type DistributedPriorityQueue struct{ q *curatorQueue }

// NewPriority returns a DistributedPriorityQueue on the node at path.
func NewPriority(c *keeper.Client, path string, opts ...CuratorOption) *DistributedPriorityQueue {
	return &DistributedPriorityQueue{newCurator(c, path, sortName, opts)}
}

// Path returns the queue's node.
func (q *DistributedPriorityQueue) Path() string { return q.q.path }

// Put adds a message holding item with priority (see DistributedQueue.Put).
func (q *DistributedPriorityQueue) Put(ctx context.Context, item []byte, priority int32) error {
	return q.q.put(ctx, priorityName(priority), [][]byte{item})
}

// PutMulti adds one message holding items, with priority.
func (q *DistributedPriorityQueue) PutMulti(ctx context.Context, items [][]byte, priority int32) error {
	return q.q.put(ctx, priorityName(priority), items)
}

// Consume is DistributedQueue.Consume, in priority order. Like Curator's,
// it takes the messages of one listing in order before it lists again,
// so a message put meanwhile with a lower priority waits until then.
func (q *DistributedPriorityQueue) Consume(ctx context.Context, fn ConsumeFunc) error {
	return q.q.consume(ctx, fn)
}

// Close is DistributedQueue.Close.
func (q *DistributedPriorityQueue) Close(ctx context.Context) error { return q.q.close(ctx) }

// DistributedDelayQueue is Curator's DistributedDelayQueue: a
// DistributedQueue whose messages are due at a time carried in the node
// name ("queue-|" + Unix milliseconds as at least 8 upper-case hex digits
// + "|" + the sequence). Messages are consumed in order of due time (the
// parsed number, not the name, whose width varies), each once it is due.
// Create one with NewDelay.
//
// Due is judged by the consumer's wall clock (time.Now), as Curator
// judges it by the consumer's System.currentTimeMillis: producers and
// consumers on hosts whose clocks differ see items due early or late by
// the difference.
type DistributedDelayQueue struct{ q *curatorQueue }

// NewDelay returns a DistributedDelayQueue on the node at path.
func NewDelay(c *keeper.Client, path string, opts ...CuratorOption) *DistributedDelayQueue {
	return &DistributedDelayQueue{newCurator(c, path, sortDelay, opts)}
}

// Path returns the queue's node.
func (q *DistributedDelayQueue) Path() string { return q.q.path }

// Put adds a message holding item, due at until (see DistributedQueue.Put).
func (q *DistributedDelayQueue) Put(ctx context.Context, item []byte, until time.Time) error {
	return q.q.put(ctx, delayName(until), [][]byte{item})
}

// PutMulti adds one message holding items, due at until.
func (q *DistributedDelayQueue) PutMulti(ctx context.Context, items [][]byte, until time.Time) error {
	return q.q.put(ctx, delayName(until), items)
}

// Consume is DistributedQueue.Consume, in order of due time: it waits
// until the first message is due (or the queue changes).
func (q *DistributedDelayQueue) Consume(ctx context.Context, fn ConsumeFunc) error {
	return q.q.consume(ctx, fn)
}

// Close is DistributedQueue.Close.
func (q *DistributedDelayQueue) Close(ctx context.Context) error { return q.q.close(ctx) }

// DistributedIDQueue is Curator's DistributedIdQueue: a DistributedQueue
// whose messages carry an id in the node name ("queue-|" + the id with
// "/" and "|" replaced by "_" + "|" + the sequence), so that they can be
// removed by id. The id does not change the order: first in, first out.
// Create one with NewID.
type DistributedIDQueue struct{ q *curatorQueue }

// NewID returns a DistributedIDQueue on the node at path.
func NewID(c *keeper.Client, path string, opts ...CuratorOption) *DistributedIDQueue {
	return &DistributedIDQueue{newCurator(c, path, sortID, opts)}
}

// Path returns the queue's node.
func (q *DistributedIDQueue) Path() string { return q.q.path }

// Put adds a message holding item, with id (see DistributedQueue.Put).
func (q *DistributedIDQueue) Put(ctx context.Context, item []byte, id string) error {
	if id == "" {
		return errors.New("queue: DistributedIDQueue.Put: empty id")
	}
	return q.q.put(ctx, idName(id), [][]byte{item})
}

// Remove removes every message with id that no consumer holds, and
// returns how many it removed. The id is compared after Curator's
// replacement of "/" and "|", so Remove("a/b") finds what Put(..., "a/b")
// stored (Curator's remove compares the id as given, and finds nothing
// for an id with "/" or "|").
func (q *DistributedIDQueue) Remove(ctx context.Context, id string) (int, error) {
	return q.q.removeID(ctx, id)
}

// Consume is DistributedQueue.Consume.
func (q *DistributedIDQueue) Consume(ctx context.Context, fn ConsumeFunc) error {
	return q.q.consume(ctx, fn)
}

// Close is DistributedQueue.Close.
func (q *DistributedIDQueue) Close(ctx context.Context) error { return q.q.close(ctx) }
