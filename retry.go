package keeper

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Retry is a retry policy, like Kazoo's KazooRetry: up to MaxTries calls,
// waiting Delay before the second, multiplied by Backoff each time (with
// up to Jitter of it added or removed at random) and capped at MaxDelay;
// Deadline, when set, bounds the whole. Only errors for which IsRetryable
// holds are retried. The zero Retry tries once.
type Retry struct {
	MaxTries int           // total calls, at least 1; 0 means 1
	Delay    time.Duration // wait before the first retry
	Backoff  float64       // factor applied to the delay after each retry; <1 means 1
	Jitter   float64       // fraction of the delay randomly added or removed, in [0, 1]
	MaxDelay time.Duration // cap on one wait; 0 means none
	Deadline time.Duration // cap on the whole, from the first call; 0 means none
}

// DefaultRetry returns the policy reads use unless WithRetry says
// otherwise: 5 tries, 50ms doubling to at most 1s, 20% jitter.
func DefaultRetry() *Retry {
	return &Retry{MaxTries: 5, Delay: 50 * time.Millisecond, Backoff: 2, Jitter: 0.2, MaxDelay: time.Second}
}

// Do calls fn until it succeeds, fails with an error that is not
// retryable, the policy is exhausted or ctx ends. It returns fn's last
// error. Only use it for calls that are safe to repeat: a write that
// failed with ErrConnectionLoss may have been applied.
func (r *Retry) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.do(ctx, fn, false)
}

func (r *Retry) do(ctx context.Context, fn func(ctx context.Context) error, _ bool) error {
	if r == nil {
		return fn(ctx)
	}
	tries := max(r.MaxTries, 1)
	delay := r.Delay
	backoff := r.Backoff
	if backoff < 1 {
		backoff = 1
	}
	var deadline time.Time
	if r.Deadline > 0 {
		deadline = time.Now().Add(r.Deadline)
	}
	for i := 1; ; i++ {
		err := fn(ctx)
		if err == nil || i >= tries || !IsRetryable(err) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
			return err
		}
		d := delay
		if r.Jitter > 0 && d > 0 {
			j := time.Duration(float64(d) * min(r.Jitter, 1))
			d = d - j + rand.N(2*j+1)
		}
		if r.MaxDelay > 0 && d > r.MaxDelay {
			d = r.MaxDelay
		}
		if !deadline.IsZero() && time.Until(deadline) < d {
			return err
		}
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return err
			}
		}
		delay = time.Duration(float64(delay) * backoff)
		if r.MaxDelay > 0 && delay > r.MaxDelay {
			delay = r.MaxDelay
		}
	}
}
