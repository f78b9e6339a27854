package node

import (
	"context"
	"errors"

	"github.com/keeper-go/keeper"
)

// WaitGone waits, with one data watch, until the node at path is deleted
// or anything else happens to it, and reports whether it saw the node gone.
// It is the predecessor wait of lock-like recipes (wait for the node before
// ours, then look at the queue again), and serves any recipe that waits
// for one node to go.
//
// It returns:
//
//   - true, nil: the node does not exist (no watch is left: GetW sets none
//     on a missing node) or was deleted;
//   - false, nil: the caller must look again. The node's data changed,
//     the watch was removed by this client, the session was lost, or the
//     read failed with a transient error (after a pause of b, which is reset
//     once a watch is set);
//   - false, err: keeper.ErrClosed when the client is closed, CtxErr(ctx)
//     when ctx ends first, or the read's error that is not transient. The
//     watch, if one may have been set, is taken off the server first.
func WaitGone(ctx context.Context, c *keeper.Client, path string, b *Backoff) (bool, error) {
	return WaitGoneIn(ctx, c, path, b, 0)
}

// WaitGoneIn is WaitGone for a caller whose view of the queue, or whose
// own node, belongs to session (when not 0): if the watch was set in
// another session (the read waited out a session change), it takes the
// watch off and reports false,
// nil at once, since the caller's own node may be gone with the session
// and no change of path would tell it.
func WaitGoneIn(ctx context.Context, c *keeper.Client, path string, b *Backoff, session int64) (bool, error) {
	return waitGone(ctx, c, path, b, session, nil)
}

// WaitGoneSince is WaitGone for a node whose path may be deleted and
// created again, as a barrier's: it also reports true, nil when the node
// found is not the one first seen (*czxid, which it sets while 0). A watch
// restored after a disconnect during which the node was deleted and
// created again tells only of a change, and the node's czxid is what shows
// that it was gone meanwhile.
func WaitGoneSince(ctx context.Context, c *keeper.Client, path string, b *Backoff, czxid *int64) (bool, error) {
	return waitGone(ctx, c, path, b, 0, czxid)
}

func waitGone(ctx context.Context, c *keeper.Client, path string, b *Backoff, session int64, czxid *int64) (bool, error) {
	_, st, ch, err := c.GetW(ctx, path)
	if err == nil && session != 0 && c.SessionID() != session {
		DropWatch(ctx, c, path, keeper.WatchData, ch)
		return false, nil
	}
	switch {
	case errors.Is(err, keeper.ErrNoNode):
		return true, nil
	case err != nil && ctx.Err() == nil && IsTransient(err):
		return false, b.Sleep(ctx)
	case err != nil:
		Abandoned(ctx, c, path, keeper.WatchData, err)
		return false, err
	}
	b.Reset()
	if czxid != nil {
		if *czxid != 0 && st.Czxid != *czxid {
			DropWatch(ctx, c, path, keeper.WatchData, ch)
			return true, nil
		}
		*czxid = st.Czxid
	}
	select {
	case ev := <-ch:
		switch {
		case ev.Type == keeper.EventNodeDeleted:
			return true, nil
		case ev.Type == keeper.EventNotWatching && errors.Is(ev.Err, keeper.ErrClosed):
			return false, ev.Err
		}
		return false, nil
	case <-ctx.Done():
		DropWatch(ctx, c, path, keeper.WatchData, ch)
		return false, CtxErr(ctx)
	}
}

// DropWatch takes a one-shot watch off the server, so that an abandoned
// wait leaves none behind: the watch whose channel is ch, or, when ch is
// nil, whatever watch of kind on path a watching read that was cancelled
// after it was sent may have set (other one-shot watches of kind that this
// client has on path then get an EventDataWatchRemoved or
// EventChildWatchRemoved event: every waiter of the recipes, and Fence,
// looks again on such an event). It runs under Cleanup, so it works after
// ctx has ended; errors are ignored (the watch goes with the session).
func DropWatch(ctx context.Context, c *keeper.Client, path string, kind keeper.WatchKind, ch <-chan keeper.Event) {
	_ = Cleanup(ctx, c, func(ctx context.Context) error {
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
			err = c.RemoveWatches(ctx, path, kind)
		}
		if errors.Is(err, keeper.ErrNoWatcher) {
			return nil // fired meanwhile
		}
		return err
	})
}

// Abandoned drops the watch of kind on path that a watching read, which
// failed with err because ctx ended, may have set on the server after all.
// It does nothing when ctx has not ended or the read was never sent.
func Abandoned(ctx context.Context, c *keeper.Client, path string, kind keeper.WatchKind, err error) {
	if ctx.Err() != nil && !keeper.SafeToRetry(err) {
		DropWatch(ctx, c, path, kind, nil)
	}
}

// DeleteOwn deletes the node at path, an ephemeral node that only we
// create (its name holds our unique id), retrying transient errors (a
// repeated delete is harmless). A node that is gone is deleted; so is one
// of a closed client, whose session ends, and the node with it. When ctx
// ends first it returns the delete's error joined with CtxErr(ctx).
func DeleteOwn(ctx context.Context, c *keeper.Client, path string) error {
	return Retry(ctx, func(ctx context.Context) error {
		err := c.Delete(ctx, path, keeper.AnyVersion)
		if errors.Is(err, keeper.ErrNoNode) || errors.Is(err, keeper.ErrClosed) {
			return nil
		}
		return err
	})
}
