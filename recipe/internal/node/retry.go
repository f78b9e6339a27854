package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keeper-go/keeper"
)

// The backoff between attempts: the first pause, and the cap.
const (
	MinDelay = 20 * time.Millisecond
	MaxDelay = time.Second
)

// Backoff is the pause between attempts of a retry loop: MinDelay first,
// then twice the previous pause, at most MaxDelay. The zero value is ready
// for use. A Backoff belongs to one loop (one goroutine).
type Backoff struct {
	next time.Duration
}

// Sleep waits for the next pause, or until ctx ends; then it returns
// CtxErr(ctx).
func (b *Backoff) Sleep(ctx context.Context) error {
	d := b.next
	if d == 0 {
		d = MinDelay
	}
	b.next = min(2*d, MaxDelay)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return CtxErr(ctx)
	}
}

// SleepConnected waits until c is connected (keeper.Client.WaitConnected)
// and then for the next pause: the wait before re-reading after a failed
// read. It returns keeper.ErrClosed when c is closed and CtxErr(ctx) when
// ctx ends first.
func (b *Backoff) SleepConnected(ctx context.Context, c *keeper.Client) error {
	if err := c.WaitConnected(ctx); err != nil {
		if ctx.Err() != nil {
			return CtxErr(ctx)
		}
		return err
	}
	return b.Sleep(ctx)
}

// Reset makes the next pause MinDelay again, after a success.
func (b *Backoff) Reset() { b.next = 0 }

// CtxErr returns why ctx ended (nil while it has not): its cause
// (context.Cause), which also matches ctx.Err() when the cause is another
// error, so that both errors.Is(err, context.Canceled) and
// errors.Is(err, cause) hold.
func CtxErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, err) {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}

// IsTransient reports whether err may go away by itself, so that the same
// call is worth another try while ctx lasts: connection loss, an operation
// timeout, throttling or a moved session (keeper.IsRetryable), or an
// expired session, after which the client opens a new session (a client
// made WithNoAutoResession keeps failing until ctx ends). keeper.ErrClosed
// and a context's error are not transient.
//
// A write that failed with a transient error may have been applied: the
// caller must be able to tell, as ProtectedCreate and DeleteOwn can.
func IsTransient(err error) bool {
	return err != nil && (keeper.IsRetryable(err) || errors.Is(err, keeper.ErrSessionExpired))
}

// permanentErrors are the errors after which retrying the same request
// cannot succeed.
var permanentErrors = []error{
	keeper.ErrClosed,
	keeper.ErrInvalidPath,
	keeper.ErrNoAuth,
	keeper.ErrAuthFailed,
	keeper.ErrBadArguments,
	keeper.ErrUnimplemented,
}

// IsPermanent reports whether a request that failed with err cannot
// succeed when tried again: the client is closed (keeper.ErrClosed), the
// path is invalid, permission is missing (ErrNoAuth) or authentication
// failed, the arguments are bad, or the server does not implement the
// operation. Errors that are neither permanent nor transient (ErrNoNode,
// ErrNodeExists, ...) answer the request; the caller judges them.
func IsPermanent(err error) bool {
	for _, e := range permanentErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ErrAgain, returned by a Retry function, asks Retry to call it again at
// once: the state moved under it (a node appeared or vanished).
var ErrAgain = errors.New("node: again")

// Retry calls fn until it returns nil or an error that is not transient
// (see IsTransient), or ctx ends. After a transient error it pauses (see
// Backoff); when ctx ends during the pause it returns that error joined
// with CtxErr(ctx). fn must be safe to repeat.
func Retry(ctx context.Context, fn func(context.Context) error) error {
	var b Backoff
	for {
		err := fn(ctx)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrAgain):
			continue
		case !IsTransient(err):
			return err
		}
		if serr := b.Sleep(ctx); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// ApplyOptions applies a recipe's functional options to cfg, skipping nil
// ones.
func ApplyOptions[C any, O ~func(*C)](cfg *C, opts []O) {
	for _, o := range opts {
		if o != nil {
			o(cfg)
		}
	}
}

// Cleanup runs fn with a fresh context that is not cancelled with ctx and
// lasts at most the client's session timeout (at least 2s): the bounded
// cleanup after a cancelled wait.
func Cleanup(ctx context.Context, c *keeper.Client, fn func(ctx context.Context) error) error {
	d := max(c.SessionTimeout(), 2*time.Second)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	return fn(cctx)
}
