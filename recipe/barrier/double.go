package barrier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// readyName is the child whose existence says that enough participants
// have entered.
const readyName = "ready"

// DoubleBarrier lets a fixed number of participants start and finish a
// computation together, as Kazoo's DoubleBarrier (ZooKeeper's double
// barrier recipe). Create one per participant with NewDouble. Its methods
// are safe for concurrent use; they run one at a time.
type DoubleBarrier struct {
	c     *keeper.Client
	path  string
	n     int
	name  string // our child's name: a uuid in hex
	node  string // path/name
	ready string // path/ready
	data  []byte

	mu sync.Mutex // one Enter or Leave at a time
}

// NewDouble returns a participant of the double barrier at path for client
// c. numClients is how many participants must enter before any of them
// proceeds (at least 1); identifier (any text) is stored in the
// participant's node. Nothing is sent until Enter.
func NewDouble(c *keeper.Client, path, identifier string, numClients int) *DoubleBarrier {
	name := node.UUIDHex()
	return &DoubleBarrier{
		c:     c,
		path:  path,
		n:     numClients,
		name:  name,
		node:  keeper.JoinPath(path, name),
		ready: keeper.JoinPath(path, readyName),
		data:  []byte(identifier),
	}
}

// Node returns the path of this participant's node (whether or not it
// exists).
func (d *DoubleBarrier) Node() string { return d.node }

// Enter joins the barrier and blocks until numClients participants have
// entered. It creates the participant's node (and the barrier's path),
// then returns once "ready" exists or, when it counts numClients members
// itself, after creating "ready". Every wake-up is checked against a fresh
// listing, so no participant passes early. Only members count: unlike
// Kazoo, which counts every child, "ready" is not one of them.
//
// When the session is lost while waiting, Enter enters again with a new
// node in the next session. When ctx ends first (or the client is closed),
// Enter deletes the participant's node, so others do not count it, and
// returns the error.
func (d *DoubleBarrier) Enter(ctx context.Context) error {
	if d.n < 1 {
		return fmt.Errorf("barrier: enter %s: numClients %d is not at least 1", d.path, d.n)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.enter(ctx)
	if err != nil {
		_ = node.Cleanup(ctx, d.c, d.deleteOwn)
		return fmt.Errorf("barrier: enter %s: %w", d.path, err)
	}
	return nil
}

func (d *DoubleBarrier) enter(ctx context.Context) error {
	if err := d.join(ctx); err != nil {
		return err
	}
	watch := false // list with a watch only after a plain listing said wait
	var b node.Backoff
	for {
		var kids []string
		var ch <-chan keeper.Event
		var err error
		if watch {
			kids, _, ch, err = d.c.ChildrenW(ctx, d.path)
		} else {
			kids, err = d.c.Children(ctx, d.path)
		}
		switch {
		case err == nil:
		case errors.Is(err, keeper.ErrNoNode):
			// The barrier's path was deleted under us: enter again.
			if err := d.join(ctx); err != nil {
				return err
			}
			continue
		case ctx.Err() == nil && node.IsTransient(err):
			if err := b.Sleep(ctx); err != nil {
				return err
			}
			continue
		default:
			if watch {
				node.Abandoned(ctx, d.c, d.path, keeper.WatchChildren, err)
			}
			return err
		}
		if !slices.Contains(kids, d.name) {
			// Our node is gone (the session was lost): enter again.
			if ch != nil {
				node.DropWatch(ctx, d.c, d.path, keeper.WatchChildren, ch)
			}
			if err := d.join(ctx); err != nil {
				return err
			}
			watch = false
			continue
		}
		if slices.Contains(kids, readyName) {
			if ch != nil {
				node.DropWatch(ctx, d.c, d.path, keeper.WatchChildren, ch)
			}
			return nil
		}
		if len(kids) >= d.n {
			// Every member is in (ready is not among kids): raise ready.
			// Our create fires our own watch, if any.
			return node.Retry(ctx, func(ctx context.Context) error {
				_, err := d.c.Create(ctx, d.ready, nil)
				if errors.Is(err, keeper.ErrNodeExists) {
					return nil
				}
				return err
			})
		}
		if !watch {
			watch = true
			continue
		}
		select {
		case ev := <-ch:
			if ev.Type == keeper.EventNotWatching && errors.Is(ev.Err, keeper.ErrClosed) {
				return ev.Err
			}
			// A member came or went, ready appeared, or the session was
			// lost: look again.
			watch = false
		case <-ctx.Done():
			// Deleting our node fires the watch; drop it anyway in case
			// the node is already gone.
			node.DropWatch(ctx, d.c, d.path, keeper.WatchChildren, ch)
			return context.Cause(ctx)
		}
	}
}

// join creates our node, and the barrier's path when it is missing. The
// name is ours alone, so a create whose reply was lost is recognized, and a
// node left by an earlier session of ours is replaced.
func (d *DoubleBarrier) join(ctx context.Context) error {
	return node.Retry(ctx, func(ctx context.Context) error {
		_, err := d.c.Create(ctx, d.node, d.data, keeper.Ephemeral())
		switch {
		case err == nil:
			return nil
		case errors.Is(err, keeper.ErrNoNode):
			if err := d.c.EnsurePath(ctx, d.path); err != nil {
				return err
			}
			return node.ErrAgain
		case !errors.Is(err, keeper.ErrNodeExists):
			return err
		}
		err = node.CheckOwner(ctx, d.c, d.node)
		if !errors.Is(err, node.ErrNotOwner) {
			return err // nil: ours
		}
		if err := d.deleteOwn(ctx); err != nil {
			return err
		}
		return node.ErrAgain
	})
}

// deleteOwn deletes our node (see node.DeleteOwn).
func (d *DoubleBarrier) deleteOwn(ctx context.Context) error {
	return node.DeleteOwn(ctx, d.c, d.node)
}

// Leave leaves the barrier and blocks until every participant has left
// (ZooKeeper's recipe, as Kazoo runs it): the participant whose node sorts
// lowest waits for the others' nodes to go and deletes its own last, and
// every other participant deletes its own node and waits for the lowest
// one to go. When ctx ends first (or the client is closed), Leave deletes
// the participant's node if it is still there, so the others are not held
// up, and returns the error.
//
// Unlike Kazoo, which deletes "ready" as Leave begins, Leave deletes it
// once no member is left (the lowest just before its own node): a
// participant still in Enter, whose wake-up was slow (a stalled
// connection), must find ready when it looks, or it would wait for members
// who have left, and they for its node.
//
// The barrier's path itself stays, as in Kazoo. Reusing the path for a new
// round before everyone has left the previous one confuses both rounds.
func (d *DoubleBarrier) Leave(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.leave(ctx); err != nil {
		_ = node.Cleanup(ctx, d.c, d.abandon)
		return fmt.Errorf("barrier: leave %s: %w", d.path, err)
	}
	return nil
}

func (d *DoubleBarrier) leave(ctx context.Context) error {
	var b node.Backoff
	for {
		kids, err := d.c.Children(ctx, d.path)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			return nil
		case err != nil && ctx.Err() == nil && node.IsTransient(err):
			if err := b.Sleep(ctx); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		members := slices.DeleteFunc(kids, func(k string) bool { return k == readyName })
		slices.Sort(members)
		mine := slices.Contains(members, d.name)
		switch {
		case len(members) == 0:
			// Everyone has left. The lowest deleted ready before its
			// node, unless its node went with its session.
			return d.deleteReady(ctx)
		case mine && len(members) == 1:
			// The last member: ready goes before our node, so that
			// once no member is left no ready is left either (a stale
			// one would let the next round through at once).
			if err := d.deleteReady(ctx); err != nil {
				return err
			}
			return d.deleteOwn(ctx)
		case mine && members[0] == d.name:
			// Lowest: wait for the highest to go, then look again.
			if err := d.waitGone(ctx, members[len(members)-1], &b); err != nil {
				return err
			}
		default:
			if mine {
				if err := d.deleteOwn(ctx); err != nil {
					return err
				}
			}
			if err := d.waitGone(ctx, members[0], &b); err != nil {
				return err
			}
		}
	}
}

// abandon deletes our node after a failed Leave and, when no member is
// left, "ready" too, which the last member's Leave would have deleted.
func (d *DoubleBarrier) abandon(ctx context.Context) error {
	if err := d.deleteOwn(ctx); err != nil {
		return err
	}
	kids, err := d.c.Children(ctx, d.path)
	switch {
	case errors.Is(err, keeper.ErrNoNode):
		return nil
	case err != nil:
		return err
	case slices.ContainsFunc(kids, func(k string) bool { return k != readyName }):
		return nil // the members left delete it
	}
	return d.deleteReady(ctx)
}

// deleteReady deletes "ready", which a participant that entered raised,
// if it is there.
func (d *DoubleBarrier) deleteReady(ctx context.Context) error {
	return node.Retry(ctx, func(ctx context.Context) error {
		err := d.c.Delete(ctx, d.ready, keeper.AnyVersion)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil
		}
		return err
	})
}

// waitGone waits until the child name is deleted, or until anything else
// happens to it (its data changed, the session was lost): the caller looks
// again in every case.
func (d *DoubleBarrier) waitGone(ctx context.Context, name string, b *node.Backoff) error {
	_, err := node.WaitGone(ctx, d.c, keeper.JoinPath(d.path, name), b)
	return err
}
