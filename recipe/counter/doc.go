// Package counter provides shared numbers on ZooKeeper: Counter (Kazoo's
// Counter, a number kept as text), SharedCount (Curator's SharedCount, a
// watched int32) and AtomicLong (Curator's DistributedAtomicLong, an int64
// with compare-and-set). Each keeps its value in one persistent node in
// exactly the format of the library it comes from, so Keeper, Kazoo and
// Curator programs can share one value:
//
//   - Counter: Python's repr of an int or a float as ASCII text ("42",
//     "3.75"); empty data is the default.
//   - SharedCount: 4 bytes, a big-endian int32.
//   - AtomicLong: 8 bytes, a big-endian int64; a missing node or empty
//     data is 0. Its promoted lock (WithPromotedLock) is Curator's
//     InterProcessMutex.
//
// Quick start:
//
//	hits := counter.New[int64](c, "/stats/hits", 0)
//	n, err := hits.Add(ctx, 1)
//
//	seq := counter.NewAtomicLong(c, "/ids/next")
//	r, err := seq.Increment(ctx)
//	if err == nil && r.Succeeded { use(r.PostValue) }
//
// # Exactly once across lost replies
//
// A change is a read followed by a write of the new value at the version
// read. When the reply to such a write is lost (the connection dropped),
// the write may or may not have been applied, and writing again could add
// twice: Curator's DistributedAtomicLong does. Here every write is a
// transaction that also creates a marker node, an ephemeral child of the
// value's node named "keeper-op-<handle id>-<n>", unique to that write.
// After a lost reply the handle syncs with the leader and looks for the
// marker: if it is there the write was applied, and if it is not (on the
// same session, whose ephemeral nodes cannot vanish) it was not and will
// not be, and the change is read and written anew. Each write also deletes
// up to four markers of the handle's earlier writes, so a handle leaves
// at most a few markers under the node; Close deletes them, and the
// server deletes them with the session. Kazoo and Curator ignore the
// children of the value's node. Only when a reply is lost and the session
// also ends before the marker could be looked up is the outcome unknown:
// the call then returns an error matching ErrUnknownOutcome.
//
// # Concurrency
//
// All methods are safe for concurrent use; one handle may be shared by
// many goroutines.
package counter
