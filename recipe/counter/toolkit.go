package counter

import (
	"context"
	"errors"
	"time"

	"github.com/keeper-go/keeper"
)

// isTransient reports whether the same call may succeed when made again.
func isTransient(err error) bool {
	return keeper.IsRetryable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// backoff waits *delay (then doubles it, up to 1s) or until ctx ends.
func backoff(ctx context.Context, delay *time.Duration) error {
	t := time.NewTimer(*delay)
	defer t.Stop()
	*delay = min(*delay*2, time.Second)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
