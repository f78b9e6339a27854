package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrLost reports that the item this handle held is no longer held: its
// session ended (the item is available to others again) or its lock node
// is gone.
var ErrLost = errors.New("queue: held item lost")

// LockingQueue is Kazoo's LockingQueue: items are persistent sequential
// nodes "<path>/entries/entry-<priority>-<sequence>", and a consumer that
// takes one creates the ephemeral lock node "<path>/taken/<entry name>"
// whose data is the handle's id (a random UUID in hexadecimal). Consume
// deletes the item and its lock in one transaction; Release deletes only
// the lock. An item whose consumer's session ends becomes available
// again: an item is never lost, and never held by two consumers at once.
//
// A handle holds at most one item at a time, as Kazoo's: Get returns the
// held item again until it is consumed or released. Create one with
// NewLocking. Its methods are safe for concurrent use; Get, Consume and
// Release run one at a time.
type LockingQueue struct {
	c       *keeper.Client
	path    string
	entries string
	taken   string
	id      []byte
	once    *node.Once
	turn    chan struct{}

	mu      sync.Mutex
	held    *heldItem
	ensured bool
	cache   []string // names of the last listing not yet tried (under turn)
}

type heldItem struct {
	name    string
	data    []byte
	session int64
	fence   *node.Fence
}

// NewLocking returns a LockingQueue on the node at path, for client c.
// Nothing is sent until a method is called; the nodes are created on
// first use.
func NewLocking(c *keeper.Client, path string) *LockingQueue {
	return &LockingQueue{
		c: c, path: path,
		entries: keeper.JoinPath(path, "entries"),
		taken:   keeper.JoinPath(path, "taken"),
		id:      []byte(node.UUIDHex()),
		once:    newOnce(c, path),
		turn:    make(chan struct{}, 1),
	}
}

// Path returns the queue's node.
func (q *LockingQueue) Path() string { return q.path }

// ID returns the handle's id, the data of its lock nodes.
func (q *LockingQueue) ID() string { return string(q.id) }

func (q *LockingQueue) begin(ctx context.Context, op string) error {
	if err := keeper.ValidatePath(q.path); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	select {
	case q.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: %s %s: %w", op, q.path, node.CtxErr(ctx))
	}
}

func (q *LockingQueue) end() { <-q.turn }

func (q *LockingQueue) ensure(ctx context.Context) error {
	q.mu.Lock()
	ok := q.ensured
	q.mu.Unlock()
	if ok {
		return nil
	}
	for _, p := range []string{q.taken, q.entries} {
		if err := node.Retry(ctx, func(ctx context.Context) error { return q.c.EnsurePath(ctx, p) }); err != nil {
			return err
		}
	}
	q.mu.Lock()
	q.ensured = true
	q.mu.Unlock()
	return nil
}

// Put adds an item with priority (0 to 999, lower first). It is stored
// exactly once, even when the reply is lost. ctx bounds the call.
func (q *LockingQueue) Put(ctx context.Context, data []byte, priority int) error {
	return q.PutAll(ctx, [][]byte{data}, priority)
}

// PutAll adds the items, in order and all with priority, in one
// transaction: all of them or none, as Kazoo's put_all.
func (q *LockingQueue) PutAll(ctx context.Context, items [][]byte, priority int) error {
	if err := checkPut(q.entries, items, priority); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	if err := put(ctx, q.c, q.once, q.entries, items, priority); err != nil {
		return fmt.Errorf("queue: put into %s: %w", q.path, err)
	}
	return nil
}

// Get takes the first item that no consumer holds, waiting until there is
// one or ctx ends, and returns its data; the handle then holds it until
// Consume or Release (or until Lost). When the handle holds an item
// already, Get returns that item again. When ctx ends first Get returns
// its error, holds nothing and leaves no watch behind.
func (q *LockingQueue) Get(ctx context.Context) ([]byte, error) {
	if err := q.begin(ctx, "get"); err != nil {
		return nil, err
	}
	defer q.end()
	q.mu.Lock()
	h := q.held
	q.mu.Unlock()
	if h != nil {
		if h.fence.Held() {
			return h.data, nil
		}
		q.drop(h)
	}
	if err := q.ensure(ctx); err != nil {
		return nil, fmt.Errorf("queue: get from %s: %w", q.path, err)
	}
	// First the rest of the last listing, as Kazoo's Queue does: one
	// listing serves many gets.
	for len(q.cache) > 0 {
		name := q.cache[0]
		q.cache = q.cache[1:]
		h, err := q.take(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("queue: get from %s: %w", q.path, err)
		}
		if h != nil {
			q.hold(h)
			return h.data, nil
		}
	}
	var chE, chT <-chan keeper.Event
	defer func() {
		// Unfired watches: take them off the server.
		if chE != nil {
			node.DropWatch(ctx, q.c, q.entries, keeper.WatchChildren, chE)
		}
		if chT != nil {
			node.DropWatch(ctx, q.c, q.taken, keeper.WatchChildren, chT)
		}
	}()
	var b node.Backoff
	for {
		var entries, taken []string
		var err error
		if chE == nil {
			entries, _, chE, err = q.c.ChildrenW(ctx, q.entries)
		} else {
			entries, err = q.c.Children(ctx, q.entries)
		}
		if err == nil {
			if chT == nil {
				taken, _, chT, err = q.c.ChildrenW(ctx, q.taken)
			} else {
				taken, err = q.c.Children(ctx, q.taken)
			}
		}
		if err != nil {
			if errors.Is(err, keeper.ErrNoNode) {
				q.mu.Lock()
				q.ensured = false
				q.mu.Unlock()
				if err = q.ensure(ctx); err == nil {
					continue
				}
			}
			if ctx.Err() != nil {
				node.Abandoned(ctx, q.c, q.entries, keeper.WatchChildren, err)
				node.Abandoned(ctx, q.c, q.taken, keeper.WatchChildren, err)
			}
			if !node.IsTransient(err) || ctx.Err() != nil {
				return nil, fmt.Errorf("queue: get from %s: %w", q.path, err)
			}
			if err := b.Sleep(ctx); err != nil {
				return nil, fmt.Errorf("queue: get from %s: %w", q.path, err)
			}
			continue
		}
		b.Reset()
		busy := make(map[string]bool, len(taken))
		for _, t := range taken {
			busy[t] = true
		}
		slices.Sort(entries)
		free := entries[:0]
		for _, name := range entries {
			if !busy[name] {
				free = append(free, name)
			}
		}
		for i, name := range free {
			h, err := q.take(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("queue: get from %s: %w", q.path, err)
			}
			if h != nil {
				q.cache = slices.Clone(free[i+1:])
				q.hold(h)
				return h.data, nil
			}
		}
		select {
		case <-chE:
			chE = nil
		case <-chT:
			chT = nil
		case <-ctx.Done():
			return nil, fmt.Errorf("queue: get from %s: %w", q.path, node.CtxErr(ctx))
		}
	}
}

// take tries to lock the entry name: it returns the held item, or nil when
// another consumer has it or it is gone. The lock is created in a
// transaction that also checks that the entry exists, so a consumed
// entry costs one round trip and leaves no lock behind.
func (q *LockingQueue) take(ctx context.Context, name string) (*heldItem, error) {
	lockPath := keeper.JoinPath(q.taken, name)
	entry := keeper.JoinPath(q.entries, name)
	var st keeper.Stat
	tried := false
	var b node.Backoff
	for {
		_, err := q.c.Txn().Check(entry, keeper.AnyVersion).
			Create(lockPath, q.id, keeper.Ephemeral(), keeper.StoreStat(&st)).Commit(ctx)
		var te *keeper.TxnError
		isTxn := errors.As(err, &te)
		if isTxn && te.Index == 1 && errors.Is(err, keeper.ErrNodeExists) && tried {
			// Ours if our create's reply was lost.
			data, lst, gerr := q.c.Get(ctx, lockPath)
			switch {
			case errors.Is(gerr, keeper.ErrNoNode):
				continue
			case gerr != nil:
				err, isTxn = gerr, false
			case string(data) == string(q.id) && lst.EphemeralOwner == q.c.SessionID():
				st, err, isTxn = *lst, nil, false
			default:
				return nil, nil
			}
		}
		switch {
		case err == nil:
		case isTxn && te.Index == 0:
			return nil, nil // consumed
		case isTxn && errors.Is(err, keeper.ErrNodeExists):
			return nil, nil // another consumer has it
		case isTxn && errors.Is(err, keeper.ErrNoNode):
			q.mu.Lock()
			q.ensured = false
			q.mu.Unlock()
			if err := q.ensure(ctx); err != nil {
				return nil, err
			}
			continue
		case !isTxn && node.IsTransient(err) && ctx.Err() == nil:
			tried = tried || !keeper.SafeToRetry(err)
			if err := b.Sleep(ctx); err != nil {
				q.unlock(ctx, lockPath)
				return nil, err
			}
			continue
		default:
			if !keeper.SafeToRetry(err) {
				q.unlock(ctx, lockPath)
			}
			return nil, err
		}
		break
	}
	if st.EphemeralOwner == 0 {
		// Servers before 3.7.2 send no Stat inside a transaction.
		st.EphemeralOwner = q.c.SessionID()
	}
	var data []byte
	err := node.Retry(ctx, func(ctx context.Context) error {
		var err error
		data, _, err = q.c.Get(ctx, entry)
		return err
	})
	if err != nil {
		q.unlock(ctx, lockPath) // consumed meanwhile, or we give up
		if errors.Is(err, keeper.ErrNoNode) {
			return nil, nil
		}
		return nil, err
	}
	return &heldItem{name: name, data: data, session: st.EphemeralOwner, fence: node.NewFence(q.c, lockPath, st.EphemeralOwner, nil)}, nil
}

// unlock deletes the lock node at p if it is ours: our id, owned by the
// current session (a lock node's name is the entry's, not ours alone, so
// only the data and the owner tell).
func (q *LockingQueue) unlock(ctx context.Context, p string) {
	_ = node.Cleanup(ctx, q.c, func(ctx context.Context) error {
		return node.Retry(ctx, func(ctx context.Context) error {
			data, st, err := q.c.Get(ctx, p)
			switch {
			case errors.Is(err, keeper.ErrNoNode):
				return nil
			case err != nil:
				return err
			case string(data) != string(q.id) || st.EphemeralOwner != q.c.SessionID():
				return nil // not ours
			}
			err = q.c.Delete(ctx, p, st.Version)
			if errors.Is(err, keeper.ErrNoNode) {
				return nil
			}
			return err
		})
	})
}

func (q *LockingQueue) hold(h *heldItem) {
	q.mu.Lock()
	q.held = h
	q.mu.Unlock()
}

// drop forgets a held item whose lock is lost.
func (q *LockingQueue) drop(h *heldItem) {
	h.fence.Stop()
	q.mu.Lock()
	if q.held == h {
		q.held = nil
	}
	q.mu.Unlock()
}

// Lost returns a channel that is closed when the held item is lost: the
// session that locked it ended (another consumer may take it now) or its
// lock node is gone. It is closed at once when nothing is held.
func (q *LockingQueue) Lost() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.held == nil {
		return closedChan
	}
	return q.held.fence.Lost()
}

var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// HoldsLock reports whether the handle still holds its item's lock: it
// syncs and reads the lock node, as Kazoo's holds_lock, and also checks
// that the node belongs to the session that locked it.
func (q *LockingQueue) HoldsLock(ctx context.Context) (bool, error) {
	q.mu.Lock()
	h := q.held
	q.mu.Unlock()
	if h == nil {
		return false, nil
	}
	return q.holds(ctx, h)
}

func (q *LockingQueue) holds(ctx context.Context, h *heldItem) (bool, error) {
	p := keeper.JoinPath(q.taken, h.name)
	var data []byte
	var st *keeper.Stat
	err := node.Retry(ctx, func(ctx context.Context) error {
		if err := q.c.Sync(ctx, p); err != nil {
			return err
		}
		var err error
		data, st, err = q.c.Get(ctx, p)
		return err
	})
	switch {
	case errors.Is(err, keeper.ErrNoNode):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("queue: holds lock %s: %w", p, err)
	}
	return string(data) == string(q.id) && st.EphemeralOwner == h.session && q.c.SessionID() == h.session, nil
}

// Consume removes the held item and its lock in one transaction, and
// reports whether it did: false when nothing is held. When the item was
// lost it returns false and an error matching ErrLost (the item may be
// delivered to another consumer). ctx bounds the call.
func (q *LockingQueue) Consume(ctx context.Context) (bool, error) {
	return q.finish(ctx, "consume", true)
}

// Release gives the held item back: it deletes only its lock, so that
// another consumer (or this one) can take it again. It reports false when
// nothing is held, and an error matching ErrLost when the item was lost.
func (q *LockingQueue) Release(ctx context.Context) (bool, error) {
	return q.finish(ctx, "release", false)
}

func (q *LockingQueue) finish(ctx context.Context, op string, consume bool) (bool, error) {
	if err := q.begin(ctx, op); err != nil {
		return false, err
	}
	defer q.end()
	q.mu.Lock()
	h := q.held
	q.mu.Unlock()
	if h == nil {
		return false, nil
	}
	lockPath := keeper.JoinPath(q.taken, h.name)
	lost := func(cause error) (bool, error) {
		q.drop(h)
		return false, fmt.Errorf("%w: %s: %w", ErrLost, lockPath, cause)
	}
	if !h.fence.Held() || q.c.SessionID() != h.session {
		cause := h.fence.Err()
		if cause == nil {
			cause = keeper.ErrSessionExpired
		}
		return lost(cause)
	}
	var b node.Backoff
	for {
		// The lock node is ours while our session lives: nobody else
		// deletes it, and a request of this session cannot outlive it.
		txn := q.c.Txn()
		if consume {
			txn.Delete(keeper.JoinPath(q.entries, h.name), keeper.AnyVersion)
		}
		txn.Delete(lockPath, keeper.AnyVersion)
		_, err := txn.Commit(ctx)
		if err == nil {
			q.drop(h)
			return true, nil
		}
		var te *keeper.TxnError
		if errors.As(err, &te) {
			// The entry or our lock is gone: the item is not ours to
			// consume any more.
			return lost(err)
		}
		if !node.IsTransient(err) || ctx.Err() != nil {
			return false, fmt.Errorf("queue: %s %s: %w", op, lockPath, err)
		}
		// Outcome unknown: our lock node tells.
		ok, herr := q.holds(ctx, h)
		switch {
		case herr != nil:
			return false, herr
		case ok:
			if err := b.Sleep(ctx); err != nil {
				return false, fmt.Errorf("queue: %s %s: %w", op, lockPath, err)
			}
			continue // not applied: again
		case q.c.SessionID() == h.session:
			q.drop(h) // our lock is gone on a live session: applied
			return true, nil
		}
		return lost(err)
	}
}

// Len returns the number of items, held ones included (Kazoo's len).
func (q *LockingQueue) Len(ctx context.Context) (int, error) { return count(ctx, q.c, q.entries) }

// Close releases the held item, if any, and deletes the markers this
// handle's puts left (see the package doc). ctx bounds the call.
func (q *LockingQueue) Close(ctx context.Context) error {
	_, err := q.Release(ctx)
	if errors.Is(err, ErrLost) {
		err = nil
	}
	if cerr := closeOnce(ctx, q.c, q.once, q.path); err == nil {
		err = cerr
	}
	return err
}
