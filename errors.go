package keeper

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/keeper-go/keeper/internal/wire"
)

// Code is a ZooKeeper error code as the server sends it (0 is OK, negative
// values are errors). Codes Keeper does not know keep their number.
type Code int32

// The error codes of ZooKeeper 3.5 through 3.9, as internal/wire defines them.
const (
	CodeOK                           Code = Code(wire.ErrOK)
	CodeSystemError                  Code = Code(wire.ErrSystemError)
	CodeRuntimeInconsistency         Code = Code(wire.ErrRuntimeInconsistency)
	CodeDataInconsistency            Code = Code(wire.ErrDataInconsistency)
	CodeConnectionLoss               Code = Code(wire.ErrConnectionLoss)
	CodeMarshallingError             Code = Code(wire.ErrMarshallingError)
	CodeUnimplemented                Code = Code(wire.ErrUnimplemented)
	CodeOperationTimeout             Code = Code(wire.ErrOperationTimeout)
	CodeBadArguments                 Code = Code(wire.ErrBadArguments)
	CodeUnknownSession               Code = Code(wire.ErrUnknownSession)
	CodeNewConfigNoQuorum            Code = Code(wire.ErrNewConfigNoQuorum)
	CodeReconfigInProgress           Code = Code(wire.ErrReconfigInProgress)
	CodeAPIError                     Code = Code(wire.ErrAPIError)
	CodeNoNode                       Code = Code(wire.ErrNoNode)
	CodeNoAuth                       Code = Code(wire.ErrNoAuth)
	CodeBadVersion                   Code = Code(wire.ErrBadVersion)
	CodeNoChildrenForEphemerals      Code = Code(wire.ErrNoChildrenForEphemerals)
	CodeNodeExists                   Code = Code(wire.ErrNodeExists)
	CodeNotEmpty                     Code = Code(wire.ErrNotEmpty)
	CodeSessionExpired               Code = Code(wire.ErrSessionExpired)
	CodeInvalidCallback              Code = Code(wire.ErrInvalidCallback)
	CodeInvalidACL                   Code = Code(wire.ErrInvalidACL)
	CodeAuthFailed                   Code = Code(wire.ErrAuthFailed)
	CodeSessionMoved                 Code = Code(wire.ErrSessionMoved)
	CodeNotReadOnly                  Code = Code(wire.ErrNotReadOnly)
	CodeEphemeralOnLocalSession      Code = Code(wire.ErrEphemeralOnLocalSession)
	CodeNoWatcher                    Code = Code(wire.ErrNoWatcher)
	CodeRequestTimeout               Code = Code(wire.ErrRequestTimeout)
	CodeReconfigDisabled             Code = Code(wire.ErrReconfigDisabled)
	CodeSessionClosedRequireSASLAuth Code = Code(wire.ErrSessionClosedRequireSASLAuth)
	CodeQuotaExceeded                Code = Code(wire.ErrQuotaExceeded)
	CodeThrottledOp                  Code = Code(wire.ErrThrottledOp)
)

// String returns ZooKeeper's name for the code ("NoNode"), or the number for
// codes Keeper does not know.
func (c Code) String() string {
	if wire.ErrCode(c).Known() {
		return wire.ErrCode(c).String()
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Message returns a short lowercase description of the code.
func (c Code) Message() string { return wire.ErrCode(c).Message() }

// Error is an error reported by a ZooKeeper server (or, for connection loss
// and session expiry, by the client on the server's behalf). Op and Path name
// the failed call; Path is relative to the chroot. Use errors.Is with the
// sentinels (ErrNoNode, ...), which match on the code alone.
type Error struct {
	Op   string
	Path string
	Code Code
}

func (e *Error) Error() string {
	switch {
	case e.Op == "" && e.Path == "":
		return "keeper: " + e.Code.Message()
	case e.Path == "":
		return "keeper: " + e.Op + ": " + e.Code.Message()
	default:
		return "keeper: " + e.Op + " " + e.Path + ": " + e.Code.Message()
	}
}

// Is reports whether target is a sentinel *Error (one without Op) with the
// same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Path == "" && t.Code == e.Code
}

// Sentinel errors for the codes callers branch on. Match them with errors.Is.
var (
	ErrNoNode                  = &Error{Code: CodeNoNode}
	ErrNodeExists              = &Error{Code: CodeNodeExists}
	ErrBadVersion              = &Error{Code: CodeBadVersion}
	ErrNotEmpty                = &Error{Code: CodeNotEmpty}
	ErrNoChildrenForEphemerals = &Error{Code: CodeNoChildrenForEphemerals}
	ErrNoAuth                  = &Error{Code: CodeNoAuth}
	ErrAuthFailed              = &Error{Code: CodeAuthFailed}
	ErrInvalidACL              = &Error{Code: CodeInvalidACL}
	ErrSessionExpired          = &Error{Code: CodeSessionExpired}
	ErrSessionMoved            = &Error{Code: CodeSessionMoved}
	ErrOperationTimeout        = &Error{Code: CodeOperationTimeout}
	ErrNotReadOnly             = &Error{Code: CodeNotReadOnly}
	ErrUnimplemented           = &Error{Code: CodeUnimplemented}
	ErrBadArguments            = &Error{Code: CodeBadArguments}
	ErrNoWatcher               = &Error{Code: CodeNoWatcher}
	ErrReconfigDisabled        = &Error{Code: CodeReconfigDisabled}
	ErrRuntimeInconsistency    = &Error{Code: CodeRuntimeInconsistency}
	ErrQuotaExceeded           = &Error{Code: CodeQuotaExceeded}
	ErrThrottled               = &Error{Code: CodeThrottledOp}
	ErrEphemeralOnLocalSession = &Error{Code: CodeEphemeralOnLocalSession}
	ErrReconfigInProgress      = &Error{Code: CodeReconfigInProgress}
	ErrNewConfigNoQuorum       = &Error{Code: CodeNewConfigNoQuorum}
	ErrSystemError             = &Error{Code: CodeSystemError}

	// ErrConnectionLoss: the connection dropped while the request was in
	// flight. For a write it means the outcome is unknown: the server may
	// or may not have applied it.
	ErrConnectionLoss = &Error{Code: CodeConnectionLoss}
)

// Client-side errors.
var (
	// ErrClosed is returned by every call on a closed Client, and by calls
	// still pending when Close was called.
	ErrClosed = errors.New("keeper: client closed")
	// ErrSessionPresumedExpired is the cause in a Lost event when the client
	// declared its session lost itself, cut off from every server: 9/10 of
	// the session timeout after it sent the last request a server answered.
	// The server cannot expire the session earlier (it counts from when it
	// heard that request or a later one), so a recipe that stops acting for
	// the session at this Lost event stops before the server can have
	// expired it, with a tenth of the timeout to spare. Such errors also
	// match ErrSessionExpired.
	ErrSessionPresumedExpired = errors.New("keeper: session presumed expired: no server reached for a whole session timeout")
	// ErrInvalidPath is returned, before anything is sent, for a path that
	// ZooKeeper would reject.
	ErrInvalidPath = errors.New("keeper: invalid path")
	// ErrBadConnectString is returned by Connect and New for a malformed
	// connect string.
	ErrBadConnectString = errors.New("keeper: bad connect string")
	// ErrSlowConsumer ends a watcher, or a state listener, whose backlog
	// grew past WithMaxQueued.
	ErrSlowConsumer = errors.New("keeper: watcher fell too far behind")
	// ErrProtocol reports a reply that broke the protocol (a corrupt frame,
	// an xid out of order); the connection is dropped and re-established.
	ErrProtocol = errors.New("keeper: protocol error")
	// ErrRequestTooLarge is returned, before anything is sent, for a
	// request larger than the servers take (WithMaxRequestSize). The
	// error names the size and the limit.
	ErrRequestTooLarge = errors.New("keeper: request too large")
	// ErrNoServer is the cause reported while no server of the connect
	// string could be reached.
	ErrNoServer = errors.New("keeper: no server reachable")
)

// errPresumedExpired matches both ErrSessionExpired and ErrSessionPresumedExpired.
var errPresumedExpired = fmt.Errorf("%w: %w", ErrSessionExpired, ErrSessionPresumedExpired)

// connLossError is a connection loss that says why the connection was
// lost (a protocol error, a read timeout, the server closing it): it
// matches ErrConnectionLoss (through loss, which names the call once
// wrapOpErr has added it) and the cause.
type connLossError struct {
	loss  *Error
	cause error
}

func (e *connLossError) Error() string   { return e.loss.Error() + ": " + e.cause.Error() }
func (e *connLossError) Unwrap() []error { return []error{e.loss, e.cause} }

// lossCause returns the error for a request lost with its connection,
// which failed with cause.
func lossCause(cause error) error {
	if cause == nil || cause == errConnDead {
		return ErrConnectionLoss
	}
	return &connLossError{loss: ErrConnectionLoss, cause: cause}
}

// requestError carries whether a failed request ever reached the wire.
type requestError struct {
	err  error
	sent bool
}

func (e *requestError) Error() string     { return e.err.Error() }
func (e *requestError) Unwrap() error     { return e.err }
func (e *requestError) SafeToRetry() bool { return !e.sent }

// SafeToRetry reports whether err comes from a request that never reached
// the wire, so that retrying it cannot apply it twice. It is true for calls
// cancelled (or timed out) before their request was written, for requests
// failed by a session loss before they were sent, and for errors found
// client-side (a bad path); it is false for ErrConnectionLoss on a request
// that was written, whose outcome is unknown.
func SafeToRetry(err error) bool {
	var s interface{ SafeToRetry() bool }
	if errors.As(err, &s) {
		return s.SafeToRetry()
	}
	var ke *Error
	if errors.As(err, &ke) {
		return false
	}
	return errors.Is(err, ErrInvalidPath)
}

// IsRetryable reports whether err is a transient condition after which the
// same call may succeed: connection loss, an operation timeout, server
// throttling or a session moved to another server (ErrSessionMoved: the
// next attempt goes through the server that holds it now). Whether a write may be retried also depends on SafeToRetry.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrConnectionLoss) || errors.Is(err, ErrOperationTimeout) ||
		errors.Is(err, ErrThrottled) || errors.Is(err, ErrSessionMoved)
}

// ctxError wraps a context's error for a call that gave up waiting.
func ctxError(ctx context.Context, op, path string, sent bool) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = ctx.Err()
	}
	var err error
	if path != "" {
		err = fmt.Errorf("keeper: %s %s: %w", op, path, cause)
	} else {
		err = fmt.Errorf("keeper: %s: %w", op, cause)
	}
	if cause != ctx.Err() && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return &requestError{err: err, sent: sent}
}

// opError builds the error for a server reply code.
func opError(op, path string, code Code) error {
	return &Error{Op: op, Path: path, Code: code}
}
