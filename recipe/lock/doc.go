// Package lock provides distributed locks on ZooKeeper: Lock (a fair
// mutex), ReadLock and WriteLock (a read/write lock), Semaphore (at most
// n holders) and MultiLock (several locks taken all or nothing). Their
// znodes are named and filled exactly as Kazoo's, so Keeper and Kazoo
// processes exclude each other on the same path; WithCuratorLayout does the
// same for Apache Curator's InterProcessMutex, InterProcessReadWriteLock and
// InterProcessSemaphoreV2 (whose maximum may come from a SharedCount,
// WithMaxLeasesFrom), and Revoke is Curator's Revoker.
//
// Quick start:
//
//	l := lock.New(c, "/locks/job", "worker-1")
//	if err := l.Acquire(ctx); err != nil { ... }
//	defer l.Release(context.WithoutCancel(ctx))
//	select {
//	case <-l.Lost(): // the session ended or the node is gone: stop now
//	case <-work(ctx):
//	}
//
// # Fencing
//
// A lock held through a ZooKeeper session is only as good as the session.
// Lost is closed when the session that owns the lock node is lost (expired
// as the server says, or presumed expired by the client after a whole
// session timeout without a server), when the client is closed, and when the
// node is deleted or, after a reconnect, found gone or owned by another
// session. IsAcquired turns false at the same time (Kazoo's is_acquired does
// not). Suspended is closed at a disconnect, when the lock may still be
// held; applications that must never overlap stop there, and may resume
// when Verified is closed: the client reconnected in the same session and
// found the node still there and the session's (Suspended then waits for
// the next disconnect).
//
// Guard makes this a fence the server enforces: it adds to a transaction a
// Check of the lock's node, which is ephemeral and unique to this holder,
// so a write made while holding is refused by the server (ErrNoNode) once
// the lock is lost, whatever this process believes:
//
//	_, err := l.Guard(c.Txn()).Set("/config", data, keeper.AnyVersion).Commit(ctx)
//
// Token is the holder's fencing token for resources outside ZooKeeper: its
// node's czxid, larger for every later holder.
//
// Revocation is cooperative, as Curator's: Revoke writes "__REVOKE__" to a
// holder's node, and that holder's Revoked channel is closed; it releases
// when it chooses to.
//
// # Protected creates and cleanup
//
// Each node's name starts with a random id, so a create whose reply was lost
// is found again by that id instead of leaving an orphan node that would
// block the queue. A cancelled Acquire deletes its node and removes its watch;
// Release deletes the node, which also fires (and so removes) the holder's
// own watch: nothing is left on the server.
//
// # Concurrency
//
// All methods are safe for concurrent use; Acquire, TryAcquire and Release
// of one value run one at a time. A value holds its lock at most once: use
// one value per contender, even within a process.
package lock
