package keeper

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// Metrics receives the client's measurements: set it with WithMetrics. Every
// field is optional; a nil field is not called. The functions are called
// synchronously on the client's own goroutines (the caller's, the
// connection's reader, the session loop), some while the client holds a
// lock: they must be fast, must not block and must not call the Client.
// Adapters for OpenTelemetry and Prometheus are the modules
// github.com/keeper-go/keeper/metrics/otel and
// github.com/keeper-go/keeper/metrics/prom.
//
// Without WithMetrics the client measures nothing: no clock is read and
// nothing is allocated for metrics.
type Metrics struct {
	// Op is called when a request completes, with the operation's name
	// ("get", "create", "multi", ...; the names in the errors of Error.Op),
	// its outcome as ErrorCode returns it ("ok", "NoNode",
	// "ConnectionLoss", "Canceled", ...) and how long the call waited, from
	// its request being queued to its reply (or its failure). A read
	// retried on connection loss reports each try.
	Op func(op, code string, d time.Duration)
	// InFlight is called with +1 when a request is queued and with -1 when
	// its call returns: the sum is the number of calls waiting for a reply.
	InFlight func(delta int)
	// State is called at each change of the connection state, from the
	// state before to the state after (as Listen reports them).
	State func(from, to State)
	// Connect is called after each connection attempt of the session loop
	// (the first connection and every reconnect) with the server tried, the
	// result as ConnectResult names it ("ok", "refused", "timeout", ...)
	// and how long the attempt took.
	Connect func(server, result string, d time.Duration)
	// Backlog is called when an event is queued for a consumer: kind is
	// "watcher" (a Watcher's events) or "listener" (a state listener), and
	// depth the number of events queued for it, the new one included. A
	// consumer keeping up sees 1; a slow one a growing depth.
	Backlog func(kind string, depth int)
	// SlowConsumer is called when a consumer of kind ("watcher" or
	// "listener") is ended with ErrSlowConsumer (WithMaxQueued).
	SlowConsumer func(kind string)
}

// WithMetrics makes the client report its measurements to m (see Metrics).
// nil, the default, measures nothing.
func WithMetrics(m *Metrics) Option {
	return func(c *config) {
		if m != nil {
			cp := *m
			c.metrics = &cp
		} else {
			c.metrics = nil
		}
	}
}

// Consumer kinds passed to Metrics.Backlog and Metrics.SlowConsumer.
const (
	ConsumerWatcher  = "watcher"
	ConsumerListener = "listener"
)

// ErrorCode names the outcome of a call for metrics: "ok" for nil, the
// server's code for an *Error ("NoNode", "ConnectionLoss",
// "SessionExpired", ...), and for client-side failures "Closed",
// "Canceled", "DeadlineExceeded", "RequestTooLarge", "InvalidPath",
// "Unimplemented", "Protocol" or, for anything else, "Other". The set
// is small and fixed, fit for a metric label.
func ErrorCode(err error) string {
	if err == nil {
		return "ok"
	}
	var ke *Error
	switch {
	case errors.Is(err, context.Canceled):
		return "Canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "DeadlineExceeded"
	case errors.Is(err, ErrClosed):
		return "Closed"
	case errors.Is(err, ErrSessionExpired):
		return CodeSessionExpired.String()
	case errors.Is(err, ErrConnectionLoss):
		return CodeConnectionLoss.String()
	case errors.As(err, &ke):
		if codeKnown(ke.Code) {
			return ke.Code.String()
		}
		return "Other"
	case errors.Is(err, ErrRequestTooLarge):
		return "RequestTooLarge"
	case errors.Is(err, ErrInvalidPath):
		return "InvalidPath"
	case errors.Is(err, ErrUnimplemented):
		return "Unimplemented"
	case errors.Is(err, ErrProtocol):
		return "Protocol"
	}
	return "Other"
}

// ConnectResult names the outcome of a connection attempt for metrics:
// "ok"; "refused" (nothing listens), "unreachable" (no route),
// "dns" (the name did not resolve), "timeout" (no answer in the connect
// timeout), "reset" (the server closed or reset the connection,
// as a server refusing a client ahead of it does), "expired" (the server
// said the session to resume is gone), "auth" (credentials refused),
// "tls", "closed" (the client is closing) or "other".
func ConnectResult(err error) string {
	if err == nil {
		return "ok"
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, errExpired), errors.Is(err, ErrSessionExpired):
		return "expired"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrAuthFailed):
		return "auth"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, errHandshakeClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return "tls"
	}
	if isTLSError(err) {
		return "tls"
	}
	return "other"
}

// isTLSError reports an error of the TLS layer (by its message: crypto/tls
// exports few error types).
func isTLSError(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s := e.Error(); len(s) >= 4 && s[:4] == "tls:" {
			return true
		}
	}
	return false
}

// codeKnown reports a code ZooKeeper defines.
func codeKnown(c Code) bool { return wire.ErrCode(c).Known() }

// opBegin is called, with metrics set, when a call queues its request.
func (m *Metrics) opBegin() time.Time {
	if m.InFlight != nil {
		m.InFlight(1)
	}
	return time.Now()
}

// opEnd is called, with metrics set, when the call returns *err.
func (m *Metrics) opEnd(op string, t0 time.Time, err *error) {
	if m.InFlight != nil {
		m.InFlight(-1)
	}
	if m.Op != nil {
		m.Op(op, ErrorCode(*err), time.Since(t0))
	}
}

// connected reports a connection attempt of the session loop.
func (m *Metrics) connected(server string, t0 time.Time, err error) {
	if m != nil && m.Connect != nil {
		m.Connect(server, ConnectResult(err), time.Since(t0))
	}
}

// stateChanged reports a state change.
func (m *Metrics) stateChanged(from, to State) {
	if m != nil && m.State != nil && from != to {
		m.State(from, to)
	}
}

// backlog reports the depth of a consumer's queue after a push.
func (m *Metrics) backlog(kind string, depth int) {
	if m != nil && m.Backlog != nil {
		m.Backlog(kind, depth)
	}
}

// slow reports a consumer ended with ErrSlowConsumer.
func (m *Metrics) slow(kind string) {
	if m != nil && m.SlowConsumer != nil {
		m.SlowConsumer(kind)
	}
}

// now reads the clock only when metrics are set.
func (m *Metrics) now() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}
