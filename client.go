package keeper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// Client is a ZooKeeper client: one session, kept alive across reconnects
// and server failover. All methods are safe for concurrent use. Create one
// with Connect or New and end it with Close.
type Client struct {
	cfg   config
	hosts []hostPort
	root  chroot
	log   *slog.Logger

	closing    chan struct{} // closed when Close has sent closeSession (or given up)
	closeStart chan struct{} // closed when Close starts
	baseCtx    context.Context
	cancel     context.CancelFunc // cancels baseCtx at Close
	closeOnce  sync.Once
	wg         sync.WaitGroup // session loop, watchers, listeners, helpers
	slots      *window        // WithMaxInflight bound, nil when unbounded
	// defaultACL is cfg.defaultACL in wire form, converted once.
	defaultACL []wire.ACL
	watches    watchRegistry
	async      asyncQueue // the asynchronous calls' callbacks (async.go)

	lastZxid atomic.Int64
	// lastHeard is when (unix nanos) the client sent the last request a
	// server answered: the server heard from the session then or later, so
	// its session clock started no earlier. Presumed expiry counts from it.
	lastHeard atomic.Int64
	// xid is the last request xid handed out (nextXid). Atomic, but the
	// order of xids on the wire comes from their being taken under the
	// writing connection's wmu (or, for SASL, before the connection is
	// published, when nothing else writes on it).
	xid atomic.Int32

	// mu guards the fields below it: the session (state, stateCh,
	// sessionID, passwd, timeout, seenRW, lostErr, abandoned,
	// closeStarted), the live connection (cur, server), the outbox, the
	// credentials, the listeners and the per-server caches (versions,
	// preferred, lastConnErr).
	//
	// Lock order: c.mu, then a connection's wmu, then its mu, then the
	// watch registry's mu: never take an earlier one while holding a
	// later one. Code holding c.mu may complete requests
	// (failOutboxLocked), so a request's onDone callback may run under
	// c.mu: it must not take c.mu. The callbacks of this package take it
	// only on a reply (r.err nil), which the reader delivers without
	// holding any lock; under c.mu they are called with r.err set and
	// return at once.
	mu           sync.Mutex
	state        State
	stateCh      chan struct{} // closed and replaced at every state change
	sessionID    int64
	passwd       []byte
	timeout      time.Duration // negotiated
	cur          *conn         // the live connection, nil while disconnected
	server       string
	seenRW       bool // had a read-write session (Java's seenRwServerBefore)
	outbox       []*request
	kick         chan struct{} // signals the live writer
	wakeLoop     chan struct{} // 1-buffered: a request queued while disconnected
	auth         []authInfo
	listeners    map[int]*listener
	nextLID      int
	versions     map[string]*versionProbe // per server address, learned with srvr
	lostErr      error                    // set while Lost without a new session
	abandoned    []abandonedSession       // sessions presumed lost, to close for sure
	closeStarted bool                     // Close is sending closeSession
	closeErr     error                    // why Close could not close the session
	preferred    *hostPort                // a read-write server found while read-only
	lastConnErr  error                    // why the last connection attempt failed
	authErr      error                    // the first credentials the server rejected
	srv          srvState                 // the hosts of a dns-srv:// connect string
}

type abandonedSession struct {
	id     int64
	passwd []byte
}

// Connect creates a client and waits until its first session is
// established, or ctx ends (then the client is closed and ctx's error
// returned). servers is a connect string: "host1:2181,host2:2181/chroot".
// Hosts may be names, IPv4 addresses or [IPv6] addresses; the port
// defaults to 2181; the optional chroot makes every path relative to it.
// "dns-srv://name/chroot" finds the servers through the SRV records of name
// instead (see WithDNSSRVRefresh).
// ctx bounds only the setup: reconnects go on until Close.
func Connect(ctx context.Context, servers string, opts ...Option) (*Client, error) {
	c, err := New(servers, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.WaitConnected(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.checkConnectAuth(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// New creates a client that connects in the background and returns at
// once; requests made before the session exists wait for it (bounded by
// their ctx). A malformed connect string or option is an error at once.
func New(servers string, opts ...Option) (*Client, error) {
	hosts, root, err := parseConnectString(servers)
	if err != nil {
		return nil, err
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.retry == nil {
		cfg.retry = DefaultRetry()
	}
	c := &Client{
		cfg:        cfg,
		hosts:      hosts,
		root:       root,
		log:        cfg.logger,
		closing:    make(chan struct{}),
		closeStart: make(chan struct{}),
		stateCh:    make(chan struct{}),
		kick:       make(chan struct{}, 1),
		wakeLoop:   make(chan struct{}, 1),
		listeners:  map[int]*listener{},
		versions:   map[string]*versionProbe{},
		sessionID:  cfg.sessionID,
		passwd:     cfg.passwd,
		auth:       append([]authInfo(nil), cfg.auth...),
		timeout:    cfg.sessionTimeout,
	}
	c.xid.Store(cfg.initialXid)
	if cfg.sessionID != 0 {
		c.seenRW = true
	}
	if cfg.maxInflight > 0 {
		c.slots = newWindow(cfg.maxInflight)
	}
	c.defaultACL = toWireACL(cfg.defaultACL)
	c.baseCtx, c.cancel = context.WithCancel(context.Background())
	c.watches.init(c)
	c.lastHeard.Store(time.Now().UnixNano())
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// State returns the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done returns a channel that is closed when Close starts. From then on
// every call returns ErrClosed, and what the server does while the session
// is being closed (deleting its ephemeral nodes, firing watches on them) is
// the effect of Close, not of a fault: a recipe that sees its node deleted
// after Done was closed reports ErrClosed.
func (c *Client) Done() <-chan struct{} { return c.closeStart }

// SessionID returns the current session's id (0 before the first session).
func (c *Client) SessionID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// Session returns the current session's id and password, which
// WithSession takes to resume it from another client.
func (c *Client) Session() (id int64, password []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID, bytes.Clone(c.passwd)
}

// Server returns the address of the server connected to, or "" while
// disconnected.
func (c *Client) Server() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// Chroot returns the chroot of the connect string ("" when none).
func (c *Client) Chroot() string { return string(c.root) }

// LastZxid returns the newest zxid the client has seen.
func (c *Client) LastZxid() int64 { return c.lastZxid.Load() }

// SessionTimeout returns the session timeout negotiated with the server
// (the requested one before the first session).
func (c *Client) SessionTimeout() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeout
}

// ServerVersion returns the version of the server connected to, when
// known (zero otherwise).
func (c *Client) ServerVersion() Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		return c.cur.version
	}
	return Version{}
}

// WaitConnected waits until the client is connected (read-write, or
// read-only when WithReadOnly allows it). It returns ErrClosed if the
// client is closed, and ctx's error when ctx ends first.
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		st, ch, lost := c.state, c.stateCh, c.lostErr
		c.mu.Unlock()
		switch st {
		case Connected, ConnectedReadOnly:
			return nil
		case Closed:
			return ErrClosed
		case Lost:
			if c.cfg.noAutoResession && lost != nil {
				return lost
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			err := ctxError(ctx, "connect", "", false)
			c.mu.Lock()
			connErr := c.lastConnErr
			c.mu.Unlock()
			if connErr != nil {
				// Say why no connection could be made (refused, TLS,
				// authentication), keeping ctx's error for errors.Is.
				return &requestError{err: fmt.Errorf("%w (last attempt: %w)", err, connErr)}
			}
			return err
		}
	}
}

// noteHeard records that a request sent at t (unix nanos) was answered.
func (c *Client) noteHeard(t int64) {
	for {
		old := c.lastHeard.Load()
		if t <= old || c.lastHeard.CompareAndSwap(old, t) {
			return
		}
	}
}

func (c *Client) noteZxid(z int64) {
	for {
		old := c.lastZxid.Load()
		if z <= old || c.lastZxid.CompareAndSwap(old, z) {
			return
		}
	}
}

// setStateLocked changes the state and queues the event to every
// listener. Caller holds c.mu.
func (c *Client) setStateLocked(ev StateEvent) {
	if c.state == Closed {
		return
	}
	c.cfg.metrics.stateChanged(c.state, ev.State)
	c.state = ev.State
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	for id, l := range c.listeners {
		if !l.push(ev, c.cfg.maxQueued) {
			delete(c.listeners, id)
		}
	}
	c.log.Info("state change", slog.String("state", ev.State.String()),
		slog.String("session", strconv.FormatInt(ev.SessionID, 16)), slog.Any("err", ev.Err))
}

// enqueue puts a request in the outbox for the writer of the live (or next)
// connection.
func (c *Client) enqueue(r *request) error {
	_, err := c.enqueueSelf(r, false)
	return err
}

// enqueueSelf is enqueue for a caller that waits for r's reply (self):
// when it finds the connection idle it writes r itself and may get the
// socket to read the reply too; then it returns the connection, and the
// caller must call its readOwn.
func (c *Client) enqueueSelf(r *request, self bool) (*conn, error) {
	c.mu.Lock()
	switch {
	case c.state == Closed, c.closeStarted && r.op != wire.OpCloseSession:
		c.mu.Unlock()
		return nil, &requestError{err: ErrClosed}
	case c.state == Lost && c.cfg.noAutoResession:
		err := c.lostErr
		c.mu.Unlock()
		return nil, &requestError{err: err}
	}
	alone := len(c.outbox) == 0
	c.outbox = append(c.outbox, r)
	cn := c.cur
	c.mu.Unlock()
	switch {
	case cn == nil:
		// Written once a connection is up; the session loop, idle while
		// Close runs, connects for it.
		select {
		case c.wakeLoop <- struct{}{}:
		default:
		}
	case alone && cn.idle():
		// Nothing else in flight: write from here, saving a hand-off.
		if self {
			if cn.tryWriteSelf(r) {
				return cn, nil
			}
		} else {
			cn.tryWrite()
		}
	default:
		cn.kickWriter()
	}
	return nil, nil
}

// takeOutbox moves every queued request to batch.
func (c *Client) takeOutbox(batch []*request) []*request {
	c.mu.Lock()
	batch = append(batch, c.outbox...)
	clear(c.outbox)
	c.outbox = c.outbox[:0]
	c.mu.Unlock()
	return batch
}

// requeue puts unwritten requests back at the head of the outbox.
func (c *Client) requeue(rs []*request) {
	c.mu.Lock()
	var keep []*request
	for _, r := range rs {
		if r != nil {
			keep = append(keep, r)
		}
	}
	c.outbox = append(keep, c.outbox...)
	if c.state == Closed {
		// Close is done with the outbox (shutdown may have failed it
		// already while these were out of it): nobody else would.
		c.failOutboxLocked(ErrClosed)
	}
	c.mu.Unlock()
	// The session loop, idle while Close runs, may have looked at the
	// outbox while these were out of it (taken by a writer of a
	// connection that died): wake it to look again, or Close's
	// closeSession would wait for its timeout with no one sending it.
	select {
	case c.wakeLoop <- struct{}{}:
	default:
	}
}

// failOutboxLocked fails every unwritten request with err (never sent).
// Caller holds c.mu; the requests' onDone callbacks run under it.
func (c *Client) failOutboxLocked(err error) {
	for _, r := range c.outbox {
		if r.state.CompareAndSwap(reqQueued, reqDone) {
			r.complete(CodeOK, &requestError{err: err, sent: false})
		}
	}
	clear(c.outbox)
	c.outbox = c.outbox[:0]
}

func (c *Client) acquireSlot(ctx context.Context, op, path string) error {
	if c.slots == nil {
		return nil
	}
	ok, closed := c.slots.acquire(ctx, c.closing)
	switch {
	case ok:
		return nil
	case closed:
		return &requestError{err: ErrClosed}
	}
	return ctxError(ctx, op, path, false)
}

func (c *Client) releaseSlot() {
	if c.slots != nil {
		c.slots.release()
	}
}

// call sends a request and waits for its reply. It returns the server's
// code as an *Error, or a client-side error.
func (c *Client) call(ctx context.Context, op wire.OpCode, opName, path string, body, resp wire.Record, w *watchReg) (int64, error) {
	r := newRequest(op, body, resp)
	r.watch = w
	if err := c.roundTrip(ctx, r, opName, path); err != nil {
		return 0, err
	}
	zxid := r.zxid
	r.recycle()
	return zxid, nil
}

// roundTrip sends a request built with startRequest/endFrame (or
// newRequest) and waits for its reply. On success the caller reads the
// reply from r and then recycles it; on error r is no longer the caller's.
func (c *Client) roundTrip(ctx context.Context, r *request, opName, path string) (err error) {
	if m := c.cfg.metrics; m != nil {
		defer m.opEnd(opName, m.opBegin(), &err)
	}
	if err := ctx.Err(); err != nil {
		r.recycle()
		return ctxError(ctx, opName, path, false)
	}
	if n := len(r.frame) - r.start - 4; c.cfg.maxRequest > 0 && n > c.cfg.maxRequest {
		r.recycle()
		return &requestError{err: fmt.Errorf("keeper: %s %s: %w: %d bytes encoded, over the limit of %d (the servers' jute.maxbuffer; see WithMaxRequestSize)",
			opName, path, ErrRequestTooLarge, n, c.cfg.maxRequest)}
	}
	if err := c.acquireSlot(ctx, opName, path); err != nil {
		r.recycle()
		return err
	}
	cn, err := c.enqueueSelf(r, true)
	if err != nil {
		c.releaseSlot()
		r.recycle()
		return wrapOpErr(opName, path, err)
	}
	if cn != nil {
		cn.readOwn(ctx, r)
	}
	if err := c.wait(ctx, r, opName, path); err != nil {
		return err // r now belongs to the reader; never recycled
	}
	c.releaseSlot()
	code, err := r.code, r.err
	if err != nil {
		r.recycle()
		return wrapOpErr(opName, path, err)
	}
	if code != CodeOK {
		r.recycle()
		return opError(opName, path, code)
	}
	return nil
}

// wrapOpErr adds the operation and path to a client-side error.
func wrapOpErr(op, path string, err error) error {
	var re *requestError
	if errors.As(err, &re) {
		var cl *connLossError
		if errors.As(re.err, &cl) && cl.loss.Op == "" {
			loss := &Error{Op: op, Path: path, Code: CodeConnectionLoss}
			return &requestError{err: &connLossError{loss: loss, cause: cl.cause}, sent: re.sent}
		}
		if errors.Is(re.err, ErrSessionPresumedExpired) {
			// Checked before the *Error below, which it also wraps: the
			// op's error must still say the expiry was presumed.
			opErr := &Error{Op: op, Path: path, Code: CodeSessionExpired}
			return &requestError{err: fmt.Errorf("%w: %w", opErr, ErrSessionPresumedExpired), sent: re.sent}
		}
		if errors.Is(re.err, ErrClosed) {
			return &requestError{err: fmt.Errorf("keeper: %s %s: %w", op, path, re.err), sent: re.sent}
		}
		var ke *Error
		if errors.As(re.err, &ke) && ke.Op == "" {
			return &requestError{err: &Error{Op: op, Path: path, Code: ke.Code}, sent: re.sent}
		}
	}
	return err
}
