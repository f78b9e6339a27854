package counter

import (
	"context"
	"errors"
	"time"

	"github.com/keeper-go/keeper"
)

// ensure creates the node at path with data, and its missing parents,
// unless it exists. A create whose reply was lost finds NodeExists when
// tried again, which is success.
func ensure(ctx context.Context, c *keeper.Client, path string, data []byte) error {
	delay := 10 * time.Millisecond
	for {
		_, err := c.Create(ctx, path, data, keeper.MakeParents())
		switch {
		case err == nil, errors.Is(err, keeper.ErrNodeExists):
			return nil
		case ctx.Err() != nil || !isTransient(err):
			return err
		}
		if err := backoff(ctx, &delay); err != nil {
			return err
		}
	}
}

// read returns the node's data and Stat, creating the node with seed
// first when it does not exist.
func read(ctx context.Context, c *keeper.Client, path string, seed []byte) ([]byte, *keeper.Stat, error) {
	delay := 10 * time.Millisecond
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
		case ctx.Err() != nil || !isTransient(err):
			return nil, nil, err
		}
		if err := backoff(ctx, &delay); err != nil {
			return nil, nil, err
		}
	}
}
