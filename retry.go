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
	var st retryState
	for {
		err := fn(ctx)
		if err == nil || !r.again(ctx, &st, err) {
			return err
		}
	}
}

// retryState is the progress of one retried call.
type retryState struct {
	tries    int
	delay    time.Duration
	deadline time.Time
}

// again reports whether a call that failed with err should be tried
// again, after waiting the policy's delay (it returns false at once when
// the policy is exhausted, err is not retryable or ctx ends).
func (r *Retry) again(ctx context.Context, st *retryState, err error) bool {
	if r == nil {
		return false
	}
	if st.tries == 0 {
		st.delay = r.Delay
		if r.Deadline > 0 {
			st.deadline = time.Now().Add(r.Deadline)
		}
	}
	st.tries++
	if st.tries >= max(r.MaxTries, 1) || !IsRetryable(err) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
		return false
	}
	d := st.delay
	if r.Jitter > 0 && d > 0 {
		j := time.Duration(float64(d) * min(r.Jitter, 1))
		d = d - j + rand.N(2*j+1)
	}
	if r.MaxDelay > 0 && d > r.MaxDelay {
		d = r.MaxDelay
	}
	if !st.deadline.IsZero() && time.Until(st.deadline) < d {
		return false
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	backoff := r.Backoff
	if backoff < 1 {
		backoff = 1
	}
	st.delay = time.Duration(float64(st.delay) * backoff)
	if r.MaxDelay > 0 && st.delay > r.MaxDelay {
		st.delay = r.MaxDelay
	}
	return true
}
