package lock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// takeCuratorLease runs while holding path/locks, as
// InterProcessSemaphoreV2.internalAcquire1Lease: it creates its lease node
// in path/leases, then holds a lease once path/leases has at most max
// children (its own included), waiting for a change of the leases (or of
// the count node) otherwise, still holding the mutex. It deletes its node
// when it gives up.
func (s *Semaphore) takeCuratorLease(ctx context.Context, blocking bool) (bool, error) {
	dir := keeper.JoinPath(s.path, "leases")
	prefix := "_c_" + node.UUID() + curatorLeaseMark
	lease := ""
	fail := func(err error) (bool, error) {
		if lease != "" {
			s.held.Discard(ctx, lease)
		}
		if err == nil {
			return false, nil
		}
		return false, fmt.Errorf("lock: acquire semaphore %s: %w", s.path, err)
	}
	var b node.Backoff
	for {
		if lease == "" {
			var st keeper.Stat
			p, err := node.ProtectedCreateStat(ctx, s.c, dir, prefix, s.data, &st)
			if err != nil {
				return fail(err)
			}
			lease = p
		}
		kids, _, ch, err := s.c.ChildrenW(ctx, dir)
		if err != nil {
			if ctx.Err() == nil && node.IsTransient(err) {
				if err := b.Sleep(ctx); err != nil {
					return fail(err)
				}
				continue
			}
			node.Abandoned(ctx, s.c, dir, keeper.WatchChildren, err)
			return fail(err)
		}
		b.Reset()
		name := path.Base(lease)
		if dup := node.Strays(kids, prefix, name); len(dup) > 0 {
			// A create of ours applied late: it would count as a lease.
			node.DropWatch(ctx, s.c, dir, keeper.WatchChildren, ch)
			for _, d := range dup {
				if err := node.DeleteOwn(ctx, s.c, keeper.JoinPath(dir, d)); err != nil {
					return fail(err)
				}
			}
			continue
		}
		if !slices.Contains(kids, name) {
			// Our node is gone (its session ended): create another one.
			node.DropWatch(ctx, s.c, dir, keeper.WatchChildren, ch)
			lease = ""
			continue
		}
		max, cch, err := s.maxLeases(ctx, blocking && s.cfg.countPath != "")
		if err != nil {
			node.DropWatch(ctx, s.c, dir, keeper.WatchChildren, ch)
			return fail(err)
		}
		if len(kids) <= max {
			node.DropWatch(ctx, s.c, dir, keeper.WatchChildren, ch)
			if cch != nil {
				node.DropWatch(ctx, s.c, s.cfg.countPath, keeper.WatchData, cch)
			}
			st, err := s.c.Exists(ctx, lease)
			switch {
			case err != nil:
				return fail(err)
			case st == nil || st.EphemeralOwner != s.c.SessionID():
				lease = "" // a lost session's node: start again
				continue
			}
			f := node.NewFence(s.c, lease, st.EphemeralOwner, nil)
			if !f.Held() {
				f.Stop()
				lease = ""
				continue
			}
			s.held.Hold(lease, st.Czxid, f)
			return true, nil
		}
		if !blocking {
			node.DropWatch(ctx, s.c, dir, keeper.WatchChildren, ch)
			return fail(nil)
		}
		select {
		case <-ch:
			if cch != nil {
				node.DropWatch(ctx, s.c, s.cfg.countPath, keeper.WatchData, cch)
			}
		case <-cch:
			node.DropWatch(ctx, s.c, dir, keeper.WatchChildren, ch)
		case <-ctx.Done():
			node.DropWatch(ctx, s.c, dir, keeper.WatchChildren, ch)
			if cch != nil {
				node.DropWatch(ctx, s.c, s.cfg.countPath, keeper.WatchData, cch)
			}
			return fail(node.CtxErr(ctx))
		}
	}
}

// maxLeases returns the semaphore's maximum: its own, or the count at
// countPath (with a data watch on it when watch is set).
func (s *Semaphore) maxLeases(ctx context.Context, watch bool) (int, <-chan keeper.Event, error) {
	if s.cfg.countPath == "" {
		return s.max, nil, nil
	}
	var data []byte
	var ch <-chan keeper.Event
	err := node.Retry(ctx, func(ctx context.Context) error {
		var err error
		if watch {
			data, _, ch, err = s.c.GetW(ctx, s.cfg.countPath)
		} else {
			data, _, err = s.c.Get(ctx, s.cfg.countPath)
		}
		return err
	})
	switch {
	case errors.Is(err, keeper.ErrNoNode):
		return 0, nil, fmt.Errorf("%w: count node %s does not exist", ErrMaxLeases, s.cfg.countPath)
	case err != nil:
		node.Abandoned(ctx, s.c, s.cfg.countPath, keeper.WatchData, err)
		return 0, nil, err
	case len(data) != 4:
		if ch != nil {
			node.DropWatch(ctx, s.c, s.cfg.countPath, keeper.WatchData, ch)
		}
		return 0, nil, fmt.Errorf("%w: count node %s holds %d bytes, not a 4-byte count", ErrMaxLeases, s.cfg.countPath, len(data))
	}
	return int(int32(binary.BigEndian.Uint32(data))), ch, nil
}
