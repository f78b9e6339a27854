package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrorMode says what a DistributedQueue consumer with lock safety does
// with a message when the consumer function fails on one of its items
// (Curator's ErrorMode).
type ErrorMode int

const (
	// Requeue puts the failed item, and the message's items after it,
	// back at the tail of the queue (with the item's priority, delay or
	// id), in one transaction with the delete of the message (Curator's
	// REQUEUE, the default).
	Requeue ErrorMode = iota
	// DeleteOnError goes on with the message's next item and deletes the
	// message at the end: the failed item is dropped (Curator's DELETE).
	DeleteOnError
)

// CuratorOption configures a Curator queue (NewSimple, NewDistributed,
// NewPriority, NewDelay, NewID).
type CuratorOption func(*curatorConfig)

type curatorConfig struct {
	raw        bool
	lockPath   string
	atMostOnce bool
	mode       ErrorMode
	maxItems   int
	onError    func(error)
	badOption  error
}

// WithRawPuts makes puts plain creates, as Curator's: a put whose reply is
// lost is retried and can store the item twice. By default puts are
// transactions with a marker (see the package doc) and store each item
// exactly once.
func WithRawPuts() CuratorOption { return func(c *curatorConfig) { c.raw = true } }

// WithLockPath sets the node under which a DistributedQueue consumer locks
// an item while it consumes it (Curator's lockPath; the lock is the
// ephemeral node "<lockPath>/<item name>"). Java consumers that share the
// queue with lock safety must use the same path. The default is the
// queue's path followed by "-lock".
func WithLockPath(p string) CuratorOption {
	return func(c *curatorConfig) {
		if err := keeper.ValidatePath(p); err != nil {
			c.badOption = fmt.Errorf("queue: WithLockPath: %w", err)
		}
		c.lockPath = p
	}
}

// WithAtMostOnce makes a DistributedQueue consumer work as Curator's does
// without a lockPath: it deletes a message before it delivers its items,
// so a consumer that fails or stops while delivering loses them (at most
// once), but takes no lock (two requests fewer per message). On ZooKeeper
// 3.6 and later it reads the messages of each round ahead, several with
// one request, and deletes the version it read, which leaves a message
// another consumer took (or changed) meanwhile. The default is lock
// safety: at least once.
func WithAtMostOnce() CuratorOption { return func(c *curatorConfig) { c.atMostOnce = true } }

// WithErrorMode sets what a consumer with lock safety does when the
// consumer function fails (default Requeue).
func WithErrorMode(m ErrorMode) CuratorOption {
	return func(c *curatorConfig) {
		if m != Requeue && m != DeleteOnError {
			c.badOption = fmt.Errorf("queue: WithErrorMode(%d): unknown mode", m)
		}
		c.mode = m
	}
}

// WithMaxItems bounds the queue (Curator's maxItems): a put waits, bounded
// by its ctx, while the queue's node has n or more children. Several
// producers can together overshoot the bound, as Curator's can.
func WithMaxItems(n int) CuratorOption {
	return func(c *curatorConfig) {
		if n <= 0 {
			c.badOption = fmt.Errorf("queue: WithMaxItems(%d): must be positive", n)
		}
		c.maxItems = n
	}
}

// WithErrorHandler sets a function that a DistributedQueue consumer calls,
// on the consuming goroutine, with what it cannot hand back otherwise: a
// message that is not in Curator's format (the error matches ErrCorrupt
// and is a *CorruptError holding the node's path and data; the node is
// deleted, as Curator deletes it, so the queue keeps going), and, with
// WithAtMostOnce, the consumer function's errors.
func WithErrorHandler(f func(error)) CuratorOption {
	return func(c *curatorConfig) { c.onError = f }
}

// CorruptError is a DistributedQueue message that could not be decoded.
type CorruptError struct {
	Path string // the item's node, deleted
	Data []byte // its data
	Err  error  // matches ErrCorrupt
}

func (e *CorruptError) Error() string { return fmt.Sprintf("queue: %s: %v", e.Path, e.Err) }

// Unwrap returns Err.
func (e *CorruptError) Unwrap() error { return e.Err }

// ConsumeFunc consumes one item of a Curator DistributedQueue. It runs on
// the goroutine that called Consume, one item at a time, in queue order.
// With lock safety an error requeues or drops the item (see ErrorMode).
type ConsumeFunc func(ctx context.Context, item []byte) error

// curatorQueue is what Curator's DistributedQueue and its priority, delay
// and id variants share: the puts and the consumer loop.
type curatorQueue struct {
	c    *keeper.Client
	path string
	cfg  curatorConfig
	kind sortKind
	once *node.Once
	id   string
	seq  atomic.Uint64
	// largest is the largest message read so far, in bytes (0: none
	// read yet), which sizes the batches of readAhead.
	largest atomic.Int64
	// oneByOne reads the messages one at a time: the server has no
	// multi-reads (or a comparison asked for it).
	oneByOne atomic.Bool
}

func newCurator(c *keeper.Client, path string, kind sortKind, opts []CuratorOption) *curatorQueue {
	q := &curatorQueue{c: c, path: path, kind: kind, once: newOnce(c, path), id: node.UUIDHex()}
	node.ApplyOptions(&q.cfg, opts)
	if q.cfg.lockPath == "" {
		q.cfg.lockPath = path + "-lock"
	}
	return q
}

func (q *curatorQueue) check() error {
	if q.cfg.badOption != nil {
		return q.cfg.badOption
	}
	if err := keeper.ValidatePath(q.path); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// put stores items as one message in a node named prefix<seq>.
func (q *curatorQueue) put(ctx context.Context, prefix string, items [][]byte) error {
	if err := q.check(); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	if q.cfg.maxItems > 0 {
		if err := q.waitRoom(ctx); err != nil {
			return fmt.Errorf("queue: put into %s: %w", q.path, err)
		}
	}
	if err := createItem(ctx, q.c, q.once, q.cfg.raw, q.path, prefix, EncodeMessage(items)); err != nil {
		return fmt.Errorf("queue: put into %s: %w", q.path, err)
	}
	return nil
}

// waitRoom waits until the queue's node has fewer than maxItems children.
func (q *curatorQueue) waitRoom(ctx context.Context) error {
	var st *keeper.Stat
	err := node.Retry(ctx, func(ctx context.Context) error {
		var err error
		st, err = q.c.Exists(ctx, q.path)
		return err
	})
	if err != nil || st == nil || int(st.NumChildren) < q.cfg.maxItems {
		return err
	}
	var b node.Backoff
	for {
		kids, _, ch, err := q.c.ChildrenW(ctx, q.path)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			return nil
		case err != nil && node.IsTransient(err) && ctx.Err() == nil:
			if err := b.Sleep(ctx); err != nil {
				return err
			}
			continue
		case err != nil:
			node.Abandoned(ctx, q.c, q.path, keeper.WatchChildren, err)
			return err
		}
		if len(kids) < q.cfg.maxItems {
			node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
			return node.CtxErr(ctx)
		}
	}
}

// consume runs the consumer loop until ctx ends or a permanent error.
// heldRecheck is how soon a consumer looks again at an item another
// consumer holds when it could not set a watch on that consumer's lock.
const heldRecheck = 200 * time.Millisecond

func (q *curatorQueue) consume(ctx context.Context, fn ConsumeFunc) error {
	if err := q.check(); err != nil {
		return err
	}
	if fn == nil {
		return errors.New("queue: Consume: nil ConsumeFunc")
	}
	var b node.Backoff
	for {
		kids, _, ch, err := q.c.ChildrenW(ctx, q.path)
		if errors.Is(err, keeper.ErrNoNode) {
			// Curator's queue node is a container that goes once empty.
			if err = ensureContainer(ctx, q.c, q.path); err == nil {
				continue
			}
		}
		if err != nil {
			if node.IsTransient(err) && ctx.Err() == nil {
				if err := b.Sleep(ctx); err != nil {
					return fmt.Errorf("queue: consume %s: %w", q.path, err)
				}
				continue
			}
			node.Abandoned(ctx, q.c, q.path, keeper.WatchChildren, err)
			return fmt.Errorf("queue: consume %s: %w", q.path, err)
		}
		b.Reset()
		wake, held, err := q.round(ctx, kids, fn)
		if err != nil {
			node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
			return fmt.Errorf("queue: consume %s: %w", q.path, err)
		}
		// An item locked by another consumer stays in the list when that
		// consumer's lock goes without it taking the item (its session
		// ended, or it gave the item up): no children change tells us, so
		// wait for the first such lock to go as well.
		var heldCh <-chan keeper.Event
		if held != "" {
			st, hch, err := q.c.ExistsW(ctx, held)
			switch {
			case err != nil && !node.IsTransient(err):
				node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
				node.Abandoned(ctx, q.c, held, keeper.WatchData, err)
				return fmt.Errorf("queue: consume %s: %w", q.path, err)
			case err != nil:
				// Transient: look again after a short pause.
				if wake == 0 || wake > heldRecheck {
					wake = heldRecheck
				}
			case st == nil:
				// Gone already: the exists watch waits for a create; drop
				// it and look again at once.
				node.DropWatch(ctx, q.c, held, keeper.WatchData, hch)
				node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
				continue
			default:
				heldCh = hch
			}
		}
		var timer *time.Timer
		var due <-chan time.Time
		if wake > 0 {
			timer = time.NewTimer(wake)
			due = timer.C
		}
		select {
		case <-ch:
			if heldCh != nil {
				node.DropWatch(ctx, q.c, held, keeper.WatchData, heldCh)
			}
		case <-heldCh:
			node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
		case <-due:
			node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
			if heldCh != nil {
				node.DropWatch(ctx, q.c, held, keeper.WatchData, heldCh)
			}
		case <-ctx.Done():
			node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
			if heldCh != nil {
				node.DropWatch(ctx, q.c, held, keeper.WatchData, heldCh)
			}
			return fmt.Errorf("queue: consume %s: %w", q.path, node.CtxErr(ctx))
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// round processes the items of one children list in queue order. For a
// delay queue it stops at the first item not yet due and returns how long
// until it is. held is the lock of the first item it left because another
// consumer held it ("" if none).
func (q *curatorQueue) round(ctx context.Context, kids []string, fn ConsumeFunc) (wake time.Duration, held string, err error) {
	items := kids[:0]
	for _, k := range kids {
		if strings.HasPrefix(k, curatorItemName) {
			items = append(items, k)
		}
	}
	sortItems(items, q.kind)
	var ahead readAhead
	for i, name := range items {
		if q.kind == sortDelay {
			if d := time.Until(time.UnixMilli(delayOf(name))); d > 0 {
				return d, held, nil
			}
		}
		if q.cfg.atMostOnce {
			if err := q.processNormally(ctx, name, ahead.get(ctx, q, items, i), fn); err != nil {
				return 0, "", err
			}
			continue
		}
		done, err := q.processLocked(ctx, name, fn, false)
		if err != nil {
			return 0, "", err
		}
		if !done && held == "" {
			held = keeper.JoinPath(q.cfg.lockPath, name)
		}
	}
	return 0, held, nil
}

func (q *curatorQueue) report(err error) {
	if q.cfg.onError != nil {
		q.cfg.onError(err)
	}
}

// decode decodes a message, reporting (and so dropping) a corrupt one.
func (q *curatorQueue) decode(p string, data []byte) ([][]byte, bool) {
	items, err := DecodeMessage(data)
	if err != nil {
		q.report(&CorruptError{Path: p, Data: data, Err: err})
		return nil, false
	}
	return items, true
}

// readAhead reads the messages of a round of an at-most-once consumer
// before their turn, several with one MultiGet: the consumer then costs
// one request a message (its delete) instead of two: 0.66 times the time
// and 0.63 times the client CPU a message for a backlog of 2 000
// (BenchmarkAtMostOnceDrain). A message read ahead and taken by another
// consumer before its turn fails the delete of the version read, as it
// would after a read in its turn.
type readAhead struct {
	from  int                // index in the round of got[0]
	got   []keeper.GetResult // nil: not read ahead
	tried int                // items up to this index were tried
}

// readAheadBytes bounds the estimated size of one MultiGet's reply.
const readAheadBytes = 512 << 10

// get returns the read of items[i], or nil to read it in its turn.
func (a *readAhead) get(ctx context.Context, q *curatorQueue, items []string, i int) *keeper.GetResult {
	if i >= a.from && i < a.from+len(a.got) {
		return &a.got[i-a.from]
	}
	if i < a.tried || q.oneByOne.Load() {
		return nil
	}
	// The batch: as many as readAheadBytes holds at the size of the
	// largest message read so far (one at first), of the messages due.
	n := 1
	if l := q.largest.Load(); l > 0 {
		n = int(min(128, max(1, readAheadBytes/l)))
	}
	now := time.Now()
	paths := make([]string, 0, n)
	for _, name := range items[i:min(i+n, len(items))] {
		if q.kind == sortDelay && time.UnixMilli(delayOf(name)).After(now) {
			break
		}
		paths = append(paths, keeper.JoinPath(q.path, name))
	}
	a.from, a.got, a.tried = i, nil, i+len(paths)
	got, err := q.c.MultiGet(ctx, paths...)
	switch {
	case errors.Is(err, keeper.ErrUnimplemented):
		q.oneByOne.Store(true)
		return nil
	case err != nil:
		return nil // each read in its turn, with the retries of Get
	}
	for _, g := range got {
		if g.Stat != nil {
			q.sized(g.Stat)
		}
	}
	a.got = got
	return &a.got[0]
}

// sized notes the size of a message read.
func (q *curatorQueue) sized(st *keeper.Stat) {
	for {
		l := q.largest.Load()
		if int64(st.DataLength) <= l || q.largest.CompareAndSwap(l, int64(st.DataLength)) {
			return
		}
	}
}

// processNormally is Curator's consumer without a lockPath: read (unless
// read ahead: pre), delete the version read (exactly once), then deliver.
func (q *curatorQueue) processNormally(ctx context.Context, name string, pre *keeper.GetResult, fn ConsumeFunc) error {
	p := keeper.JoinPath(q.path, name)
	var data []byte
	var st *keeper.Stat
	var err error
	if pre != nil && (pre.Err == nil || errors.Is(pre.Err, keeper.ErrNoNode)) {
		data, st, err = pre.Data, pre.Stat, pre.Err
	} else {
		err = node.Retry(ctx, func(ctx context.Context) error {
			var err error
			data, st, err = q.c.Get(ctx, p)
			return err
		})
		if err == nil {
			q.sized(st)
		}
	}
	if errors.Is(err, keeper.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	gone, err := deleteOnce(ctx, q.once, p, st.Version)
	if err != nil || gone {
		return err
	}
	items, ok := q.decode(p, data)
	if !ok {
		return nil
	}
	for _, it := range items {
		if err := fn(ctx, it); err != nil {
			q.report(fmt.Errorf("queue: consumer failed on an item of %s (deleted, at most once): %w", p, err))
		}
	}
	return nil
}

// processLocked is Curator's consumer with lock safety: lock the item
// with the ephemeral node <lockPath>/<name>, read it, deliver it (unless
// remove), then delete it, or requeue the rest of it on an error, and
// unlock. done is false when the item was gone or locked by another.
func (q *curatorQueue) processLocked(ctx context.Context, name string, fn ConsumeFunc, remove bool) (done bool, err error) {
	lock := keeper.JoinPath(q.cfg.lockPath, name)
	ok, err := q.lock(ctx, lock)
	if err != nil || !ok {
		return false, err
	}
	defer func() {
		_ = node.Cleanup(ctx, q.c, func(ctx context.Context) error { return node.DeleteOwn(ctx, q.c, lock) })
	}()
	p := keeper.JoinPath(q.path, name)
	var rest [][]byte
	if !remove {
		var data []byte
		err := node.Retry(ctx, func(ctx context.Context) error {
			var err error
			data, _, err = q.c.Get(ctx, p)
			return err
		})
		if errors.Is(err, keeper.ErrNoNode) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if items, ok := q.decode(p, data); ok {
			for i, it := range items {
				if err := fn(ctx, it); err != nil {
					if q.cfg.mode == Requeue {
						rest = items[i:]
						break
					}
				}
			}
		}
	}
	// The items were delivered: finish even when ctx ended meanwhile, or
	// they would be delivered again.
	err = node.Cleanup(ctx, q.c, func(ctx context.Context) error {
		if rest != nil {
			return q.requeue(ctx, p, name, rest)
		}
		return node.Retry(ctx, func(ctx context.Context) error {
			err := q.c.Delete(ctx, p, keeper.AnyVersion)
			if errors.Is(err, keeper.ErrNoNode) {
				return nil // a retried delete, or a consumer without locks
			}
			return err
		})
	})
	return err == nil, err
}

// requeue replaces the item at p by a new one at the tail with the same
// name prefix (Curator keeps only an id queue's id; here a priority and a
// delay are kept too), in one transaction applied exactly once.
func (q *curatorQueue) requeue(ctx context.Context, p, name string, items [][]byte) error {
	prefix := keeper.JoinPath(q.path, trimSeq(name))
	data := EncodeMessage(items)
	for {
		_, err := q.once.Commit(ctx, func(t *keeper.Txn) {
			t.Delete(p, keeper.AnyVersion)
			t.Create(prefix, data, keeper.Sequential())
		})
		if errors.Is(err, node.ErrNotApplied) {
			continue
		}
		if errors.Is(err, keeper.ErrNoNode) {
			return nil // deleted meanwhile by a consumer without locks
		}
		return err
	}
}

// trimSeq returns an item's name without its sequence suffix: ten
// digits, or a wrapped counter's "-" and ten (or nine) digits. Every
// prefix that is longer than "queue-" ends in "|" or a hex digit, so a
// "-" after it is a sign.
func trimSeq(name string) string {
	n := len(name) - 10
	if n < len(curatorItemName) {
		return curatorItemName
	}
	if n-1 >= len(curatorItemName) && name[n-1] == '-' {
		n--
	}
	return name[:n]
}

// lock creates the ephemeral lock node; ok is false when another holds it.
// The node's data is a token unique to this attempt, so that a create
// whose reply was lost finds its own node.
func (q *curatorQueue) lock(ctx context.Context, lock string) (bool, error) {
	token := []byte(fmt.Sprintf("keeper-%s-%d", q.id, q.seq.Add(1)))
	for {
		var err error
		err = node.Retry(ctx, func(ctx context.Context) error {
			_, err := q.c.Create(ctx, lock, token, keeper.Ephemeral())
			return err
		})
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, keeper.ErrNoNode):
			if err := ensureContainer(ctx, q.c, q.cfg.lockPath); err != nil {
				return false, err
			}
			continue
		case errors.Is(err, keeper.ErrNodeExists):
			var data []byte
			var st *keeper.Stat
			err := node.Retry(ctx, func(ctx context.Context) error {
				var err error
				data, st, err = q.c.Get(ctx, lock)
				return err
			})
			switch {
			case errors.Is(err, keeper.ErrNoNode):
				return false, nil // released meanwhile: the item is likely gone
			case err != nil:
				return false, err
			}
			return st.EphemeralOwner == q.c.SessionID() && string(data) == string(token), nil
		}
		return false, err
	}
}

// removeID removes every item whose id is id (the id queue's remove).
func (q *curatorQueue) removeID(ctx context.Context, id string) (int, error) {
	if err := q.check(); err != nil {
		return 0, err
	}
	want, _ := idOf(idName(id))
	var kids []string
	err := node.Retry(ctx, func(ctx context.Context) error {
		var err error
		kids, err = q.c.Children(ctx, q.path)
		if errors.Is(err, keeper.ErrNoNode) {
			kids, err = nil, nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("queue: remove from %s: %w", q.path, err)
	}
	n := 0
	for _, k := range kids {
		if got, _ := idOf(k); got != want || !strings.HasPrefix(k, curatorItemName) {
			continue
		}
		var done bool
		if q.cfg.atMostOnce {
			var gone bool
			gone, err = deleteOnce(ctx, q.once, keeper.JoinPath(q.path, k), keeper.AnyVersion)
			done = !gone
		} else {
			done, err = q.processLocked(ctx, k, nil, true)
		}
		if err != nil {
			return n, fmt.Errorf("queue: remove from %s: %w", q.path, err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

func (q *curatorQueue) close(ctx context.Context) error { return closeOnce(ctx, q.c, q.once, q.path) }
