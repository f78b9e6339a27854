package election

import (
	"context"
	"errors"
	"fmt"
	"path"
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
	// ErrClosed is returned by the methods of a closed LeaderLatch or
	// LeaderSelector, and is the cause of a leader function's context
	// when its LeaderSelector is closed.
	ErrClosed = errors.New("election: latch closed")
)

// Option configures an Election or a LeaderLatch.
type Option func(*config)

type config struct {
	stopOnSuspend bool
	autoRequeue   bool
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
	node.ApplyOptions(&cfg, opts)
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
	czxid   int64  // node's czxid: the term's fencing token
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
			k.session, k.czxid = st.EphemeralOwner, st.Czxid
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
			if err := node.DeleteOwn(ctx, k.c, keeper.JoinPath(k.dir, kid)); err != nil {
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
	if err := node.DeleteOwn(ctx, k.c, k.node); err != nil {
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
	var b node.Backoff
	// retry pauses after a transient error; anything else ends the wait.
	retry := func(err error) error {
		if transient(ctx, err) {
			return b.Sleep(ctx)
		}
		return err
	}
	// requeue drops our node, which is not (or no longer) in the queue
	// with the current session, so that the next round queues again.
	requeue := func() error {
		if err := k.remove(ctx); err != nil && !transient(ctx, err) {
			return err
		}
		k.node = ""
		return nil
	}
	for {
		if k.node != "" && k.c.SessionID() != k.session {
			// A new session: our node belongs to the old one and goes
			// with it, wherever it stands in the queue. Queue again now.
			if err := requeue(); err != nil {
				return err
			}
		}
		if k.node == "" {
			if err := k.enqueue(ctx); err != nil {
				if err := retry(err); err != nil {
					return err
				}
				continue
			}
		}
		kids, err := k.c.Children(ctx, k.dir)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			kids = nil
		case err != nil:
			if err := retry(err); err != nil {
				return err
			}
			continue
		}
		me := path.Base(k.node)
		for _, kid := range node.Strays(kids, k.prefix, me) {
			// A create of ours that a server applied late, after
			// ProtectedCreate had looked: an orphan that would block
			// the queue for the rest of the session.
			if err := node.DeleteOwn(ctx, k.c, keeper.JoinPath(k.dir, kid)); err != nil && !transient(ctx, err) {
				return err
			}
		}
		pred, found := node.Predecessor(kids, me, []string{k.marker}, nil)
		switch {
		case !found:
			// Our node is gone with its session, or was deleted.
			if err := requeue(); err != nil {
				return err
			}
			continue
		case pred == "":
			st, err := k.c.Exists(ctx, k.node)
			switch {
			case err != nil:
				if err := retry(err); err != nil {
					return err
				}
				continue
			case st == nil || st.EphemeralOwner != k.c.SessionID():
				// Not ours any more: never lead with it.
				if err := requeue(); err != nil {
					return err
				}
				continue
			}
			k.session, k.czxid = st.EphemeralOwner, st.Czxid
			return nil
		}
		// The predecessor went or changed, or the session was lost: look
		// again.
		if _, err := node.WaitGoneIn(ctx, k.c, keeper.JoinPath(k.dir, pred), &b, k.session); err != nil {
			return err
		}
	}
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

// transient reports whether err (not nil) is worth another try while ctx
// lasts (see node.IsTransient).
func transient(ctx context.Context, err error) bool {
	return ctx.Err() == nil && node.IsTransient(err)
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
