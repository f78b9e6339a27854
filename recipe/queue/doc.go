// Package queue provides Kazoo's and Curator's distributed queues on
// ZooKeeper, with their znode layouts and data formats, so that Keeper and
// Kazoo (Python) or Curator (Java) producers and consumers can share a
// queue (see "Curator's queues" below for the latter). Kazoo's:
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
// # Curator's queues
//
//   - [SimpleDistributedQueue]: items "<path>/qn-<sequence>" holding the
//     bytes; Offer, Take (waits), Poll, Peek, Element and Remove.
//   - [DistributedQueue]: messages "<path>/queue-<sequence>" in Curator's
//     ItemSerializer format (EncodeMessage: version 0x00010001, 0x01 +
//     int32 length + bytes per item, 0x02), one item per Put, several per
//     PutMulti; a consumer loop, Consume, that runs a function on the
//     caller's goroutine.
//   - [DistributedPriorityQueue], [DistributedDelayQueue] and
//     [DistributedIDQueue]: Curator's node names with a priority ("1" or
//     "0" for the sign, then 8 hex digits), a due time ("|<hex Unix
//     ms>|", ordered by the number: its width varies) or an id ("|<id>|",
//     "/" and "|" replaced by "_") before the sequence.
//
// The queue's node (and a lock path) is a container, as Curator creates
// it, which the server deletes once it is empty: every call creates it
// again when it is missing.
//
// Delivery: Curator's DistributedQueue without a lockPath deletes a
// message before it hands it to the consumer, so a consumer that fails
// loses it (at most once). Here the default is Curator's lock safety
// (WithLockPath; the default lock path is "<path>-lock"): an ephemeral
// lock per message, consume, then delete (at least once; WithErrorMode
// chooses between requeue and drop on a consumer error). WithAtMostOnce
// gives Curator's default behaviour. Java consumers with lock safety and
// Keeper's exclude each other when they use the same lock path.
//
// Curator's known faults in these recipes, and what is done here:
//
//   - Its puts are plain sequential creates: a lost reply can store an
//     item twice. Here puts are protected as Kazoo's are (markers in
//     "<path>.keeper"; WithRawPuts asks for Curator's behaviour).
//   - A take or an at-most-once consume whose delete reply was lost
//     retries the delete, gets NoNode and takes the item as another's:
//     the item is lost. Here the delete is looked up, not repeated.
//   - A lock create whose reply was lost is retried by Curator, finds the
//     node, and leaves the item locked by an orphaned lock until the
//     session ends. Keeper's lock holds a token and recognises its own.
//   - A requeued priority or delay message loses its priority or delay in
//     Curator (it is put back as a plain "queue-" node); here it keeps
//     its name's prefix. Only the items from the failed one on are
//     requeued, not those already consumed.
//   - Curator's DistributedIdQueue.remove never finds an id containing
//     "/" or "|"; DistributedIDQueue.Remove does.
//   - Curator's consumer never hears of connection changes (CURATOR-336):
//     Consume returns on a permanent error (a closed client) and retries
//     transient ones; a consumer function that must stop on a lost lock
//     should watch the client's state itself.
//   - Curator logs and drops a corrupt message; here it is dropped and
//     handed to WithErrorHandler's function with its data.
//   - ZooKeeper is a poor queue for many items (Curator's Tech Note 4):
//     every consumer lists all the children on each round. Keep queues
//     to thousands of items.
//
// # Concurrency
//
// All methods are safe for concurrent use. A LockingQueue handle holds one
// item at a time, as Kazoo's: use one handle per consumer.
package queue
