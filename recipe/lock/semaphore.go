package lock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// Semaphore lets at most maxLeases holders in at once. It is Kazoo's
// Semaphore, with the same layout:
//
//   - path holds maxLeases as decimal text; a Semaphore whose maxLeases
//     differ fails with ErrMaxLeases (text that is not a number is ignored,
//     as Kazoo does);
//   - each holder has an ephemeral child path/<uuid hex> with its
//     identifier as data;
//   - a Lock on the sibling path+"-__lock__" lets one contender at a time
//     look for a free lease, so a freed lease wakes only that one.
//
// With WithCuratorLayout it is Curator's InterProcessSemaphoreV2 instead:
//
//   - path/locks is an InterProcessMutex (Lock with WithCuratorLayout) that
//     an acquirer holds while it takes a lease, waiting included, so one
//     waiter at a time counts the leases;
//   - each lease is an ephemeral sequential node
//     path/leases/_c_<uuid>-lease-<seq> holding the identifier, created
//     first; the acquirer holds a lease once path/leases has at most
//     maxLeases children, its own included, and deletes its node when it
//     gives up;
//   - the maximum is not stored (each process trusts its own), or is read
//     from a SharedCount node with WithMaxLeasesFrom.
//
// Lost, Suspended and IsAcquired work as a Lock's. The methods are safe for
// concurrent use; one Semaphore value holds at most one lease.
type Semaphore struct {
	c    *keeper.Client
	path string
	data []byte
	max  int
	cfg  config
	lock *Lock        // on path + "-__lock__", or path/locks (Curator)
	held *node.Holder // the lease, and the turn of Acquire and Release
}

// WithMaxLeasesFrom makes a Semaphore with WithCuratorLayout read its
// maximum from the node at countPath, which holds a Curator SharedCount
// (or a counter.SharedCount): a 4-byte big-endian int32, as
// InterProcessSemaphoreV2 built with a SharedCountReader. The count is read
// at every check and watched while waiting, so a larger count lets a
// waiter in; the maxLeases given to NewSemaphore is then ignored. A
// missing or malformed count node makes Acquire fail with ErrMaxLeases.
func WithMaxLeasesFrom(countPath string) Option {
	return func(c *config) { c.countPath = countPath }
}

// NewSemaphore returns a Semaphore on path with maxLeases leases;
// identifier is each lease's data (see LeaseHolders). Options:
// WithCuratorLayout, WithMaxLeasesFrom. Nothing is sent until Acquire.
// maxLeases below 1 (without WithMaxLeasesFrom) makes Acquire fail.
func NewSemaphore(c *keeper.Client, path, identifier string, maxLeases int, opts ...Option) *Semaphore {
	s := &Semaphore{
		c:    c,
		path: path,
		data: []byte(identifier),
		max:  maxLeases,
		held: node.NewHolder(c, "lock", "semaphore "+path, ErrNotHeld, ErrLost),
	}
	node.ApplyOptions(&s.cfg, opts)
	if s.cfg.curator {
		s.lock = New(c, keeper.JoinPath(path, "locks"), identifier, WithCuratorLayout())
	} else {
		s.lock = New(c, path+"-"+writeMarker, identifier)
	}
	return s
}

// Path returns the semaphore's path.
func (s *Semaphore) Path() string { return s.path }

// MaxLeases returns the number of leases.
func (s *Semaphore) MaxLeases() int { return s.max }

// Acquire waits until it holds a lease, or ctx ends (then it deletes what
// it created, removes its watches and returns an error matching ctx.Err()).
func (s *Semaphore) Acquire(ctx context.Context) error {
	_, err := s.acquire(ctx, true)
	return err
}

// TryAcquire takes a lease if one is free and nobody else is taking one at
// the moment, and reports whether it did; it waits only for the server's
// replies (bounded by ctx).
func (s *Semaphore) TryAcquire(ctx context.Context) (bool, error) {
	return s.acquire(ctx, false)
}

func (s *Semaphore) acquire(ctx context.Context, blocking bool) (bool, error) {
	switch {
	case s.cfg.countPath != "" && !s.cfg.curator:
		return false, fmt.Errorf("%w: semaphore %s: WithMaxLeasesFrom needs WithCuratorLayout", ErrBadOption, s.path)
	case s.cfg.countPath != "":
		if err := keeper.ValidatePath(s.cfg.countPath); err != nil {
			return false, fmt.Errorf("%w: semaphore %s: WithMaxLeasesFrom: %w", ErrBadOption, s.path, err)
		}
	case s.max < 1:
		return false, fmt.Errorf("%w: semaphore %s: max leases %d is below 1", ErrBadOption, s.path, s.max)
	}
	if err := s.held.Begin(ctx, "acquire"); err != nil {
		return false, err
	}
	defer s.held.End()
	if s.IsAcquired() {
		return false, fmt.Errorf("%w: semaphore %s", ErrHeld, s.path)
	}
	if err := s.held.DeletePending(ctx); err != nil {
		return false, err
	}
	if !s.cfg.curator {
		if err := s.ensurePath(ctx); err != nil {
			return false, err
		}
	}
	// One contender at a time looks for a lease.
	var ok bool
	var err error
	if blocking {
		err = s.lock.Acquire(ctx)
		ok = err == nil
	} else {
		ok, err = s.lock.TryAcquire(ctx)
	}
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("lock: acquire semaphore %s: %w", s.path, err)
		}
		return false, err
	}
	// A failed release leaves the node to the next Acquire of s.lock (or
	// to the session's end); the lease decision stands either way.
	defer func() { _ = node.Cleanup(ctx, s.c, s.lock.Release) }()
	if s.cfg.curator {
		return s.takeCuratorLease(ctx, blocking)
	}
	return s.takeLease(ctx, blocking)
}

// ensurePath creates path with maxLeases as its data, or checks the number
// stored there.
func (s *Semaphore) ensurePath(ctx context.Context) error {
	want := strconv.Itoa(s.max)
	for {
		_, err := s.c.Create(ctx, s.path, []byte(want), keeper.MakeParents())
		if err == nil {
			return nil
		}
		if !errors.Is(err, keeper.ErrNodeExists) && !errors.Is(err, keeper.ErrConnectionLoss) {
			return fmt.Errorf("lock: semaphore %s: %w", s.path, err)
		}
		data, _, err := s.c.Get(ctx, s.path)
		if errors.Is(err, keeper.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("lock: semaphore %s: %w", s.path, err)
		}
		n, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if perr == nil && n != s.max {
			return fmt.Errorf("%w: %s holds %d, this Semaphore has %d", ErrMaxLeases, s.path, n, s.max)
		}
		return nil
	}
}

// takeLease runs while holding the internal lock: it creates a lease when
// fewer than max exist, else waits (when blocking) for a change of the
// lease holders.
func (s *Semaphore) takeLease(ctx context.Context, blocking bool) (bool, error) {
	prefix := node.UUIDHex()
	lease := keeper.JoinPath(s.path, prefix)
	var b node.Backoff
	fail := func(err error) (bool, error) {
		_ = node.Cleanup(ctx, s.c, func(cctx context.Context) error {
			_ = s.c.RemoveWatches(cctx, s.path, keeper.WatchChildren)
			return node.DeleteOwn(cctx, s.c, lease)
		})
		return false, fmt.Errorf("lock: acquire semaphore %s: %w", s.path, err)
	}
	for {
		kids, err := s.c.Children(ctx, s.path)
		if err != nil {
			if node.IsTransient(err) && ctx.Err() == nil {
				if err := b.Sleep(ctx); err != nil {
					return fail(err)
				}
				continue
			}
			return fail(err)
		}
		if len(kids) < s.max {
			p, err := node.ProtectedCreate(ctx, s.c, s.path, prefix, s.data, keeper.Ephemeral())
			if err != nil && !errors.Is(err, keeper.ErrNodeExists) {
				return fail(err)
			}
			if err == nil {
				lease = p
			}
		}
		st, err := s.c.Exists(ctx, lease)
		if err != nil {
			return fail(err)
		}
		if st != nil && st.EphemeralOwner == s.c.SessionID() {
			f := node.NewFence(s.c, lease, st.EphemeralOwner, nil)
			if f.Held() {
				s.held.Hold(lease, st.Czxid, f)
				return true, nil
			}
			f.Stop()
			continue
		}
		if st != nil && st.EphemeralOwner != 0 {
			// Our lease node, of a session the client has given up and
			// the server has not closed yet: our create finds it in the
			// way, and while there is room the wait below would return
			// at once, round after round, until the server deletes it.
			// Delete it (its name is ours alone) and look again.
			if err := node.DeleteOwn(ctx, s.c, lease); err != nil {
				return fail(err)
			}
			continue
		}
		if !blocking {
			return false, nil
		}
		kids, _, ch, err := s.c.ChildrenW(ctx, s.path)
		if err != nil {
			if ctx.Err() != nil {
				return fail(node.CtxErr(ctx))
			}
			if node.IsTransient(err) {
				continue
			}
			return fail(err)
		}
		if len(kids) < s.max {
			// A lease was freed meanwhile; our create will fire the watch.
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fail(node.CtxErr(ctx))
		}
	}
}

// Release gives the lease back by deleting its node. It returns ErrNotHeld
// when no lease was held, and an error matching ErrLost when it had been
// lost meanwhile (nothing is deleted then).
func (s *Semaphore) Release(ctx context.Context) error { return s.held.Release(ctx) }

// IsAcquired reports whether a lease is held now (acquired, not released,
// not lost).
func (s *Semaphore) IsAcquired() bool { return s.held.Held() }

// Lost returns a channel closed when no lease is held: after a loss, after
// Release, and before the first Acquire. Take it after Acquire.
func (s *Semaphore) Lost() <-chan struct{} { return s.held.Lost() }

// Suspended returns a channel closed at the next disconnect while a lease
// is held, or when none is held; see Lock.Suspended.
func (s *Semaphore) Suspended() <-chan struct{} { return s.held.Suspended() }

// Verified returns a channel closed when, after a disconnect, the lease is
// known to be still held; see Lock.Verified.
func (s *Semaphore) Verified() <-chan struct{} { return s.held.Verified() }

// Guard adds to t the condition that this Semaphore still holds its lease
// (a Check of its lease node); see Lock.Guard.
func (s *Semaphore) Guard(t *keeper.Txn) *keeper.Txn { return s.held.Guard(t) }

// Token returns the lease's fencing token (its node's czxid) while it is
// held, else 0; see Lock.Token.
func (s *Semaphore) Token() int64 { return s.held.Token() }

// Node returns the path of the held lease's node, or "" when none is held.
func (s *Semaphore) Node() string { return s.held.Node() }

// Err returns why the held lease was lost (matching ErrLost and its
// cause), or nil.
func (s *Semaphore) Err() error { return s.held.Err() }

// LeaseHolders returns the identifiers of the current lease holders, in no
// particular order (as Kazoo's lease_holders); with WithCuratorLayout,
// the data of path/leases's children (a Curator waiter's lease node is
// listed while it waits). A missing path has none.
func (s *Semaphore) LeaseHolders(ctx context.Context) ([]string, error) {
	dir := s.path
	if s.cfg.curator {
		dir = keeper.JoinPath(s.path, "leases")
	}
	kids, err := s.c.Children(ctx, dir)
	if errors.Is(err, keeper.ErrNoNode) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock: lease holders of %s: %w", s.path, err)
	}
	out := []string{}
	for _, k := range kids {
		data, _, err := s.c.Get(ctx, keeper.JoinPath(dir, k))
		if errors.Is(err, keeper.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lock: lease holders of %s: %w", s.path, err)
		}
		out = append(out, string(data))
	}
	return out, nil
}
