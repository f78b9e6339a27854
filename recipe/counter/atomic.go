package counter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/recipe/lock"
)

// ErrBadOption reports an invalid AtomicOption.
var ErrBadOption = errors.New("counter: bad option")

// AtomicLong is Curator's DistributedAtomicLong: an int64 kept in one
// persistent node as 8 bytes, big-endian (a missing node or empty data
// reads as 0), changed optimistically by a read and a versioned write. A
// write that loses to another writer is tried again, up to the number of
// tries set by WithTries; then, with WithPromotedLock, under a lock that
// other AtomicLong writers of the same path take too, as Curator's
// PromotedToLock does; and then the result says it did not succeed.
//
// Unlike Curator's, every change is applied at most once, and exactly
// once when the result says it succeeded, even when a reply is lost (see
// the package doc): Curator's retried write can add twice.
//
// Create one with NewAtomicLong. Its methods are safe for concurrent use;
// the changes of one handle run one at a time (concurrent ones would only
// defeat each other's versioned writes): use a handle per writer that
// must run in parallel.
type AtomicLong struct {
	c    *keeper.Client
	path string
	cfg  atomicConfig
	w    *writer
	turn chan struct{} // one change of this handle at a time
}

// AtomicOption configures an AtomicLong.
type AtomicOption func(*atomicConfig)

type atomicConfig struct {
	tries       int
	lockPath    string
	lockTimeout time.Duration
	err         error
}

// WithTries sets how many optimistic writes an operation tries before it
// gives up (or takes the promoted lock), overriding the default 10; n
// must be at least 1.
func WithTries(n int) AtomicOption {
	return func(c *atomicConfig) {
		if n < 1 {
			c.err = fmt.Errorf("%w: WithTries(%d): must be at least 1", ErrBadOption, n)
		}
		c.tries = n
	}
}

// WithPromotedLock makes an operation whose optimistic tries all lost take
// the lock at lockPath (Curator's InterProcessMutex layout, so Curator's
// DistributedAtomicLong with PromotedToLock on the same path excludes it
// too), waiting at most timeout for it, and try again as many times while
// holding it. Writes under the lock are still versioned, so writers
// without the lock are never overwritten. timeout must be positive.
func WithPromotedLock(lockPath string, timeout time.Duration) AtomicOption {
	return func(c *atomicConfig) {
		if timeout <= 0 {
			c.err = fmt.Errorf("%w: WithPromotedLock timeout %v: must be positive", ErrBadOption, timeout)
		}
		if err := keeper.ValidatePath(lockPath); err != nil {
			c.err = fmt.Errorf("%w: WithPromotedLock: %w", ErrBadOption, err)
		}
		c.lockPath, c.lockTimeout = lockPath, timeout
	}
}

// NewAtomicLong returns an AtomicLong on the node at path, for client c.
// Nothing is sent until a method is called. A bad option is reported by
// every method.
func NewAtomicLong(c *keeper.Client, path string, opts ...AtomicOption) *AtomicLong {
	cfg := atomicConfig{tries: 10}
	node.ApplyOptions(&cfg, opts)
	if cfg.err == nil {
		if err := keeper.ValidatePath(path); err != nil {
			cfg.err = fmt.Errorf("counter: %w", err)
		}
	}
	return &AtomicLong{c: c, path: path, cfg: cfg, w: newWriter(c, path), turn: make(chan struct{}, 1)}
}

// Path returns the value's node.
func (a *AtomicLong) Path() string { return a.path }

// Result is the outcome of an AtomicLong operation, as Curator's
// AtomicValue: whether it succeeded, the value before and the value after
// (the same as PreValue when it did not succeed).
type Result struct {
	Succeeded bool
	PreValue  int64
	PostValue int64
	// OptimisticTries counts the optimistic writes tried, LockedTries the
	// writes tried holding the promoted lock, and Promoted says whether
	// the lock was taken.
	OptimisticTries, LockedTries int
	Promoted                     bool
}

func decodeLong(path string, data []byte) (int64, error) {
	switch len(data) {
	case 0:
		return 0, nil
	case 8:
		return int64(binary.BigEndian.Uint64(data)), nil
	}
	return 0, fmt.Errorf("%w: %s holds %d bytes, not 8: %x", ErrBadData, path, len(data), truncate(data))
}

func encodeLong(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// Get reads the value; the result always succeeds.
func (a *AtomicLong) Get(ctx context.Context) (Result, error) {
	if a.cfg.err != nil {
		return Result{}, a.cfg.err
	}
	data, err := a.getData(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("counter: get %s: %w", a.path, err)
	}
	v, err := decodeLong(a.path, data)
	if err != nil {
		return Result{}, err
	}
	return Result{Succeeded: true, PreValue: v, PostValue: v}, nil
}

func (a *AtomicLong) getData(ctx context.Context) ([]byte, error) {
	var b node.Backoff
	for {
		data, _, err := a.c.Get(ctx, a.path)
		switch {
		case err == nil:
			return data, nil
		case errors.Is(err, keeper.ErrNoNode):
			return nil, nil
		case ctx.Err() != nil || !node.IsTransient(err):
			return nil, err
		}
		if err := b.Sleep(ctx); err != nil {
			return nil, err
		}
	}
}

// Add adds delta to the value. When the result does not succeed, nothing
// was changed.
func (a *AtomicLong) Add(ctx context.Context, delta int64) (Result, error) {
	return a.update(ctx, "add", func(cur int64) (int64, bool, error) {
		next, err := add(cur, delta)
		return next, true, err
	})
}

// Increment adds 1 to the value.
func (a *AtomicLong) Increment(ctx context.Context) (Result, error) { return a.Add(ctx, 1) }

// Decrement subtracts 1 from the value.
func (a *AtomicLong) Decrement(ctx context.Context) (Result, error) { return a.Add(ctx, -1) }

// CompareAndSet sets the value to next if it is expected, and succeeds
// when it did. A write that loses to another writer is tried again while
// the value is still expected.
func (a *AtomicLong) CompareAndSet(ctx context.Context, expected, next int64) (Result, error) {
	return a.update(ctx, "compare and set", func(cur int64) (int64, bool, error) {
		return next, cur == expected, nil
	})
}

// TrySet sets the value to v with versioned writes, and succeeds unless
// every try lost to another writer.
func (a *AtomicLong) TrySet(ctx context.Context, v int64) (Result, error) {
	return a.update(ctx, "set", func(int64) (int64, bool, error) { return v, true, nil })
}

// ForceSet sets the value to v unconditionally (a write of any version).
func (a *AtomicLong) ForceSet(ctx context.Context, v int64) error {
	if a.cfg.err != nil {
		return a.cfg.err
	}
	var b node.Backoff
	for {
		_, err := a.c.Set(ctx, a.path, encodeLong(v), keeper.AnyVersion)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, keeper.ErrNoNode):
			_, err = a.c.Create(ctx, a.path, encodeLong(v), keeper.MakeParents())
			if err == nil || errors.Is(err, keeper.ErrNodeExists) {
				continue // set it, in case the node was not ours
			}
		}
		if ctx.Err() != nil || !node.IsTransient(err) {
			return fmt.Errorf("counter: force set %s: %w", a.path, err)
		}
		// Setting the same data twice is harmless.
		if err := b.Sleep(ctx); err != nil {
			return fmt.Errorf("counter: force set %s: %w", a.path, err)
		}
	}
}

// Initialize creates the node with value v unless it exists, and reports
// whether it did.
func (a *AtomicLong) Initialize(ctx context.Context, v int64) (bool, error) {
	if a.cfg.err != nil {
		return false, a.cfg.err
	}
	var b node.Backoff
	tried := false
	for {
		var st keeper.Stat
		_, err := a.c.Create(ctx, a.path, encodeLong(v), keeper.MakeParents(), keeper.StoreStat(&st))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, keeper.ErrNodeExists) && tried:
			// Ours if its reply was lost: the node was never written
			// since and holds v.
			data, st, err := a.c.Get(ctx, a.path)
			if err == nil {
				return st.Version == 0 && string(data) == string(encodeLong(v)), nil
			}
			if ctx.Err() != nil || !node.IsTransient(err) {
				return false, fmt.Errorf("counter: initialize %s: %w", a.path, err)
			}
			continue
		case errors.Is(err, keeper.ErrNodeExists):
			return false, nil
		case ctx.Err() != nil || !node.IsTransient(err):
			return false, fmt.Errorf("counter: initialize %s: %w", a.path, err)
		}
		tried = tried || !keeper.SafeToRetry(err)
		if err := b.Sleep(ctx); err != nil {
			return false, fmt.Errorf("counter: initialize %s: %w", a.path, err)
		}
	}
}

// Close deletes the markers this handle's writes left under the node
// (see the package doc). The value can still be used afterwards; call
// Close again when done. ctx bounds the call.
func (a *AtomicLong) Close(ctx context.Context) error { return a.w.close(ctx) }

// update reads the value, computes the next one with fn (which may say
// not to write), and writes it with a version check, up to the tries
// allowed, optimistically and then under the promoted lock.
func (a *AtomicLong) update(ctx context.Context, op string, fn func(int64) (int64, bool, error)) (Result, error) {
	if a.cfg.err != nil {
		return Result{}, a.cfg.err
	}
	// Changes of one handle run one at a time: run concurrently they
	// would only make each other's versioned writes fail.
	select {
	case a.turn <- struct{}{}:
	case <-ctx.Done():
		return Result{}, wrap(op, a.path, node.CtxErr(ctx))
	}
	defer func() { <-a.turn }()
	var res Result
	done, err := a.tries(ctx, fn, &res, &res.OptimisticTries)
	if err != nil || done || a.cfg.lockPath == "" {
		return res, wrap(op, a.path, err)
	}
	l := lock.New(a.c, a.cfg.lockPath, "", lock.WithCuratorLayout())
	lctx, cancel := context.WithTimeout(ctx, a.cfg.lockTimeout)
	err = l.Acquire(lctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return res, nil // not succeeded: the lock was busy
		}
		return res, wrap(op, a.path, err)
	}
	res.Promoted = true
	_, err = a.tries(ctx, fn, &res, &res.LockedTries)
	rerr := l.Release(context.WithoutCancel(ctx))
	if err == nil && rerr != nil && !errors.Is(rerr, lock.ErrLost) {
		err = rerr
	}
	return res, wrap(op, a.path, err)
}

func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrBadData) {
		return err // names the node already
	}
	return fmt.Errorf("counter: %s %s: %w", op, path, err)
}

// tries runs up to cfg.tries read-and-versioned-write rounds; done is
// true when a round wrote (res.Succeeded) or fn said not to write.
func (a *AtomicLong) tries(ctx context.Context, fn func(int64) (int64, bool, error), res *Result, count *int) (bool, error) {
	for *count < a.cfg.tries {
		data, st, err := read(ctx, a.c, a.path, nil)
		if err != nil {
			return false, err
		}
		cur, err := decodeLong(a.path, data)
		if err != nil {
			return false, err
		}
		res.PreValue, res.PostValue = cur, cur
		next, write, err := fn(cur)
		if err != nil {
			return false, fmt.Errorf("%w: %d", err, cur)
		}
		if !write {
			return true, nil
		}
		*count++
		ok, _, err := a.w.set(ctx, encodeLong(next), st.Version)
		switch {
		case errors.Is(err, errNotApplied):
			continue
		case err != nil:
			return false, err
		case ok:
			res.Succeeded, res.PostValue = true, next
			return true, nil
		}
	}
	return false, nil
}
