package lock

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// Node-name markers: the text right before the server's sequence suffix.
const (
	writeMarker      = "__lock__"  // Kazoo's Lock and WriteLock
	readMarker       = "__rlock__" // Kazoo's ReadLock
	curatorMarker    = "-lock-"    // Curator's InterProcessMutex: _c_<uuid>-lock-<seq>
	curatorRead      = "__READ__"  // Curator's InterProcessReadWriteLock reader: _c_<uuid>-__READ__<seq>
	curatorWrite     = "__WRIT__"  // and its writer: _c_<uuid>-__WRIT__<seq>
	curatorLeaseMark = "-lease-"   // Curator's InterProcessSemaphoreV2 lease: _c_<uuid>-lease-<seq>
)

// allMarkers are the markers of every contender a lock of any layout waits
// for, in the order tried when parsing a name.
var allMarkers = []string{writeMarker, readMarker, curatorMarker, curatorRead, curatorWrite}

// writerMarkers are the markers of the contenders that exclude readers.
var writerMarkers = []string{writeMarker, curatorMarker, curatorWrite}

var (
	// ErrLost reports that a held lock (or lease) was lost: its session
	// ended, or its node was deleted or found owned by another session.
	// The error also matches its cause (keeper.ErrSessionExpired,
	// keeper.ErrClosed, ...).
	ErrLost = errors.New("lock: lost")
	// ErrNotHeld is returned by Release when the lock is not held.
	ErrNotHeld = errors.New("lock: not held")
	// ErrHeld is returned by Acquire and TryAcquire when this Lock already
	// holds the lock: locks are not re-entrant.
	ErrHeld = errors.New("lock: already held by this Lock")
	// ErrMaxLeases is returned by a Semaphore whose max leases differ from
	// the number stored in its node by other users of the same path.
	ErrMaxLeases = errors.New("lock: inconsistent max leases")
	// ErrBadOption reports a misused option.
	ErrBadOption = errors.New("lock: bad option")
)

// Option configures a Lock.
type Option func(*config)

type config struct {
	curator   bool
	countPath string // Semaphore: WithMaxLeasesFrom
}

// WithCuratorLayout names the nodes as Apache Curator does, so that Keeper
// and Curator processes exclude each other on the same path:
//
//   - a Lock (New) as InterProcessMutex: "_c_<uuid>-lock-<seq>";
//   - a WriteLock and a ReadLock as InterProcessReadWriteLock:
//     "_c_<uuid>-__WRIT__<seq>" and "_c_<uuid>-__READ__<seq>";
//   - a Semaphore as InterProcessSemaphoreV2: leases
//     "<path>/leases/_c_<uuid>-lease-<seq>" taken while holding the mutex
//     "<path>/locks" (see NewSemaphore).
//
// The default is Kazoo's layout, "<uuid hex>__lock__<seq>" and
// "<uuid hex>__rlock__<seq>". Whatever the layout, a writer waits for the
// nodes of every layout before its own, and a reader for the writers of
// every layout, so mixed layouts on one path still exclude each other
// (Curator's and Kazoo's own locks only know their layout).
func WithCuratorLayout() Option { return func(c *config) { c.curator = true } }

// Lock is a fair (first come, first served) distributed mutex on a
// ZooKeeper path, compatible with Kazoo's Lock, ReadLock and WriteLock and,
// with WithCuratorLayout, with Curator's InterProcessMutex.
//
// Each contender creates an ephemeral sequential child of the path, named
// "<uuid hex>__lock__<seq>" (readers: "__rlock__"), with the identifier as
// data; the lowest sequence holds the lock. A waiter watches only the
// node just before its own (its predecessor), so a release wakes one
// waiter. Unlike Kazoo's Lock, a Lock also waits for readers (it is
// Kazoo's WriteLock).
//
// A Lock is held by the Lock value, not by a goroutine: any goroutine may
// Release it. Its methods are safe for concurrent use, but one Lock holds
// the lock at most once (no re-entrance); use one Lock per contender.
type Lock struct {
	c       *keeper.Client
	path    string
	data    []byte
	read    bool
	cfg     config
	marker  string   // our node's marker
	waitFor []string // markers of the nodes we wait for
	all     []string // markers of every contender (for Contenders)

	held *node.Holder // the held node, and the turn of Acquire and Release
}

// New returns a Lock on path (the parent of the contenders' nodes).
// identifier is written as each node's data, as Kazoo does, so Contenders
// can name the waiting processes. Nothing is sent until Acquire.
func New(c *keeper.Client, path, identifier string, opts ...Option) *Lock {
	return newLock(c, path, identifier, false, false, opts)
}

// NewWriteLock returns the writing side of a read/write lock on path: it
// excludes every other writer and reader. It is Kazoo's WriteLock, and on
// the wire the same as a Lock; with WithCuratorLayout it is the write lock
// of Curator's InterProcessReadWriteLock (nodes "_c_<uuid>-__WRIT__<seq>",
// holding the lock only when first among all the path's children).
func NewWriteLock(c *keeper.Client, path, identifier string, opts ...Option) *Lock {
	return newLock(c, path, identifier, false, true, opts)
}

// NewReadLock returns the reading side of a read/write lock on path:
// readers share the lock and wait only for writers that came before them.
// It is Kazoo's ReadLock (nodes "<uuid hex>__rlock__<seq>"); with
// WithCuratorLayout the read lock of Curator's InterProcessReadWriteLock
// (nodes "_c_<uuid>-__READ__<seq>"). A reader waits for the last writer
// before it to go, then looks again; Curator's reader watches the first
// earlier writer instead, which wakes it once per writer (both are correct,
// and they share a path).
func NewReadLock(c *keeper.Client, path, identifier string, opts ...Option) *Lock {
	return newLock(c, path, identifier, true, true, opts)
}

func newLock(c *keeper.Client, path, identifier string, read, rw bool, opts []Option) *Lock {
	l := &Lock{
		c:    c,
		path: path,
		data: []byte(identifier),
		read: read,
		held: node.NewHolder(c, "lock", path, ErrNotHeld, ErrLost),
	}
	node.ApplyOptions(&l.cfg, opts)
	switch {
	case read && l.cfg.curator:
		l.marker = curatorRead
	case read:
		l.marker = readMarker
	case rw && l.cfg.curator:
		l.marker = curatorWrite
	case l.cfg.curator:
		l.marker = curatorMarker
	default:
		l.marker = writeMarker
	}
	if read {
		l.waitFor = writerMarkers
	} else {
		l.waitFor = nil // everyone before us
	}
	l.all = allMarkers
	return l
}

// Path returns the lock's path.
func (l *Lock) Path() string { return l.path }

// Node returns the path of the node that holds the lock, or "" when the
// lock is not held.
func (l *Lock) Node() string { return l.held.Node() }

// prefix returns a fresh unique name prefix for our node.
func (l *Lock) prefix() string {
	switch l.marker {
	case curatorMarker:
		return "_c_" + node.UUID() + curatorMarker
	case curatorRead, curatorWrite:
		return "_c_" + node.UUID() + "-" + l.marker
	}
	return node.UUIDHex() + l.marker
}

// Acquire waits until it holds the lock, or ctx ends. When ctx ends first,
// Acquire deletes its node (with a fresh context bounded by the session
// timeout), removes its watch and returns an error matching ctx.Err().
// After Acquire returns nil, Lost tells when the lock is lost.
//
// If its node vanishes while it waits (its session expired), Acquire
// creates a new one at the end of the queue and goes on waiting; once the
// lock is held, a lost node ends the holding instead (see Lost).
func (l *Lock) Acquire(ctx context.Context) error {
	_, err := l.acquire(ctx, true)
	return err
}

// TryAcquire takes the lock if nobody holds or waits for it before us
// (Kazoo's acquire(blocking=False)) and returns whether it did. It does
// not wait for other contenders, but it does wait (bounded by ctx) for
// the server's replies. When it fails its node is deleted.
func (l *Lock) TryAcquire(ctx context.Context) (bool, error) {
	return l.acquire(ctx, false)
}

func (l *Lock) acquire(ctx context.Context, blocking bool) (bool, error) {
	if err := l.held.Begin(ctx, "acquire"); err != nil {
		return false, err
	}
	defer l.held.End()
	if l.IsAcquired() {
		return false, fmt.Errorf("%w: %s", ErrHeld, l.path)
	}
	if err := l.held.DeletePending(ctx); err != nil {
		return false, err
	}
	for {
		prefix := l.prefix()
		var st keeper.Stat
		p, err := node.ProtectedCreateStat(ctx, l.c, l.path, prefix, l.data, &st)
		if err != nil {
			// The create may have been applied with its reply lost.
			_ = node.Cleanup(ctx, l.c, func(cctx context.Context) error {
				found, err := node.Find(cctx, l.c, l.path, prefix)
				if err != nil || found == "" {
					return err
				}
				return node.DeleteOwn(cctx, l.c, found)
			})
			return false, fmt.Errorf("lock: acquire %s: %w", l.path, err)
		}
		ok, err := l.wait(ctx, p, prefix, st.EphemeralOwner, st.Czxid, blocking)
		switch {
		case errors.Is(err, errVanished):
			// Our node is gone, or is a lost session's, before we held
			// the lock: make sure it is gone (it must not stay in the
			// queue) and queue again.
			if err := node.DeleteOwn(ctx, l.c, p); err != nil {
				return false, l.fail(ctx, p, err)
			}
			continue
		case err != nil:
			return false, l.fail(ctx, p, err)
		case !ok:
			return false, l.fail(ctx, p, nil)
		}
		return true, nil
	}
}

// errVanished: our node disappeared (or belongs to a lost session) while
// we were waiting.
var errVanished = errors.New("lock: own node vanished")

// wait waits until the node p holds the lock (true), or, when not
// blocking, reports false at once if it does not.
func (l *Lock) wait(ctx context.Context, p, prefix string, owner, czxid int64, blocking bool) (bool, error) {
	name := path.Base(p)
	if _, ok := node.Parse(name, l.marker); !ok {
		return false, fmt.Errorf("lock: %s: created node %q has no sequence", l.path, name)
	}
	var b node.Backoff
	for {
		sess := l.c.SessionID()
		kids, err := l.c.Children(ctx, l.path)
		if err != nil {
			if node.IsTransient(err) {
				if err := b.Sleep(ctx); err != nil {
					return false, err
				}
				continue
			}
			return false, err
		}
		if dup := node.Strays(kids, prefix, name); len(dup) > 0 {
			// A create of ours applied after all, later than the
			// protected create looked for it: it must not stay in the
			// queue, where nobody would ever delete it.
			for _, d := range dup {
				if err := node.DeleteOwn(ctx, l.c, keeper.JoinPath(l.path, d)); err != nil {
					return false, err
				}
			}
			continue
		}
		pred, found := node.Predecessor(kids, name, l.all, l.waitFor)
		if !found {
			return false, errVanished
		}
		if pred == "" {
			if owner != l.c.SessionID() {
				// Created by an earlier session of the client, or a
				// session change raced with the create: ask the server.
				st, err := l.c.Exists(ctx, p)
				if err != nil {
					return false, err
				}
				if st == nil {
					return false, errVanished
				}
				owner, czxid = st.EphemeralOwner, st.Czxid
			}
			return l.claim(p, owner, czxid)
		}
		if !blocking {
			return false, nil
		}
		if owner != 0 && owner != sess {
			// Our node belongs to a session the client had given up
			// before this listing (sess is the later one, or 0 between
			// sessions). The listing still shows the node only because
			// the server had not closed that session yet; it deletes
			// the node soon, and a watch on pred would not tell us.
			// Queue again now.
			return false, errVanished
		}
		// Deleted, changed, or the session is gone: look again.
		if _, err := node.WaitGoneIn(ctx, l.c, keeper.JoinPath(l.path, pred), &b, sess); err != nil {
			return false, err
		}
	}
}

// claim takes the lock with the node p, created by the session owner,
// if that is still the current session (else p is a lost session's node,
// listed before the server deleted it), and starts its fence, which
// checks on the server that p exists and is owner's.
func (l *Lock) claim(p string, owner, czxid int64) (bool, error) {
	if owner == 0 || owner != l.c.SessionID() {
		return false, errVanished
	}
	f := node.NewFence(l.c, p, owner, nil)
	if !f.Held() {
		f.Stop()
		return false, errVanished
	}
	l.held.Hold(p, czxid, f)
	return true, nil
}

// fail cleans up after a failed or cancelled acquisition: it deletes the
// node p (when not "") with a fresh bounded context and returns cause
// (nil for a plain TryAcquire failure) wrapped.
func (l *Lock) fail(ctx context.Context, p string, cause error) error {
	if p != "" {
		l.held.Discard(ctx, p)
	}
	if cause == nil {
		return nil
	}
	return fmt.Errorf("lock: acquire %s: %w", l.path, cause)
}

// Release releases the lock: it deletes its node (retrying on connection
// loss until ctx ends) and closes Lost. It returns ErrNotHeld when the lock
// was not held, and an error matching ErrLost (and the cause) when it had
// been lost meanwhile: then no node is deleted, as it is not ours. When
// the delete fails the node is deleted again by the next Release or
// Acquire, and until then the lock counts as not held.
func (l *Lock) Release(ctx context.Context) error { return l.held.Release(ctx) }

// IsAcquired reports whether the lock is held now: acquired, not released
// and not lost. Unlike Kazoo's is_acquired it turns false when the lock is
// lost.
func (l *Lock) IsAcquired() bool { return l.held.Held() }

// Lost returns a channel that is closed when the lock is not held: after
// a loss (the session ended, or the node was deleted or, after a reconnect,
// found gone or owned by another session), after Release, and before the
// first Acquire. Take it after Acquire returns; each acquisition has its
// own channel. Err tells whether it was lost.
func (l *Lock) Lost() <-chan struct{} { return l.held.Lost() }

// Suspended returns a channel that is closed at the next disconnect
// while the lock is held (the session, and so the lock, may still be
// alive), or when the lock is not held. Applications that follow
// Curator's conservative advice stop acting as the holder at that point,
// and may resume when Verified is closed. After each verification
// Suspended returns a new channel for the next disconnect.
func (l *Lock) Suspended() <-chan struct{} { return l.held.Suspended() }

// Verified returns a channel that is closed when, after a disconnect, the
// lock is known to be still held: the client reconnected in the same
// session and found the lock's node there and owned by that session. While
// the lock is held and connected it is closed already; it is also closed
// when the lock is lost or released (Lost tells which). A holder that
// paused on Suspended resumes on Verified:
//
//	<-l.Suspended()
//	pause()
//	select {
//	case <-l.Verified(): // still ours: resume
//	case <-l.Lost():     // gone: stop
//	}
func (l *Lock) Verified() <-chan struct{} { return l.held.Verified() }

// Revoked returns a channel that is closed when another process asks this
// holder to release the lock (Revoke, or Curator's Revoker, on its Node),
// or when the lock is not held. Releasing is up to the holder.
func (l *Lock) Revoked() <-chan struct{} { return l.held.Revoked() }

// Guard adds to t the condition that this Lock still holds the lock: a
// Check that its node exists. The node is ephemeral and only this Lock
// creates a node of that name, so the server applies the transaction only
// while the lock is held, and refuses it (with keeper.ErrNoNode, in a
// *keeper.TxnError whose Index is the check's) once the session or the node
// is gone, whatever this process believes:
//
//	_, err := l.Guard(c.Txn()).Set("/config", data, keeper.AnyVersion).Commit(ctx)
//
// When the lock is not held the check names a node that does not exist, so
// the transaction is refused too.
func (l *Lock) Guard(t *keeper.Txn) *keeper.Txn { return l.held.Guard(t) }

// Token returns the lock's fencing token while it is held: its node's
// czxid, larger for every later holder, for resources outside ZooKeeper
// that can remember the largest token seen and refuse smaller ones. It is
// 0 when the lock is not held.
func (l *Lock) Token() int64 { return l.held.Token() }

// Revoke asks the holder of the lock node at nodePath (a Node of another
// Lock, or Curator's lock node) to release it, as Curator's
// Revoker.attemptRevoke: it writes RevokeMessage as the node's data, which
// the holder sees on Revoked (Curator's RevocationListener). A node that is
// gone needs nothing (nil). The holder decides whether to let go.
func Revoke(ctx context.Context, c *keeper.Client, nodePath string) error {
	if err := node.Revoke(ctx, c, nodePath); err != nil {
		return fmt.Errorf("lock: revoke %s: %w", nodePath, err)
	}
	return nil
}

// RevokeMessage is the data Revoke writes: Curator's "__REVOKE__".
const RevokeMessage = node.RevokeMessage

// Err returns why the held lock was lost (an error matching ErrLost and
// its cause), or nil.
func (l *Lock) Err() error { return l.held.Err() }

// Contenders returns the identifiers (node data) of every contender, in
// the order in which they hold or will get the lock, the holder first:
// writers and readers of either layout. Nodes that vanish meanwhile are
// left out. A missing path has no contenders.
func (l *Lock) Contenders(ctx context.Context) ([]string, error) {
	ids, err := node.Contenders(ctx, l.c, l.path, l.all...)
	if err != nil {
		return nil, fmt.Errorf("lock: contenders of %s: %w", l.path, err)
	}
	return ids, nil
}
