// Package election elects one leader among processes that contend on the
// same path.
//
// [Election] is Kazoo's Election: Run blocks until this process leads, runs
// a function while it leads, then gives leadership up.
//
//	e := election.New(c, "/app/leader", "host-1")
//	err := e.Run(ctx, func(ctx context.Context) error {
//		// lead until ctx is cancelled: leadership lost, Cancel, or ctx ended
//		return serve(ctx)
//	})
//
// [LeaderLatch] is Curator's LeaderLatch: once started, it contends until
// closed, and reports whether it leads.
//
//	l := election.NewLeaderLatch(c, "/app/latch", "host-1")
//	if err := l.Start(ctx); err != nil { ... }
//	defer l.Close()
//	if err := l.Await(ctx); err != nil { ... }
//	lost := l.Lost() // closed when this term of leadership ends
//
// [LeaderSelector] is Curator's LeaderSelector: each time it is elected it
// runs a function for as long as it leads; with AutoRequeue it contends
// again after each term, until closed.
//
//	s := election.NewLeaderSelector(c, "/app/selector", "host-1", func(ctx context.Context) {
//		serve(ctx) // until ctx is cancelled: leadership lost, interrupted, or Close
//	}, election.AutoRequeue())
//	if err := s.Start(); err != nil { ... }
//	defer s.Close()
//
// Layouts: an Election uses Kazoo's lock nodes,
// "<path>/<uuid hex>__lock__<seq>" holding the identifier, so Keeper and
// Kazoo contenders share an election; a LeaderLatch uses Curator's,
// "<path>/_c_<uuid>-latch-<seq>" holding the id, so Keeper and Curator
// latches share one; a LeaderSelector uses Curator's InterProcessMutex
// nodes, "<path>/_c_<uuid>-lock-<seq>" holding the id, so Keeper and
// Curator selectors share one. All are ephemeral-sequential nodes created with
// protection: a create whose reply was lost is found again by its unique
// prefix instead of leaving an orphan that would block the election.
// Contenders are ordered by sequence number, correctly even after the
// server's counter wrapped past 2^31.
//
// Fencing: a leader is told when it stops leading, through the context
// given to the function (Election) or the Lost channel (LeaderLatch): when
// the session is lost (confirmed by the server or presumed by the client),
// when its node is deleted, or, after a reconnect, when its node turns out to
// be gone or owned by another session. A contender claims leadership only
// with a node that exists and whose ephemeralOwner is the client's current
// session. By default a disconnect alone does not end leadership, until the
// session is lost; StopOnSuspend ends it at the first disconnect.
//
// Fenced writes: Guard adds to a transaction the condition that the
// current term still holds (a Check of the leader's node, which is
// ephemeral and unique to the term), so a write made by a leader that lost
// leadership is refused by the server, whatever the leader believes; Token
// is the term's fencing token (the node's czxid, larger for every later
// term) for resources outside ZooKeeper. After a disconnect, Verified is
// closed once the node was found, in the same session, still there and the
// session's: a leader that paused on Suspended can resume then.
//
// Every wait is bounded by its ctx; a contender that gives up deletes its
// node and leaves no watch on the server.
//
// Concurrency: the methods of Election and LeaderLatch are safe for
// concurrent use.
package election
