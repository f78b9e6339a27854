package election

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// Errors of this package. They are wrapped with their cause: match them
// with errors.Is.
var (
	// ErrLost is the cause with which a leader's context is cancelled,
	// and part of the error Run returns, when leadership is lost while
	// the leader runs: the session was lost, the leader's node was
	// deleted or, with StopOnSuspend, the connection dropped.
	ErrLost = errors.New("election: leadership lost")
	// ErrCancelled is returned by a Run ended by Election.Cancel while it
	// waited, and is the cause of the leader's context when Cancel ended
	// a running leader.
	ErrCancelled = errors.New("election: cancelled")
	// ErrClosed is returned by the methods of a closed LeaderLatch.
	ErrClosed = errors.New("election: latch closed")
)

// Option configures an Election or a LeaderLatch.
type Option func(*config)

type config struct {
	stopOnSuspend bool
}

// StopOnSuspend gives up leadership as soon as the connection drops
// (Curator's conservative policy), instead of keeping it until the session
// is lost, which is the default. A leader that was suspended becomes leader
// again when the connection comes back in the same session and its node is
// still first and still owned by the session.
//
// The default is right when the leader's work is fenced by other means or
// when disconnects are frequent and short. With it, a leader cut off from
// every server keeps leading until its client presumes the session lost,
// about a session timeout after it last heard from a server; the server
// expires the session (and the next candidate may take over) at about the
// same time, so for a short while two processes may believe they lead.
// StopOnSuspend stops a third of a session timeout earlier.
func StopOnSuspend() Option { return func(c *config) { c.stopOnSuspend = true } }

func newConfig(opts []Option) config {
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return cfg
}

// candidate is one contender's place in an election queue: an
// ephemeral-sequential node dir/<prefix><seq> ordered by the sequence after
// marker. Election (Kazoo's layout) and LeaderLatch (Curator's) differ only
// in prefix, marker and how the directory is created.
type candidate struct {
	c         *keeper.Client
	dir       string
	prefix    string // unique to this contender: the protected-create prefix
	marker    string // the text before the sequence in every contender's name
	data      []byte
	container bool // create a missing dir as a container node (Curator)

	node    string // our node's path, "" when we have none
	session int64  // the session that owns node
}

// enqueue creates our node, after deleting any left by an earlier attempt of
// ours. A create whose reply was lost is found by its prefix.
func (k *candidate) enqueue(ctx context.Context) error {
	if err := k.purge(ctx); err != nil {
		return err
	}
	// Make sure dir exists first: after a lost reply, node.ProtectedCreate
	// looks for our node in dir, and keeps looking while dir is missing.
	if k.container {
		if err := ensureContainers(ctx, k.c, k.dir); err != nil {
			return err
		}
	} else if st, err := k.c.Exists(ctx, k.dir); err != nil {
		return err
	} else if st == nil {
		if err := k.c.EnsurePath(ctx, k.dir); err != nil {
			return err
		}
	}
	for {
		var st keeper.Stat
		p, err := node.ProtectedCreateStat(ctx, k.c, k.dir, k.prefix, k.data, &st)
		if err != nil {
			return err
		}
		k.node = p
		if st.EphemeralOwner == k.c.SessionID() {
			k.session = st.EphemeralOwner
			return nil
		}
		// Created in a session that is gone already: start over.
		if err := k.remove(ctx); err != nil {
			return err
		}
	}
}

// purge deletes our node and any other child that bears our prefix (left
// when a deletion failed), so that no stale node of ours queues ahead.
func (k *candidate) purge(ctx context.Context) error {
	if err := k.remove(ctx); err != nil {
		return err
	}
	kids, err := k.c.Children(ctx, k.dir)
	if errors.Is(err, keeper.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, kid := range kids {
		if strings.HasPrefix(kid, k.prefix) {
			if err := deleteNode(ctx, k.c, keeper.JoinPath(k.dir, kid)); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove deletes our node, if we have one.
func (k *candidate) remove(ctx context.Context) error {
	if k.node == "" {
		return nil
	}
	if err := deleteNode(ctx, k.c, k.node); err != nil {
		return err
	}
	k.node, k.session = "", 0
	return nil
}

// await returns nil once our node is the first contender and belongs to
// the client's current session; k.session then names that session. It
// enqueues again when our node is gone (the session was lost) or is owned
// by a session that is not the current one (CURATOR-696: such a node is
// about to vanish and must not make us leader). Otherwise it waits for its
// predecessor to go, with a data watch that it takes off the server when
// ctx ends first.
func (k *candidate) await(ctx context.Context) error {
	delay := 20 * time.Millisecond
	for {
		if k.node != "" && k.c.SessionID() != k.session {
			// A new session: our node belongs to the old one and goes
			// with it, wherever it stands in the queue. Queue again now.
			if err := k.remove(ctx); err != nil && !transient(ctx, err) {
				return err
			}
			k.node = ""
		}
		if k.node == "" {
			if err := k.enqueue(ctx); err != nil {
				if transient(ctx, err) {
					if err := pause(ctx, &delay); err != nil {
						return err
					}
					continue
				}
				return err
			}
		}
		kids, err := k.c.Children(ctx, k.dir)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			kids = nil
		case transient(ctx, err):
			if err := pause(ctx, &delay); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		me := node.Base(k.node)
		for _, kid := range kids {
			// A create of ours that a server applied late, after
			// ProtectedCreate had looked: an orphan that would block
			// the queue for the rest of the session.
			if kid != me && strings.HasPrefix(kid, k.prefix) {
				if err := deleteNode(ctx, k.c, keeper.JoinPath(k.dir, kid)); err != nil && !transient(ctx, err) {
					return err
				}
			}
		}
		queue := node.SortBySeq(kids, k.marker)
		i := 0
		for i < len(queue) && queue[i].Name != me {
			i++
		}
		if i == len(queue) {
			// Our node is gone with its session, or was deleted.
			if err := k.remove(ctx); err != nil && !transient(ctx, err) {
				return err
			}
			k.node = ""
			continue
		}
		if i == 0 {
			st, err := k.c.Exists(ctx, k.node)
			switch {
			case transient(ctx, err):
				if err := pause(ctx, &delay); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			case st == nil || st.EphemeralOwner != k.c.SessionID():
				// Not ours any more: never lead with it.
				if err := k.remove(ctx); err != nil && !transient(ctx, err) {
					return err
				}
				k.node = ""
				continue
			}
			k.session = st.EphemeralOwner
			return nil
		}
		pred := keeper.JoinPath(k.dir, queue[i-1].Name)
		_, _, ch, err := k.c.GetW(ctx, pred)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			continue // gone already: look again
		case transient(ctx, err):
			if err := pause(ctx, &delay); err != nil {
				return err
			}
			continue
		case err != nil:
			abandoned(ctx, k.c, pred, err)
			return err
		}
		delay = 20 * time.Millisecond
		select {
		case ev := <-ch:
			if ev.Type == keeper.EventNotWatching && errors.Is(ev.Err, keeper.ErrClosed) {
				return ev.Err
			}
			// The predecessor went or changed, or the session was
			// lost: look again.
		case <-ctx.Done():
			dropWatch(ctx, k.c, pred, ch)
			return context.Cause(ctx)
		}
	}
}

// contenders returns the data of the contenders' nodes, leader first.
func contenders(ctx context.Context, c *keeper.Client, dir, marker string) ([]string, error) {
	kids, err := c.Children(ctx, dir)
	if errors.Is(err, keeper.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range node.SortBySeq(kids, marker) {
		data, _, err := c.Get(ctx, keeper.JoinPath(dir, e.Name))
		if errors.Is(err, keeper.ErrNoNode) {
			continue // left meanwhile
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, string(data))
	}
	return ids, nil
}

// ensureContainers creates dir and its missing ancestors as container
// nodes, as Curator's creatingParentContainersIfNeeded does: the server
// deletes them once they are empty again.
func ensureContainers(ctx context.Context, c *keeper.Client, dir string) error {
	st, err := c.Exists(ctx, dir)
	if err != nil || st != nil {
		return err
	}
	for i := 1; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		_, err := c.Create(ctx, dir[:i], nil, keeper.Container())
		if err != nil && !errors.Is(err, keeper.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// deleteNode deletes path; a missing node is not an error. Connection loss
// is retried: a repeated delete is harmless.
func deleteNode(ctx context.Context, c *keeper.Client, path string) error {
	delay := 20 * time.Millisecond
	for {
		err := c.Delete(ctx, path, keeper.AnyVersion)
		switch {
		case err == nil, errors.Is(err, keeper.ErrNoNode):
			return nil
		case !transient(ctx, err):
			return err
		}
		if perr := pause(ctx, &delay); perr != nil {
			return errors.Join(err, perr)
		}
	}
}

// transient reports whether err (not nil) is worth another try while ctx
// lasts: connection loss and the like, and a session loss, after which the
// client opens a new session (a client made WithNoAutoResession keeps
// failing until ctx ends).
func transient(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil &&
		(keeper.IsRetryable(err) || errors.Is(err, keeper.ErrSessionExpired) || errors.Is(err, keeper.ErrSessionMoved))
}

// pause waits *delay (then doubles it, up to 1s) or until ctx ends.
func pause(ctx context.Context, delay *time.Duration) error {
	t := time.NewTimer(*delay)
	defer t.Stop()
	*delay = min(2**delay, time.Second)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// dropWatch takes a data watch off the server, so that an abandoned wait
// leaves none behind: the watch whose channel is ch, or, when ch is nil,
// whatever data watch on path a GetW that was cancelled after it was sent
// may have set (other one-shot data watches of the client on path then get
// an EventDataWatchRemoved event; every waiter here, and node.Fence, looks
// again on such an event).
func dropWatch(ctx context.Context, c *keeper.Client, path string, ch <-chan keeper.Event) {
	_ = node.Cleanup(ctx, c, func(ctx context.Context) error {
		var err error
		if ch != nil {
			err = c.RemoveWatch(ctx, path, ch)
		} else {
			// The cancelled read's reply, which registers its watch with
			// the client, may still be on its way; replies come in order,
			// so it has arrived once a later read returns.
			if _, err := c.Exists(ctx, path); err != nil {
				return err
			}
			err = c.RemoveWatches(ctx, path, keeper.WatchData)
		}
		if errors.Is(err, keeper.ErrNoWatcher) {
			return nil // fired meanwhile
		}
		return err
	})
}

// abandoned drops the watch that a GetW cancelled by ctx may have set on
// the server after all.
func abandoned(ctx context.Context, c *keeper.Client, path string, err error) {
	if ctx.Err() != nil && !keeper.SafeToRetry(err) {
		dropWatch(ctx, c, path, nil)
	}
}

// giveUp runs purge, the deletion of our node, with a fresh context
// bounded by twice the session timeout: long enough for a client cut off
// from the servers to presume its session lost, which ends the wait (the
// node goes with the session).
func giveUp(ctx context.Context, c *keeper.Client, purge func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(2*c.SessionTimeout(), 2*time.Second))
	defer cancel()
	return purge(cctx)
}

// wrap prefixes err with the package, the operation and the path.
func wrap(op, path string, err error) error {
	return fmt.Errorf("election: %s %s: %w", op, path, err)
}
