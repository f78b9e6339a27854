package counter

import (
	"context"
	"errors"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ensure creates the node at path with data, and its missing parents,
// unless it exists. A create whose reply was lost finds NodeExists when
// tried again, which is success.
func ensure(ctx context.Context, c *keeper.Client, path string, data []byte) error {
	var b node.Backoff
	for {
		_, err := c.Create(ctx, path, data, keeper.MakeParents())
		switch {
		case err == nil, errors.Is(err, keeper.ErrNodeExists):
			return nil
		case ctx.Err() != nil || !node.IsTransient(err):
			return err
		}
		if err := b.Sleep(ctx); err != nil {
			return err
		}
	}
}

// read returns the node's data and Stat, creating the node with seed
// first when it does not exist.
func read(ctx context.Context, c *keeper.Client, path string, seed []byte) ([]byte, *keeper.Stat, error) {
	var b node.Backoff
	for {
		data, st, err := c.Get(ctx, path)
		switch {
		case err == nil:
			return data, st, nil
		case errors.Is(err, keeper.ErrNoNode):
			if err := ensure(ctx, c, path, seed); err != nil {
				return nil, nil, err
			}
			continue
		case ctx.Err() != nil || !node.IsTransient(err):
			return nil, nil, err
		}
		if err := b.Sleep(ctx); err != nil {
			return nil, nil, err
		}
	}
}
