// Package barrier holds processes back until a condition is met, with
// Kazoo's znode layouts, so Keeper and Kazoo (Python) processes can share a
// barrier.
//
// A [Barrier] is up while its node exists: Create puts it up, Remove takes
// it down, and Wait blocks until it is down.
//
//	b := barrier.New(c, "/jobs/42/gate")
//	if err := b.Wait(ctx); err != nil { ... } // returns once the node is gone
//
// A [DoubleBarrier] synchronizes the start and the end of a computation
// among a fixed number of participants: Enter returns once that many have
// entered, Leave once all of them have left.
//
//	d := barrier.NewDouble(c, "/jobs/42/workers", "worker-3", 5)
//	if err := d.Enter(ctx); err != nil { ... }
//	compute()
//	if err := d.Leave(ctx); err != nil { ... }
//
// Layout (Kazoo's): a Barrier is one persistent node with empty data. A
// DoubleBarrier's participants are ephemeral children "<path>/<uuid hex>"
// holding their identifier, and "<path>/ready" is a persistent node with
// empty data that the participant who sees enough members creates. Kazoo
// deletes ready as each Leave begins; here the last member to leave
// deletes it, so that a participant still in Enter finds it (see
// [DoubleBarrier.Leave]).
//
// Unlike Kazoo, the waits here follow the connection: a disconnect does not
// lose a wake-up (watches are restored on reconnect), a session loss is
// noticed and the wait goes on in the new session (a DoubleBarrier
// participant enters again with a new node), and a closed client ends every
// wait with keeper.ErrClosed. Every wait is bounded by its ctx and leaves no
// watch behind on the server.
//
// Concurrency: the methods of Barrier and DoubleBarrier are safe for
// concurrent use; a DoubleBarrier runs one Enter or Leave at a time.
package barrier
