package barrier

import (
	"context"
	"errors"
	"fmt"

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
	if err := node.Retry(ctx, func(ctx context.Context) error { return b.c.EnsurePath(ctx, b.path) }); err != nil {
		return fmt.Errorf("barrier: create %s: %w", b.path, err)
	}
	return nil
}

// Remove takes the barrier down by deleting its node, which releases every
// waiter, and reports whether the barrier was up (Kazoo's remove returns
// True or False): true when Remove found the node and it is gone now,
// deleted by this call or by another remover at the same time; false,
// with nothing deleted, when it was not up. ctx bounds the call;
// connection loss is retried (a delete whose reply was lost, tried again,
// finds the node gone, which is success).
func (b *Barrier) Remove(ctx context.Context) (bool, error) {
	var up bool
	err := node.Retry(ctx, func(ctx context.Context) error {
		if !up {
			// Look first: after a lost reply a repeated delete finds no
			// node whether or not the barrier was up.
			st, err := b.c.Exists(ctx, b.path)
			if err != nil || st == nil {
				return err
			}
			up = true
		}
		err := b.c.Delete(ctx, b.path, keeper.AnyVersion)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil // our delete whose reply was lost, or another's
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("barrier: remove %s: %w", b.path, err)
	}
	return up, nil
}

// Wait blocks until the barrier is down (its node does not exist) and
// returns nil; it returns at once when the barrier is not up.
//
// A disconnect does not disturb the wait, and a barrier taken down and put
// up again meanwhile releases it (the node then is a new one). After a
// session loss the wait goes on in the client's next session, and the
// same holds. Wait returns keeper.ErrClosed when the client is closed,
// and ctx's error when ctx ends first; it then takes its watch off the
// server.
func (b *Barrier) Wait(ctx context.Context) error {
	var bo node.Backoff
	var czxid int64 // of the node first seen
	for {
		// Data changed, the watch was removed by this client, or the
		// session was lost: look again.
		gone, err := node.WaitGoneSince(ctx, b.c, b.path, &bo, &czxid)
		switch {
		case err != nil:
			return fmt.Errorf("barrier: wait %s: %w", b.path, err)
		case gone:
			return nil
		}
	}
}
