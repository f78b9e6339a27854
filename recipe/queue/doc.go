// Package queue provides Kazoo's distributed queues on ZooKeeper, with
// Kazoo's znode layout so that Keeper and Kazoo (Python) producers and
// consumers can share a queue:
//
//   - [Queue]: items are persistent sequential nodes
//     "<path>/entry-<priority>-<sequence>" (the priority zero-padded to
//     three digits, 0 to 999, lower first) holding the item's bytes. Get
//     takes the first item in name order and deletes it: at most once.
//   - [LockingQueue]: items are "<path>/entries/entry-<priority>-<sequence>";
//     a consumer locks one with the ephemeral node "<path>/taken/<entry
//     name>" (data: the handle's id) and then consumes it (the item and
//     its lock are deleted in one transaction) or releases it. An item
//     whose consumer's session ends is taken by another: at least once,
//     never by two consumers at the same time.
//
// Quick start:
//
//	q := queue.NewLocking(c, "/jobs")
//	err := q.Put(ctx, []byte("job-1"), queue.DefaultPriority)
//
//	data, err := q.Get(ctx) // waits for an item, bounded by ctx
//	if err := process(data); err != nil {
//		q.Release(ctx) // back to the queue
//	} else {
//		q.Consume(ctx)
//	}
//
// # Lost replies
//
// Kazoo's put is a plain create: when its reply is lost, a retried put can
// store the item twice, and a retried delete in Queue.Get can hand one
// item to two consumers or lose it. Here a put and Queue.Get's delete are
// transactions that also create an ephemeral marker node, unique to the
// call, in the container node "<path>.keeper" beside the queue (Kazoo's
// Queue takes every child of its node as an item, so markers cannot live
// inside it). After a lost reply the marker tells whether the call was
// applied (see recipe/counter, which does the same). Each call deletes
// markers of earlier calls in passing; Close deletes the rest, and the
// server deletes the container once it is empty. LockingQueue's locks
// need no marker: the lock node's data and owner say whose it is.
//
// Items larger than the server's request limit (jute.maxbuffer, 1 MiB
// less one byte by default; see keeper.WithMaxRequestSize) are refused
// before anything is sent, with an error matching
// keeper.ErrRequestTooLarge: the server would drop the connection, and
// the put's outcome could not be known.
//
// # Concurrency
//
// All methods are safe for concurrent use. A LockingQueue handle holds one
// item at a time, as Kazoo's: use one handle per consumer.
package queue
