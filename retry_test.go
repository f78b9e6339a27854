package keeper_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// callTimes runs r.Do in a synctest bubble with fn failing with the errors
// of errs in turn (nil after them) and returns the offsets from the
// start at which fn was called, and Do's result.
func callTimes(t *testing.T, r *keeper.Retry, ctx context.Context, errs ...error) ([]time.Duration, error) {
	t.Helper()
	var at []time.Duration
	var err error
	synctest.Test(t, func(t *testing.T) {
		if ctx == nil {
			ctx = t.Context()
		}
		start := time.Now()
		err = r.Do(ctx, func(context.Context) error {
			at = append(at, time.Since(start))
			if i := len(at) - 1; i < len(errs) {
				return errs[i]
			}
			return nil
		})
	})
	return at, err
}

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func lossN(n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = fmt.Errorf("attempt %d: %w", i, keeper.ErrConnectionLoss)
	}
	return errs
}

func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		r       *keeper.Retry
		errs    []error
		want    []time.Duration
		wantErr error
	}{
		{"success at once", &keeper.Retry{MaxTries: 5, Delay: time.Second}, nil, ms(0), nil},
		{"backoff", &keeper.Retry{MaxTries: 4, Delay: 100 * time.Millisecond, Backoff: 2}, lossN(3), ms(0, 100, 300, 700), nil},
		{"exhausted", &keeper.Retry{MaxTries: 3, Delay: 100 * time.Millisecond, Backoff: 2}, lossN(5), ms(0, 100, 300), keeper.ErrConnectionLoss},
		{"no backoff below 1", &keeper.Retry{MaxTries: 4, Delay: 50 * time.Millisecond, Backoff: 0.5}, lossN(3), ms(0, 50, 100, 150), nil},
		{"cap", &keeper.Retry{MaxTries: 5, Delay: 100 * time.Millisecond, Backoff: 3, MaxDelay: 250 * time.Millisecond}, lossN(4), ms(0, 100, 350, 600, 850), nil},
		{"deadline", &keeper.Retry{MaxTries: 10, Delay: 100 * time.Millisecond, Backoff: 2, Deadline: 250 * time.Millisecond}, lossN(10), ms(0, 100), keeper.ErrConnectionLoss},
		{"zero value tries once", &keeper.Retry{}, lossN(3), ms(0), keeper.ErrConnectionLoss},
		{"nil tries once", nil, lossN(3), ms(0), keeper.ErrConnectionLoss},
		{"not retryable", &keeper.Retry{MaxTries: 5, Delay: time.Millisecond}, []error{keeper.ErrNoNode}, ms(0), keeper.ErrNoNode},
		{"closed stops", &keeper.Retry{MaxTries: 5, Delay: time.Millisecond}, []error{keeper.ErrClosed}, ms(0), keeper.ErrClosed},
		{"bad version stops", &keeper.Retry{MaxTries: 5}, []error{keeper.ErrConnectionLoss, keeper.ErrBadVersion}, ms(0, 0), keeper.ErrBadVersion},
		{"timeouts and throttling retry", &keeper.Retry{MaxTries: 5, Delay: 10 * time.Millisecond},
			[]error{keeper.ErrOperationTimeout, keeper.ErrThrottled, keeper.ErrSessionMoved}, ms(0, 10, 20, 30), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, err := callTimes(t, tc.r, nil, tc.errs...)
			if !slices.Equal(at, tc.want) {
				t.Errorf("calls at %v, want %v", at, tc.want)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Do = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestRetryLastError(t *testing.T) {
	t.Parallel()
	errs := lossN(3)
	_, err := callTimes(t, &keeper.Retry{MaxTries: 3}, nil, errs...)
	if err != errs[2] {
		t.Fatalf("Do = %v, want the last error %v", err, errs[2])
	}
}

func TestRetryJitter(t *testing.T) {
	t.Parallel()
	r := &keeper.Retry{MaxTries: 40, Delay: 100 * time.Millisecond, Jitter: 0.5}
	at, err := callTimes(t, r, nil, lossN(39)...)
	if err != nil || len(at) != 40 {
		t.Fatalf("%d calls, %v", len(at), err)
	}
	distinct := map[time.Duration]bool{}
	for i := 1; i < len(at); i++ {
		d := at[i] - at[i-1]
		if d < 50*time.Millisecond || d > 150*time.Millisecond {
			t.Errorf("wait %d = %v, outside 100ms ± 50%%", i, d)
		}
		distinct[d] = true
	}
	if len(distinct) < 2 {
		t.Errorf("jitter made no difference: waits %v", distinct)
	}
}

func TestRetryContext(t *testing.T) {
	t.Parallel()
	r := &keeper.Retry{MaxTries: 10, Delay: 100 * time.Millisecond, Backoff: 2}
	t.Run("cancelled while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			var at []time.Duration
			err := r.Do(ctx, func(context.Context) error {
				at = append(at, time.Since(start))
				return keeper.ErrConnectionLoss
			})
			if !errors.Is(err, keeper.ErrConnectionLoss) {
				t.Errorf("Do = %v, want fn's last error", err)
			}
			if !slices.Equal(at, ms(0, 100)) || time.Since(start) != 150*time.Millisecond {
				t.Errorf("calls at %v, returned after %v; want [0 100ms] and 150ms", at, time.Since(start))
			}
		})
	})
	t.Run("fn sees ctx and ends it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			n := 0
			err := r.Do(ctx, func(ctx context.Context) error {
				n++
				cancel()
				return fmt.Errorf("%w (%w)", keeper.ErrConnectionLoss, ctx.Err())
			})
			if n != 1 || !errors.Is(err, context.Canceled) {
				t.Errorf("%d calls, %v", n, err)
			}
		})
	})
}

// TestReadRetriedWriteNot: a lost reply (the connection dies with it)
// makes Get retry on the next connection, while Create reports
// ErrConnectionLoss: it may have been applied, so it is not repeated.
func TestReadRetriedWriteNot(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	ctx := ctxT(t)
	if _, err := admin.Create(ctx, "/n", []byte("v")); err != nil {
		t.Fatal(err)
	}
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := connectTo(t, p.Addr(), admin.Chroot())
	events := recordEvents(c)

	p.DropNextReply()
	data, _, err := c.Get(ctx, "/n")
	if err != nil || string(data) != "v" {
		t.Fatalf("Get across a lost reply = %q, %v", data, err)
	}
	waitFor(t, 30*time.Second, "a Suspended event (the reply was lost with the connection)", func() bool {
		_, ok := events.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Suspended })
		return ok
	})

	p.DropNextReply()
	_, err = c.Create(ctx, "/created", nil)
	if !errors.Is(err, keeper.ErrConnectionLoss) || keeper.SafeToRetry(err) {
		t.Fatalf("Create across a lost reply: %v (safe to retry: %v), want ErrConnectionLoss", err, keeper.SafeToRetry(err))
	}
	// The server applied it; a retry would have said ErrNodeExists.
	if st, err := admin.Exists(ctx, "/created"); err != nil || st == nil {
		t.Fatalf("the lost create was not applied: %+v, %v", st, err)
	}

	// WithRetry(nil) turns read retries off.
	nr := connectTo(t, p.Addr(), admin.Chroot(), keeper.WithRetry(nil))
	if _, _, err := nr.Get(ctx, "/n"); err != nil {
		t.Fatal(err)
	}
	p.DropNextReply()
	if _, _, err := nr.Get(ctx, "/n"); !errors.Is(err, keeper.ErrConnectionLoss) {
		t.Fatalf("Get without retries across a lost reply: %v, want ErrConnectionLoss", err)
	}
}
