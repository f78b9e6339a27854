package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// Node-name markers: the text right before the server's sequence suffix.
const (
	writeMarker   = "__lock__"  // Kazoo's Lock and WriteLock
	readMarker    = "__rlock__" // Kazoo's ReadLock
	curatorMarker = "-lock-"    // Curator's InterProcessMutex: _c_<uuid>-lock-<seq>
)

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
	curator bool
}

// WithCuratorLayout makes a Lock (or WriteLock) name its nodes as Apache
// Curator's InterProcessMutex does, "_c_<uuid>-lock-<seq>", so that it and
// Curator processes exclude each other. The default is Kazoo's layout,
// "<uuid hex>__lock__<seq>". Whatever the layout, a Lock waits for the
// nodes of both (and for Kazoo's readers). A ReadLock has no Curator
// layout: with this option its Acquire fails with ErrBadOption.
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

	turn chan struct{} // 1-buffered: serialises Acquire and Release

	mu      sync.Mutex
	node    string      // our node's path while held
	fence   *node.Fence // watches the held node
	pending string      // a node whose delete failed, deleted again later
}

// New returns a Lock on path (the parent of the contenders' nodes).
// identifier is written as each node's data, as Kazoo does, so Contenders
// can name the waiting processes. Nothing is sent until Acquire.
func New(c *keeper.Client, path, identifier string, opts ...Option) *Lock {
	return newLock(c, path, identifier, false, opts)
}

// NewWriteLock returns the writing side of a read/write lock on path: it
// excludes every other writer and reader. It is Kazoo's WriteLock, and on
// the wire the same as a Lock.
func NewWriteLock(c *keeper.Client, path, identifier string, opts ...Option) *Lock {
	return newLock(c, path, identifier, false, opts)
}

// NewReadLock returns the reading side of a read/write lock on path:
// readers share the lock and wait only for writers that came before them.
// It is Kazoo's ReadLock (nodes "<uuid hex>__rlock__<seq>").
func NewReadLock(c *keeper.Client, path, identifier string, opts ...Option) *Lock {
	return newLock(c, path, identifier, true, opts)
}

func newLock(c *keeper.Client, path, identifier string, read bool, opts []Option) *Lock {
	l := &Lock{
		c:    c,
		path: path,
		data: []byte(identifier),
		read: read,
		turn: make(chan struct{}, 1),
	}
	for _, o := range opts {
		if o != nil {
			o(&l.cfg)
		}
	}
	l.marker = writeMarker
	if l.cfg.curator {
		l.marker = curatorMarker
	}
	if read {
		l.marker = readMarker
		l.waitFor = []string{writeMarker, curatorMarker}
	} else {
		l.waitFor = []string{writeMarker, readMarker, curatorMarker}
	}
	l.all = []string{writeMarker, readMarker, curatorMarker}
	return l
}

func closedChan() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// Path returns the lock's path.
func (l *Lock) Path() string { return l.path }

// Node returns the path of the node that holds the lock, or "" when the
// lock is not held.
func (l *Lock) Node() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fence == nil || !l.fence.Held() {
		return ""
	}
	return l.node
}

// prefix returns a fresh unique name prefix for our node.
func (l *Lock) prefix() string {
	if l.cfg.curator && !l.read {
		return "_c_" + node.UUID() + "-lock-"
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
	if l.read && l.cfg.curator {
		return false, fmt.Errorf("%w: WithCuratorLayout on a ReadLock", ErrBadOption)
	}
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("lock: acquire %s: %w", l.path, ctx.Err())
	}
	defer func() { <-l.turn }()
	if l.IsAcquired() {
		return false, fmt.Errorf("%w: %s", ErrHeld, l.path)
	}
	if err := l.deletePending(ctx); err != nil {
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
				return deleteOwn(cctx, l.c, found)
			})
			return false, fmt.Errorf("lock: acquire %s: %w", l.path, err)
		}
		ok, err := l.wait(ctx, p, prefix, st.EphemeralOwner, blocking)
		switch {
		case errors.Is(err, errVanished):
			// Our node is gone, or is a lost session's, before we held
			// the lock: make sure it is gone (it must not stay in the
			// queue) and queue again.
			if err := deleteOwn(ctx, l.c, p); err != nil {
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
func (l *Lock) wait(ctx context.Context, p, prefix string, owner int64, blocking bool) (bool, error) {
	name := node.Base(p)
	self, ok := node.Parse(name, l.marker)
	if !ok {
		return false, fmt.Errorf("lock: %s: created node %q has no sequence", l.path, name)
	}
	delay := 10 * time.Millisecond
	for {
		kids, err := l.c.Children(ctx, l.path)
		if err != nil {
			if transient(err) {
				if err := sleep(ctx, &delay); err != nil {
					return false, err
				}
				continue
			}
			return false, err
		}
		if dup := duplicates(kids, prefix, name); len(dup) > 0 {
			// A create of ours applied after all, later than the
			// protected create looked for it: it must not stay in the
			// queue, where nobody would ever delete it.
			for _, d := range dup {
				if err := deleteOwn(ctx, l.c, keeper.JoinPath(l.path, d)); err != nil {
					return false, err
				}
			}
			continue
		}
		pred, found := l.predecessor(kids, self)
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
				owner = st.EphemeralOwner
			}
			return l.claim(p, owner)
		}
		if !blocking {
			return false, nil
		}
		predPath := keeper.JoinPath(l.path, pred)
		_, _, ch, err := l.c.GetW(ctx, predPath)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			continue // gone already: look again
		case err != nil && ctx.Err() != nil:
			l.removeWatch(ctx, predPath)
			return false, err
		case err != nil && transient(err):
			if err := sleep(ctx, &delay); err != nil {
				return false, err
			}
			continue
		case err != nil:
			return false, err
		}
		delay = 10 * time.Millisecond
		select {
		case <-ch:
			// Deleted, changed, or the session is gone: look again.
		case <-ctx.Done():
			l.removeWatch(ctx, predPath)
			return false, ctx.Err()
		}
	}
}

// duplicates returns the names in kids that start with prefix, other than
// name.
func duplicates(kids []string, prefix, name string) []string {
	var out []string
	for _, k := range kids {
		if k != name && strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// predecessor returns the node we must wait for: the last conflicting
// contender before self ("" if none); found is false when self is not
// among kids.
func (l *Lock) predecessor(kids []string, self node.Entry) (pred string, found bool) {
	for _, e := range node.SortBySeq(kids, l.all...) {
		if e.Name == self.Name {
			return pred, true
		}
		for _, m := range l.waitFor {
			if e.Marker == m {
				pred = e.Name
			}
		}
	}
	return "", false
}

// claim takes the lock with the node p, created by the session owner,
// if that is still the current session (else p is a lost session's node,
// listed before the server deleted it), and starts its fence, which
// checks on the server that p exists and is owner's.
func (l *Lock) claim(p string, owner int64) (bool, error) {
	if owner == 0 || owner != l.c.SessionID() {
		return false, errVanished
	}
	f := node.NewFence(l.c, p, owner, nil)
	if !f.Held() {
		f.Stop()
		return false, errVanished
	}
	l.mu.Lock()
	l.node, l.fence = p, f
	l.mu.Unlock()
	return true, nil
}

// fail cleans up after a failed or cancelled acquisition: it deletes the
// node p (when not "") with a fresh bounded context and returns cause
// (nil for a plain TryAcquire failure) wrapped.
func (l *Lock) fail(ctx context.Context, p string, cause error) error {
	if p != "" {
		err := node.Cleanup(ctx, l.c, func(cctx context.Context) error { return deleteOwn(cctx, l.c, p) })
		if err != nil {
			l.mu.Lock()
			l.pending = p
			l.mu.Unlock()
		}
	}
	if cause == nil {
		return nil
	}
	return fmt.Errorf("lock: acquire %s: %w", l.path, cause)
}

// removeWatch takes our data watch off path on the server, after a
// cancelled wait. It also ends other waiters' watches on the same path in
// this client, which then look again and set theirs anew.
func (l *Lock) removeWatch(ctx context.Context, path string) {
	_ = node.Cleanup(ctx, l.c, func(cctx context.Context) error {
		return l.c.RemoveWatches(cctx, path, keeper.WatchData)
	})
}

// deleteOwn deletes p (a node only we create: its name holds our unique
// id), retrying while the outcome is unknown; a node that is gone is fine.
func deleteOwn(ctx context.Context, c *keeper.Client, p string) error {
	delay := 10 * time.Millisecond
	for {
		err := c.Delete(ctx, p, keeper.AnyVersion)
		if err == nil || errors.Is(err, keeper.ErrNoNode) {
			return nil
		}
		if errors.Is(err, keeper.ErrClosed) {
			return nil // the session is gone, and its ephemeral node with it
		}
		if !transient(err) {
			return err
		}
		if err := sleep(ctx, &delay); err != nil {
			return err
		}
	}
}

// deletePending deletes a node left by an earlier failed delete.
func (l *Lock) deletePending(ctx context.Context) error {
	l.mu.Lock()
	p := l.pending
	l.mu.Unlock()
	if p == "" {
		return nil
	}
	if err := deleteOwn(ctx, l.c, p); err != nil {
		return fmt.Errorf("lock: delete %s left by an earlier call: %w", p, err)
	}
	l.mu.Lock()
	l.pending = ""
	l.mu.Unlock()
	return nil
}

// Release releases the lock: it deletes its node (retrying on connection
// loss until ctx ends) and closes Lost. It returns ErrNotHeld when the lock
// was not held, and an error matching ErrLost (and the cause) when it had
// been lost meanwhile: then no node is deleted, as it is not ours. When
// the delete fails the node is deleted again by the next Release or
// Acquire, and until then the lock counts as not held.
func (l *Lock) Release(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock: release %s: %w", l.path, ctx.Err())
	}
	defer func() { <-l.turn }()
	l.mu.Lock()
	f, p := l.fence, l.node
	l.fence, l.node = nil, ""
	if f == nil && l.pending != "" {
		l.mu.Unlock()
		return l.deletePending(ctx)
	}
	l.mu.Unlock()
	if f == nil {
		return fmt.Errorf("%w: %s", ErrNotHeld, l.path)
	}
	if lost := f.Stop(); lost != nil {
		return fmt.Errorf("%w: %s: %w", ErrLost, l.path, lost)
	}
	if err := deleteOwn(ctx, l.c, p); err != nil {
		l.mu.Lock()
		l.pending = p
		l.mu.Unlock()
		return fmt.Errorf("lock: release %s: %w", l.path, err)
	}
	return nil
}

// IsAcquired reports whether the lock is held now: acquired, not released
// and not lost. Unlike Kazoo's is_acquired it turns false when the lock is
// lost.
func (l *Lock) IsAcquired() bool {
	l.mu.Lock()
	f := l.fence
	l.mu.Unlock()
	return f != nil && f.Held()
}

// Lost returns a channel that is closed when the lock is not held: after
// a loss (the session ended, or the node was deleted or, after a reconnect,
// found gone or owned by another session), after Release, and before the
// first Acquire. Take it after Acquire returns; each acquisition has its
// own channel. Err tells whether it was lost.
func (l *Lock) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fence == nil {
		return closedChan()
	}
	return l.fence.Lost()
}

// Suspended returns a channel that is closed at the first disconnect
// while the lock is held (the session, and so the lock, may still be
// alive), or when the lock is not held. Applications that follow
// Curator's conservative advice stop acting as the holder at that point.
func (l *Lock) Suspended() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fence == nil {
		return closedChan()
	}
	return l.fence.Suspended()
}

// Err returns why the held lock was lost (an error matching ErrLost and
// its cause), or nil.
func (l *Lock) Err() error {
	l.mu.Lock()
	f := l.fence
	l.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrLost, l.path, err)
	}
	return nil
}

// Contenders returns the identifiers (node data) of every contender, in
// the order in which they hold or will get the lock, the holder first:
// writers and readers of either layout. Nodes that vanish meanwhile are
// left out. A missing path has no contenders.
func (l *Lock) Contenders(ctx context.Context) ([]string, error) {
	return contenders(ctx, l.c, l.path, l.all)
}

func contenders(ctx context.Context, c *keeper.Client, path string, markers []string) ([]string, error) {
	kids, err := c.Children(ctx, path)
	if errors.Is(err, keeper.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock: contenders of %s: %w", path, err)
	}
	out := []string{}
	for _, e := range node.SortBySeq(kids, markers...) {
		data, _, err := c.Get(ctx, keeper.JoinPath(path, e.Name))
		if errors.Is(err, keeper.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lock: contenders of %s: %w", path, err)
		}
		out = append(out, string(data))
	}
	return out, nil
}

// transient reports whether an error may go away by itself: the connection
// dropped, or the session was replaced by a new one.
func transient(err error) bool {
	return keeper.IsRetryable(err) || errors.Is(err, keeper.ErrSessionExpired) || errors.Is(err, keeper.ErrSessionMoved)
}

// sleep waits *delay (then doubles it, up to 1s) or until ctx ends.
func sleep(ctx context.Context, delay *time.Duration) error {
	t := time.NewTimer(*delay)
	defer t.Stop()
	*delay = min(*delay*2, time.Second)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
