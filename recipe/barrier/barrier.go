package barrier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// Barrier blocks waiters while its node exists, as Kazoo's Barrier. Create
// one with New. Its methods are safe for concurrent use.
type Barrier struct {
	c    *keeper.Client
	path string
}

// New returns a Barrier whose node is path, for client c. Nothing is sent
// until a method is called.
func New(c *keeper.Client, path string) *Barrier {
	return &Barrier{c: c, path: path}
}

// Path returns the barrier's node.
func (b *Barrier) Path() string { return b.path }

// Create puts the barrier up: it creates the node (a persistent node with
// empty data, and its missing parents) unless it exists. ctx bounds the
// call; connection loss is retried.
func (b *Barrier) Create(ctx context.Context) error {
	if err := retry(ctx, func(ctx context.Context) error { return b.c.EnsurePath(ctx, b.path) }); err != nil {
		return fmt.Errorf("barrier: create %s: %w", b.path, err)
	}
	return nil
}

// Remove takes the barrier down by deleting its node, which releases every
// waiter. A barrier that is not up is not an error. ctx bounds the call;
// connection loss is retried.
func (b *Barrier) Remove(ctx context.Context) error {
	err := retry(ctx, func(ctx context.Context) error {
		err := b.c.Delete(ctx, b.path, keeper.AnyVersion)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil // not up, or our delete whose reply was lost
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("barrier: remove %s: %w", b.path, err)
	}
	return nil
}

// Wait blocks until the barrier is down (its node does not exist) and
// returns nil; it returns at once when the barrier is not up.
//
// A disconnect does not disturb the wait. After a session loss the wait
// goes on in the client's next session. Wait returns keeper.ErrClosed when
// the client is closed, and ctx's error when ctx ends first; it then takes
// its watch off the server.
func (b *Barrier) Wait(ctx context.Context) error {
	delay := 20 * time.Millisecond
	for {
		// GetW and not ExistsW: on a missing node it sets no watch.
		_, _, ch, err := b.c.GetW(ctx, b.path)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			return nil
		case err != nil && ctx.Err() == nil && keeper.IsRetryable(err):
			if err := pause(ctx, &delay); err != nil {
				return fmt.Errorf("barrier: wait %s: %w", b.path, err)
			}
			continue
		case err != nil:
			abandoned(ctx, b.c, b.path, keeper.WatchData, err)
			return fmt.Errorf("barrier: wait %s: %w", b.path, err)
		}
		select {
		case ev := <-ch:
			switch {
			case ev.Type == keeper.EventNodeDeleted:
				return nil
			case ev.Type == keeper.EventNotWatching && errors.Is(ev.Err, keeper.ErrClosed):
				return fmt.Errorf("barrier: wait %s: %w", b.path, ev.Err)
			}
			// Data changed, the watch was removed by this client, or
			// the session was lost: look again.
		case <-ctx.Done():
			dropWatch(ctx, b.c, b.path, keeper.WatchData, ch)
			return fmt.Errorf("barrier: wait %s: %w", b.path, context.Cause(ctx))
		}
	}
}

// dropWatch takes a one-shot watch off the server, so that an abandoned
// wait leaves none behind: the watch whose channel is ch, or, when ch is
// nil, whatever watch of kind on path a watching read that was cancelled
// after it was sent may have set (other one-shot watches of kind that this
// client has on path then get an EventDataWatchRemoved or
// EventChildWatchRemoved event; every waiter here looks again on such an
// event).
func dropWatch(ctx context.Context, c *keeper.Client, path string, kind keeper.WatchKind, ch <-chan keeper.Event) {
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
			err = c.RemoveWatches(ctx, path, kind)
		}
		if errors.Is(err, keeper.ErrNoWatcher) {
			return nil // fired meanwhile
		}
		return err
	})
}

// abandoned drops the watch that a watching read cancelled by ctx may have
// set on the server after all.
func abandoned(ctx context.Context, c *keeper.Client, path string, kind keeper.WatchKind, err error) {
	if ctx.Err() != nil && !keeper.SafeToRetry(err) {
		dropWatch(ctx, c, path, kind, nil)
	}
}

// errAgain asks retry to call again at once: the state moved under us.
var errAgain = errors.New("barrier: again")

// retry calls fn until it succeeds, fails with an error that retrying cannot
// cure, or ctx ends. Connection loss is retried after a short pause: fn must
// be safe to repeat.
func retry(ctx context.Context, fn func(context.Context) error) error {
	delay := 20 * time.Millisecond
	for {
		err := fn(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errAgain):
			continue
		case ctx.Err() != nil || !keeper.IsRetryable(err):
			return err
		}
		if perr := pause(ctx, &delay); perr != nil {
			return errors.Join(err, perr)
		}
	}
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
