package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keeper-go/keeper"
)

func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Backoff
		want := []time.Duration{20, 40, 80, 160, 320, 640, 1000, 1000}
		for i, w := range want {
			start := time.Now()
			if err := b.Sleep(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got != w*time.Millisecond {
				t.Fatalf("pause %d = %v, want %v", i, got, w*time.Millisecond)
			}
		}
		b.Reset()
		start := time.Now()
		_ = b.Sleep(context.Background())
		if got := time.Since(start); got != MinDelay {
			t.Fatalf("pause after Reset = %v, want %v", got, MinDelay)
		}
	})
}

func TestBackoffEndsWithCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("stop")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(5*time.Millisecond, func() { cancel(cause) })
		var b Backoff
		err := b.Sleep(ctx)
		if !errors.Is(err, cause) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v, want the cause and context.Canceled", err)
		}
	})
}

func TestCtxErr(t *testing.T) {
	t.Parallel()
	if err := CtxErr(context.Background()); err != nil {
		t.Fatalf("CtxErr(live) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CtxErr(ctx); err != context.Canceled {
		t.Fatalf("CtxErr(cancelled) = %v", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), -time.Second)
	defer dcancel()
	if err := CtxErr(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CtxErr(deadline) = %v", err)
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("op: %w", err) }
	for _, tc := range []struct {
		err                  error
		transient, permanent bool
	}{
		{keeper.ErrConnectionLoss, true, false},
		{keeper.ErrOperationTimeout, true, false},
		{keeper.ErrThrottled, true, false},
		{keeper.ErrSessionMoved, true, false},
		{keeper.ErrSessionExpired, true, false},
		{keeper.ErrClosed, false, true},
		{keeper.ErrInvalidPath, false, true},
		{keeper.ErrNoAuth, false, true},
		{keeper.ErrAuthFailed, false, true},
		{keeper.ErrBadArguments, false, true},
		{keeper.ErrUnimplemented, false, true},
		{keeper.ErrNoNode, false, false},
		{keeper.ErrNodeExists, false, false},
		{context.Canceled, false, false},
		{nil, false, false},
	} {
		for _, err := range []error{tc.err, wrap(tc.err)} {
			if tc.err == nil {
				err = nil
			}
			if got := IsTransient(err); got != tc.transient {
				t.Errorf("IsTransient(%v) = %v", err, got)
			}
			if got := IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v", err, got)
			}
		}
	}
}

func TestRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		err := Retry(context.Background(), func(context.Context) error {
			calls++
			switch calls {
			case 1:
				return keeper.ErrConnectionLoss
			case 2:
				return ErrAgain
			case 3:
				return nil
			}
			return errors.New("called again")
		})
		if err != nil || calls != 3 {
			t.Fatalf("Retry = %v after %d calls, want nil after 3", err, calls)
		}
		calls = 0
		err = Retry(context.Background(), func(context.Context) error { calls++; return keeper.ErrNoNode })
		if !errors.Is(err, keeper.ErrNoNode) || calls != 1 {
			t.Fatalf("Retry = %v after %d calls, want ErrNoNode after 1", err, calls)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = Retry(ctx, func(context.Context) error { return keeper.ErrConnectionLoss })
		if !errors.Is(err, keeper.ErrConnectionLoss) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Retry until the deadline = %v", err)
		}
	})
}

func TestPredecessorAndStrays(t *testing.T) {
	t.Parallel()
	kids := []string{"b__rlock__0000000002", "a__lock__0000000001", "c__lock__0000000003",
		"d__rlock__0000000004", "x", "a__lock__0000000005"}
	order := []string{"__lock__", "__rlock__"}
	for _, tc := range []struct {
		self, conflicts, pred string
		found                 bool
	}{
		{"a__lock__0000000001", "", "", true},
		{"c__lock__0000000003", "", "b__rlock__0000000002", true},
		{"d__rlock__0000000004", "__lock__", "c__lock__0000000003", true},
		{"b__rlock__0000000002", "__lock__", "a__lock__0000000001", true},
		{"gone__lock__0000000009", "", "", false},
	} {
		var conflicts []string
		if tc.conflicts != "" {
			conflicts = []string{tc.conflicts}
		}
		pred, found := Predecessor(kids, tc.self, order, conflicts)
		if pred != tc.pred || found != tc.found {
			t.Errorf("Predecessor(%s, %q) = %q, %v; want %q, %v", tc.self, conflicts, pred, found, tc.pred, tc.found)
		}
	}
	if got := Strays(kids, "a__lock__", "a__lock__0000000001"); !slices.Equal(got, []string{"a__lock__0000000005"}) {
		t.Errorf("Strays = %q", got)
	}
}

func TestApplyOptions(t *testing.T) {
	t.Parallel()
	type cfg struct{ n int }
	type opt func(*cfg)
	var c cfg
	ApplyOptions(&c, []opt{func(c *cfg) { c.n++ }, nil, func(c *cfg) { c.n += 10 }})
	if c.n != 11 {
		t.Fatalf("n = %d, want 11", c.n)
	}
}
