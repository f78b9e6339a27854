package keeper

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Option configures a Client; pass options to Connect or New.
type Option func(*config)

// Dialer opens a connection to a server address ("host:port").
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

type authInfo struct {
	scheme string
	cred   []byte
}

type config struct {
	sessionTimeout  time.Duration
	connectTimeout  time.Duration
	sessionID       int64
	passwd          []byte
	readOnly        bool
	auth            []authInfo
	defaultACL      []ACL
	retry           *Retry
	dialer          Dialer
	tlsConfig       *tls.Config
	logger          *slog.Logger
	maxFrame        int
	maxRequest      int
	maxInflight     int
	serverVersion   string
	keepOrder       bool
	noAutoResession bool
	maxQueued       int
	backoffMin      time.Duration
	backoffMax      time.Duration
	closeTimeout    time.Duration
	sasl            *saslConfig
	srv             srvConfig     // dns-srv:// connect strings (connstr.go)
	metrics         *Metrics      // WithMetrics (metrics.go); nil measures nothing
	initialXid      int32         // tests only: where xids start
	pingEvery       time.Duration // tests only: replaces a third of the session timeout
	errs            []error
}

type saslConfig struct{ user, password string }

func defaultConfig() config {
	return config{
		sessionTimeout: 10 * time.Second,
		logger:         slog.New(slog.DiscardHandler),
		maxFrame:       4 << 20,
		maxRequest:     DefaultMaxRequestSize,
		backoffMin:     50 * time.Millisecond,
		backoffMax:     2 * time.Second,
		closeTimeout:   time.Second,
		defaultACL:     OpenACL(),
	}
}

func (c *config) validate() error {
	switch {
	case len(c.errs) > 0:
		return errors.Join(c.errs...)
	case c.sessionTimeout < minNegotiated:
		return fmt.Errorf("keeper: WithSessionTimeout(%v): must be at least 100ms", c.sessionTimeout)
	case c.connectTimeout < 0:
		return fmt.Errorf("keeper: WithConnectTimeout(%v): must not be negative", c.connectTimeout)
	case c.maxFrame < 1024:
		return fmt.Errorf("keeper: WithMaxBuffer(%d): must be at least 1024", c.maxFrame)
	case c.maxRequest < 0:
		return fmt.Errorf("keeper: WithMaxRequestSize(%d): must not be negative", c.maxRequest)
	case c.maxInflight < 0:
		return fmt.Errorf("keeper: WithMaxInflight(%d): must not be negative", c.maxInflight)
	case c.maxQueued < 0:
		return fmt.Errorf("keeper: WithMaxQueued(%d): must not be negative", c.maxQueued)
	case c.sessionID != 0 && len(c.passwd) != 16:
		return fmt.Errorf("keeper: WithSession: password must be 16 bytes, got %d", len(c.passwd))
	case c.backoffMin <= 0 || c.backoffMax < c.backoffMin:
		return fmt.Errorf("keeper: WithReconnectBackoff(%v, %v): need 0 < min <= max", c.backoffMin, c.backoffMax)
	}
	for _, a := range c.defaultACL {
		if a.Scheme == "" {
			return errors.New("keeper: WithDefaultACL: an ACL entry has an empty scheme")
		}
	}
	if len(c.defaultACL) == 0 {
		return errors.New("keeper: WithDefaultACL: the list must not be empty (the server rejects it)")
	}
	if c.serverVersion != "" {
		if _, err := ParseVersion(c.serverVersion); err != nil {
			return fmt.Errorf("keeper: WithServerVersion(%q): %w", c.serverVersion, err)
		}
	}
	return nil
}

// WithSessionTimeout sets the session timeout the client asks for,
// overriding the default 10s; it must be at least 100ms. The server clamps
// it to its own range (by default 2 to 20 ticks); SessionTimeout reports
// the negotiated value, which the client never takes to be more than it
// asked for (a server raising it to its minimum gets pinged more often
// than it needs) nor less than 100ms.
func WithSessionTimeout(d time.Duration) Option {
	return func(c *config) { c.sessionTimeout = d }
}

// WithConnectTimeout bounds each connection attempt (dial plus handshake),
// overriding the default of the session timeout divided by the number of
// hosts, and by at least three (and at least 1s). The Java client divides
// by the number of hosts alone; the floor of three means that with one or
// two hosts a server that accepts the connection and then stays silent (a
// stalled process, a listen backlog nobody drains) cannot take a whole
// session timeout: there is time for two more attempts before the session
// is presumed expired.
func WithConnectTimeout(d time.Duration) Option {
	return func(c *config) { c.connectTimeout = d }
}

// WithSession resumes an existing session by its id and 16-byte password
// (from Client.Session), as Kazoo's client_id does. If the server says the
// session has expired, the client reports Lost and starts a new session.
func WithSession(id int64, password []byte) Option {
	return func(c *config) { c.sessionID, c.passwd = id, append([]byte(nil), password...) }
}

// WithReadOnly(true) lets the client use read-only servers (servers cut off
// from their quorum that run with readonlymode.enabled). Off by default.
func WithReadOnly(ok bool) Option {
	return func(c *config) { c.readOnly = ok }
}

// WithAuth adds credentials (for example "digest", "user:password"). They
// are sent on every connection before any other request. Connect fails with
// an error matching ErrAuthFailed when the server rejects them (an unknown
// scheme, such as a mistyped "digset", or a provider saying no); a client
// made with New reports the rejection to listeners instead (a StateEvent with
// KeeperAuthFailed) and goes on without them. Digest credentials are never
// rejected: a wrong password only yields an identity that no ACL grants
// anything to, so later requests fail with ErrNoAuth.
func WithAuth(scheme string, cred []byte) Option {
	return func(c *config) {
		if scheme == "" {
			c.errs = append(c.errs, errors.New("keeper: WithAuth: empty scheme"))
			return
		}
		c.auth = append(c.auth, authInfo{scheme, append([]byte(nil), cred...)})
	}
}

// WithDefaultACL sets the ACL for nodes created without WithACL, overriding
// the default OpenACL().
func WithDefaultACL(acl []ACL) Option {
	return func(c *config) { c.defaultACL = append([]ACL(nil), acl...) }
}

// WithRetry sets the policy by which reads are retried on connection loss,
// overriding the default (DefaultRetry). Writes are never retried by the
// client. nil turns retries off.
func WithRetry(r *Retry) Option {
	return func(c *config) {
		c.retry = r
		if r == nil {
			c.retry = &Retry{MaxTries: 1}
		}
	}
}

// WithDialer sets the function that opens connections (through a proxy,
// for example), overriding net.Dialer. On Linux the client reads and
// writes a plain TCP connection (a *net.TCPConn, as net.Dialer returns)
// with raw system calls, which costs less CPU than net.Conn's Read and
// Write; a connection of another type (a wrapper that counts or logs, say)
// is read and written through its own methods.
func WithDialer(d Dialer) Option {
	return func(c *config) { c.dialer = d }
}

// WithTLS makes every connection TLS (the server's secureClientPort). When
// cfg.ServerName is empty it is set per host of the connect string.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) { c.tlsConfig = cfg }
}

// WithLogger sets the logger, overriding the default that discards
// everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithMaxBuffer sets the largest reply frame accepted, overriding the
// default 4 MiB. A larger frame drops the connection with an error.
func WithMaxBuffer(n int) Option {
	return func(c *config) { c.maxFrame = n }
}

// DefaultMaxRequestSize is the largest request the client sends unless
// WithMaxRequestSize says otherwise: ZooKeeper's default jute.maxbuffer,
// 1 MiB less one byte, which the server applies to every request frame.
const DefaultMaxRequestSize = 1<<20 - 1

// WithMaxRequestSize sets the largest encoded request (the frame after its
// 4-byte length) the client sends, overriding DefaultMaxRequestSize: set
// it to the servers' jute.maxbuffer when they run with a larger one. A
// larger request fails at once with ErrRequestTooLarge and is never sent
// (a server closes the connection on it, which would look to the client
// like a lost connection with an unknown outcome). 0 turns the check off.
func WithMaxRequestSize(n int) Option {
	return func(c *config) { c.maxRequest = n }
}

// WithMaxInflight bounds the number of requests outstanding at once; a
// call waits (bounded by its ctx) for a free slot. Calls waiting on a full
// window go on once a quarter of it is free again (at least one slot), so
// that a goroutine keeping it full with asynchronous calls sends them in
// batches rather than one per reply. 0, the default, means no bound.
func WithMaxInflight(n int) Option {
	return func(c *config) { c.maxInflight = n }
}

// WithServerVersion fixes the servers' version ("3.6.3") instead of asking
// each server with the srvr four-letter word. Operations that the version
// lacks fail with ErrUnimplemented without being sent.
func WithServerVersion(v string) Option {
	return func(c *config) { c.serverVersion = v }
}

// WithOrderedHosts makes the client try the hosts in the order of the
// connect string instead of a random order.
func WithOrderedHosts() Option {
	return func(c *config) { c.keepOrder = true }
}

// WithNoAutoResession stops the client from opening a new session after
// its session is lost: it stays Lost, and calls fail with
// ErrSessionExpired until it is closed.
func WithNoAutoResession() Option {
	return func(c *config) { c.noAutoResession = true }
}

// WithMaxQueued caps the backlog of each watcher and state listener: a
// watcher more than n events behind is ended with ErrSlowConsumer, and a
// listener (Listen) is ended after one last event whose Err matches
// ErrSlowConsumer. 0, the default, means unbounded. The cap counts events,
// not bytes: an event holds its path, which a server may make as long as
// a frame (WithMaxBuffer), so a full queue may hold up to n times that.
func WithMaxQueued(n int) Option {
	return func(c *config) { c.maxQueued = n }
}

// WithReconnectBackoff sets the delay between reconnect attempts after a
// failed one: it starts at min and doubles up to max, with jitter,
// overriding the defaults 50ms and 2s. The first attempt after a drop is
// immediate.
func WithReconnectBackoff(min, max time.Duration) Option {
	return func(c *config) { c.backoffMin, c.backoffMax = min, max }
}

// WithSASL authenticates with SASL DIGEST-MD5 as user, before any other
// request is sent on each connection. Kerberos (GSSAPI) is not supported.
func WithSASL(user, password string) Option {
	return func(c *config) { c.sasl = &saslConfig{user, password} }
}
