package keeper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// run is the session loop: connect, serve until the connection drops,
// reconnect, until Close.
func (c *Client) run() {
	defer c.wg.Done()
	failures := 0
	refusals := 0 // resumes refused in a row by servers closing the handshake
	hosts := c.hostOrder()
	next := 0
	for {
		select {
		case <-c.closing:
			c.shutdown()
			return
		default:
		}
		c.mu.Lock()
		// While Close runs, connect only to send its closeSession (the one
		// request enqueue still takes), and only for a session that can be
		// resumed.
		stopping := c.closeStarted
		idle := stopping && (len(c.outbox) == 0 || c.sessionID == 0 || !c.seenRW)
		c.mu.Unlock()
		if idle {
			select {
			case <-c.closing:
			case <-c.wakeLoop:
				// closeSession queued again: look again.
			}
			continue
		}
		if next >= len(hosts) {
			hosts, next = c.hostOrder(), 0
		}
		hp := hosts[next]
		next++
		c.mu.Lock()
		if c.preferred != nil {
			hp, c.preferred = *c.preferred, nil
			next--
		}
		c.mu.Unlock()
		if failures > 0 && !c.waitBackoff(failures, stopping) {
			c.shutdown()
			return
		}
		// A handshake proves the server alive only if the connection
		// before it served (see below): otherwise a server that accepts
		// every handshake and then breaks the protocol would keep a
		// session no server really holds from being presumed expired.
		t0 := c.cfg.metrics.now()
		debug := c.log.Enabled(context.Background(), slog.LevelDebug)
		if debug {
			c.log.LogAttrs(context.Background(), slog.LevelDebug, "connecting", slog.String("server", hp.String()), slog.Int("failures", failures))
		}
		cn, err := c.connect(hp, failures == 0)
		if debug && err == nil {
			c.log.LogAttrs(context.Background(), slog.LevelDebug, "connected", slog.String("server", cn.addr),
				slog.String("session", strconv.FormatInt(c.SessionID(), 16)), slog.Bool("new", cn.newSession))
		}
		if m := c.cfg.metrics; m != nil {
			m.connected(hp.String(), t0, err)
		}
		if err != nil {
			if errors.Is(err, errExpired) {
				c.sessionLost(ErrSessionExpired, KeeperExpired)
				next-- // a new session on the same server at once
				failures, refusals = 0, 0
				continue
			}
			failures++
			c.log.Warn("connect failed", slog.String("server", hp.String()), slog.Any("err", err))
			c.mu.Lock()
			c.lastConnErr = err
			resuming := c.sessionID != 0 && c.seenRW
			c.mu.Unlock()
			if resuming && errors.Is(err, errHandshakeClosed) {
				if refusals++; refusals == len(hosts) {
					c.reportServersBehind()
				}
			} else {
				refusals = 0
			}
			c.checkPresumedExpiry()
			continue
		}
		refusals = 0
		c.serve(cn)
		// The first attempt after a drop goes to the next host at once,
		// if the connection served: one that failed before answering
		// anything counts as a failed attempt, so that a server breaking
		// the protocol right after the handshake meets the backoff.
		if cn.served.Load() {
			failures = 0
		} else {
			failures++
		}
	}
}

// errHandshakeClosed: the server closed the connection instead of
// answering the handshake, which is how ZooKeeper refuses a client that
// has seen a newer zxid than the server has (or, for a server in
// read-only mode, a client that does not accept read-only sessions).
var errHandshakeClosed = errors.New("server closed the connection during the handshake")

// reportServersBehind tells the listeners that every server refused to
// resume the session: the state stays, with an Err that says why.
func (c *Client) reportServersBehind() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == Closed || c.sessionID == 0 {
		return
	}
	err := fmt.Errorf("keeper: every server closed the handshake resuming session 0x%x: they may be behind the last zxid seen (0x%x), "+
		"or refuse read-write clients; the session is presumed expired after a whole session timeout, and a new one starts from zxid 0",
		c.sessionID, c.lastZxid.Load())
	c.setStateLocked(StateEvent{State: c.state, Keeper: KeeperDisconnected, SessionID: c.sessionID, Err: err})
}

// hostOrder returns the hosts for one pass, shuffled unless
// WithOrderedHosts. Names are resolved when dialed, so every pass
// re-resolves them; a dns-srv:// entry becomes the servers of its SRV
// records (expandSRV).
func (c *Client) hostOrder() []hostPort {
	c.mu.Lock()
	hs := append([]hostPort(nil), c.hosts...)
	c.mu.Unlock()
	hs = c.expandSRV(hs)
	if !c.cfg.keepOrder {
		rand.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
	}
	return hs
}

// waitBackoff sleeps before a retry: capped exponential with jitter, ended
// early by Close or by the session's presumed expiry. While Close waits
// for its closeSession (stopping), the wait is the shortest backoff, and at
// most a tenth of the close timeout: Close bounds the attempts, and must
// not sleep through them.
func (c *Client) waitBackoff(failures int, stopping bool) bool {
	d := backoffDelay(failures, c.cfg.backoffMin, c.cfg.backoffMax)
	closeStart := c.closeStart
	if stopping {
		d = min(backoffDelay(1, c.cfg.backoffMin, c.cfg.backoffMin), c.cfg.closeTimeout/10)
		closeStart = nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		exp := c.presumedExpiryIn()
		var expC <-chan time.Time
		if exp > 0 && exp < d {
			et := time.NewTimer(exp)
			defer et.Stop()
			expC = et.C
		}
		select {
		case <-c.closing:
			return false
		case <-closeStart:
			return true // Close wants its closeSession sent now
		case <-t.C:
			return true
		case <-expC:
			c.checkPresumedExpiry()
		}
	}
}

// backoffDelay is the wait before a reconnect attempt after failures
// failed ones in a row: lo doubled per failure, capped at hi, then a
// random value in its upper half.
func backoffDelay(failures int, lo, hi time.Duration) time.Duration {
	d := lo << min(max(failures-1, 0), 20)
	if d > hi || d <= 0 {
		d = hi
	}
	return d/2 + rand.N(d/2+1)
}

// presumedExpiryIn returns how long until the current session, cut off,
// is presumed expired (0 when there is no session to presume about).
func (c *Client) presumedExpiryIn() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessionID == 0 || c.state == Lost || c.state == Connecting {
		return 0
	}
	d := time.Until(time.Unix(0, c.lastHeard.Load()).Add(presumeAfter(c.timeout)))
	if d <= 0 {
		return time.Nanosecond
	}
	return d
}

// presumeAfter is how long after sending the last request a server
// answered the client presumes its session expired: the session timeout
// less a margin of a tenth of it. The server counts its timeout from when
// it last heard from the session, which is no earlier than when the client
// sent that request; the margin absorbs the client's own timers firing
// late (a loaded machine, a GC pause) and clock rate differences, so that
// Lost comes before the server can expire the session, not just before it
// usually does.
func presumeAfter(timeout time.Duration) time.Duration { return timeout - timeout/10 }

// checkPresumedExpiry declares the session lost when no server has
// answered a request sent in the last presumeAfter(timeout).
func (c *Client) checkPresumedExpiry() {
	c.mu.Lock()
	if c.sessionID == 0 || c.state == Lost || c.state == Connecting || c.state == Closed {
		c.mu.Unlock()
		return
	}
	if time.Since(time.Unix(0, c.lastHeard.Load())) < presumeAfter(c.timeout) {
		c.mu.Unlock()
		return
	}
	if c.seenRW {
		c.abandoned = append(c.abandoned, abandonedSession{c.sessionID, bytes.Clone(c.passwd)})
	}
	c.mu.Unlock()
	c.sessionLost(errPresumedExpired, KeeperExpired)
}

// sessionLost ends the current session: Lost to listeners, queued requests
// failed, one-shot watches ended; the next connection opens a new session.
func (c *Client) sessionLost(cause error, ks KeeperState) {
	c.mu.Lock()
	old := c.sessionID
	c.sessionID, c.passwd = 0, nil
	c.failOutboxLocked(cause)
	if c.cfg.noAutoResession {
		c.lostErr = cause
	}
	c.setStateLocked(StateEvent{State: Lost, Keeper: ks, SessionID: old, Err: cause})
	c.mu.Unlock()
	c.watches.sessionLost(cause)
}

// connect dials hp and establishes (or resumes) the session. trusted
// says whether the handshake counts as hearing from the session's server
// (see run).
func (c *Client) connect(hp hostPort, trusted bool) (*conn, error) {
	c.mu.Lock()
	if c.state == Lost && c.cfg.noAutoResession {
		c.mu.Unlock()
		// Stay lost: wait for Close.
		<-c.closing
		return nil, ErrClosed
	}
	sid, pw := c.sessionID, bytes.Clone(c.passwd)
	if !c.seenRW && sid != 0 {
		// A read-only (local) session cannot be resumed elsewhere.
		sid, pw = 0, nil
	}
	ctimeout := c.cfg.connectTimeout
	nhosts := len(c.hosts)
	if ctimeout == 0 {
		ctimeout = max(c.timeout/time.Duration(max(nhosts, 3)), time.Second) // see WithConnectTimeout
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(c.baseCtx, ctimeout)
	defer cancel()
	if exp := c.presumedExpiryIn(); exp > 0 && sid != 0 {
		var cancel2 context.CancelFunc
		ctx, cancel2 = context.WithTimeout(ctx, exp)
		defer cancel2()
	}

	addrs, err := c.resolve(ctx, hp)
	if err != nil {
		return nil, err
	}
	addr := addrs[rand.N(len(addrs))]
	probe := c.probeVersion(hp, addr) // in parallel with the handshake
	nc, err := c.dial(ctx, hp, addr)
	if err != nil {
		return nil, err
	}
	// A new session starts from zxid 0, as a new Java client does: the
	// zxid seen in a session lost (perhaps from a server that lied, or
	// an ensemble since rebuilt) must not make every server refuse us.
	zxid := c.lastZxid.Load()
	if sid == 0 {
		zxid = 0
	}
	sent := time.Now()
	resp, err := c.handshake(ctx, nc, addr, sid, pw, zxid)
	if err != nil {
		_ = nc.Close()
		if errors.Is(err, errExpired) && sid == 0 {
			return nil, fmt.Errorf("keeper: %s refused a new session", addr)
		}
		return nil, err
	}
	if c.cfg.sasl != nil {
		if err := c.saslAuth(ctx, nc, hp); err != nil {
			_ = nc.Close()
			if resp.SessionID != sid {
				// The handshake opened a session we will not use: end it
				// rather than leave it to time out on the server.
				c.wg.Add(1)
				go c.closeAbandoned(abandonedSession{resp.SessionID, bytes.Clone(resp.Passwd)})
			}
			return nil, err
		}
	}
	cn := &conn{
		c:        c,
		nc:       nc,
		addr:     addr,
		version:  c.awaitVersion(ctx, probe, addr),
		readOnly: resp.ReadOnly,
		timeout:  time.Duration(resp.Timeout) * time.Millisecond,
		kick:     c.kick,
		done:     make(chan struct{}),
	}
	c.mu.Lock()
	newSession := resp.SessionID != c.sessionID || c.sessionID == 0
	if prev := c.sessionID; newSession && prev != 0 && c.state != Lost {
		// The session we had is gone for good: a read-only session
		// replaced (we asked for a new one, see above), or a resume the
		// server answered with another session.
		if sid == 0 {
			c.log.Info("read-only session replaced", slog.String("session", strconv.FormatInt(prev, 16)),
				slog.String("new", strconv.FormatInt(resp.SessionID, 16)))
		} else {
			c.log.Warn("session replaced: the server answered its resume with another session",
				slog.String("session", strconv.FormatInt(prev, 16)), slog.String("new", strconv.FormatInt(resp.SessionID, 16)))
		}
		c.mu.Unlock()
		c.sessionLost(ErrSessionExpired, KeeperExpired) // names prev, then forgets it
		c.mu.Lock()
	}
	c.sessionID, c.passwd, c.timeout = resp.SessionID, bytes.Clone(resp.Passwd), cn.timeout
	if !resp.ReadOnly {
		c.seenRW = true
	}
	if newSession {
		c.lastZxid.Store(0)
	}
	c.mu.Unlock()
	if trusted || newSession {
		c.noteHeard(sent.UnixNano()) // the server answered what we sent then
	}
	cn.newSession = newSession
	return cn, nil
}

// setHosts replaces the host list (after a reconfig); the next pass over
// the hosts uses it.
func (c *Client) setHosts(hosts []hostPort) {
	if len(hosts) == 0 {
		return
	}
	c.mu.Lock()
	c.hosts = append([]hostPort(nil), hosts...)
	c.mu.Unlock()
}

// resolve turns a host into addresses ("ip:port"), re-resolving names.
func (c *Client) resolve(ctx context.Context, hp hostPort) ([]string, error) {
	if hp.srv {
		return nil, c.srv.failure(hp)
	}
	if ip := net.ParseIP(hp.host); ip != nil || c.cfg.dialer != nil {
		return []string{hp.String()}, nil
	}
	ips, err := net.DefaultResolver.LookupHost(ctx, hp.host)
	if err != nil {
		return nil, fmt.Errorf("keeper: resolve %s: %w", hp.host, err)
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = net.JoinHostPort(ip, strconv.Itoa(hp.port))
	}
	return out, nil
}

// versionProbe is what the client knows of one server's version.
type versionProbe struct {
	done   chan struct{} // closed when the probe ends
	v      Version       // set before done is closed; zero if it failed
	failed time.Time     // when the probe failed
}

// probeRetry is how long a failed version probe of a server is cached
// before the next connection to it asks again.
const probeRetry = time.Minute

// probeVersion starts learning addr's version with srvr on a connection
// of its own, unless it is known, being learned, or failed lately. It
// returns the probe to wait for (nil when there is nothing to wait for).
// The probe never decides whether the session connects: see awaitVersion.
func (c *Client) probeVersion(hp hostPort, addr string) *versionProbe {
	if c.cfg.serverVersion != "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.versions[addr]; ok && (p.failed.IsZero() || time.Since(p.failed) < probeRetry) {
		return p
	}
	if c.state == Closed {
		return nil
	}
	p := &versionProbe{done: make(chan struct{})}
	c.versions[addr] = p
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		v, err := c.askVersion(hp, addr)
		c.mu.Lock()
		if err != nil {
			p.failed = time.Now()
			c.log.Warn("cannot learn the server version with srvr; use WithServerVersion", slog.String("server", addr), slog.Any("err", err))
		} else {
			p.v = v
			if c.cur != nil && c.cur.addr == addr {
				c.cur.version = v // learned after the connection was up
			}
		}
		c.mu.Unlock()
		close(p.done)
	}()
	return p
}

// versionWait bounds how long a new connection waits for its server's
// version after the handshake, so that version-dependent behaviour is
// right from the first request when the server answers srvr promptly.
const versionWait = 500 * time.Millisecond

// awaitVersion returns the version probe p learned, waiting for it at most
// versionWait (and no longer than ctx): zero when unknown, and set on the
// connection later if the probe ends after.
func (c *Client) awaitVersion(ctx context.Context, p *versionProbe, addr string) Version {
	if c.cfg.serverVersion != "" {
		v, _ := ParseVersion(c.cfg.serverVersion)
		return v
	}
	if p == nil {
		return Version{}
	}
	t := time.NewTimer(versionWait)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.v
}

// askVersion asks addr's version with srvr, bounded by 2s.
func (c *Client) askVersion(hp hostPort, addr string) (Version, error) {
	ctx, cancel := context.WithTimeout(c.baseCtx, 2*time.Second)
	defer cancel()
	nc, err := c.dial(ctx, hp, addr)
	if err != nil {
		return Version{}, err
	}
	defer nc.Close()
	out, err := exchangeWord(ctx, nc, "srvr")
	if err != nil {
		return Version{}, err
	}
	st, err := ParseSrvr(out)
	if err != nil {
		return Version{}, err
	}
	return st.Version, nil
}

// serve runs a live connection until it drops.
func (c *Client) serve(cn *conn) {
	c.mu.Lock()
	// Prelude: credentials first, then the watches to restore.
	for _, a := range c.auth {
		r := newRequest(wire.OpAuth, &wire.AuthPacket{Scheme: a.scheme, Auth: a.cred}, nil)
		scheme := a.scheme
		r.onDone = func(r *request) {
			if r.err == nil && r.code != CodeOK {
				c.authFailed(scheme, r.code)
			}
		}
		cn.prelude = append(cn.prelude, r)
	}
	sid := c.sessionID
	c.mu.Unlock()
	cn.prelude = append(cn.prelude, c.watches.restore(cn)...)

	ks, st := KeeperSyncConnected, Connected
	if cn.readOnly {
		ks, st = KeeperConnectedReadOnly, ConnectedReadOnly
	}
	// The prelude is written before the connection is published, so no
	// caller's request can overtake the credentials or the watches.
	cn.initRead()
	cn.wg.Add(1)
	go cn.readLoop()
	cn.writePrelude()
	c.mu.Lock()
	if c.state == Closed {
		c.mu.Unlock()
		cn.fail(ErrClosed)
		cn.wg.Wait()
		return
	}
	c.cur, c.server = cn, cn.addr
	c.lastConnErr = nil
	if p := c.versions[cn.addr]; cn.version.IsZero() && p != nil {
		cn.version = p.v // learned between the handshake and now
	}
	stopping := c.closeStarted
	var abandoned []abandonedSession
	if !stopping {
		// While Close runs the connection only carries its closeSession:
		// no Connected event, no side work.
		abandoned = c.abandoned
		c.abandoned = nil
		c.setStateLocked(StateEvent{State: st, Keeper: ks, SessionID: sid, Server: cn.addr})
	}
	c.mu.Unlock()
	for _, a := range abandoned {
		c.wg.Add(1)
		go c.closeAbandoned(a)
	}
	cn.wg.Add(1)
	go cn.writeLoop()
	if cn.readOnly && !stopping {
		cn.wg.Add(1)
		go c.probeReadWrite(cn)
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	select {
	case <-cn.done:
	case <-c.closing:
	}
	c.mu.Lock()
	closing := c.state == Closed || c.closeStarted
	c.mu.Unlock()
	if closing {
		cn.fail(ErrClosed)
	} else {
		cn.fail(errConnDead)
	}
	cn.wg.Wait()
	err := cn.deadErr
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.LogAttrs(context.Background(), slog.LevelDebug, "disconnected", slog.String("server", cn.addr),
			slog.Bool("served", cn.served.Load()), slog.Any("err", err))
	}
	c.mu.Lock()
	c.cur, c.server = nil, ""
	if c.state != Closed && c.state != Lost && !c.closeStarted {
		c.setStateLocked(StateEvent{State: Suspended, Keeper: KeeperDisconnected, SessionID: c.sessionID, Err: err})
	}
	c.mu.Unlock()
}

// probeReadWrite runs while connected to a read-only server: it asks the
// other servers with isro, backing off from 200ms to 30s, and drops the
// read-only connection as soon as one answers "rw", so that the session
// loop connects there next (with a new, read-write session).
func (c *Client) probeReadWrite(cn *conn) {
	defer cn.wg.Done()
	delay := 200 * time.Millisecond
	for {
		t := time.NewTimer(delay)
		select {
		case <-cn.done:
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, 30*time.Second)
		for _, hp := range c.hostOrder() {
			ctx, cancel := context.WithTimeout(c.baseCtx, time.Second)
			addrs, err := c.resolve(ctx, hp)
			if err != nil || addrs[0] == cn.addr {
				cancel()
				continue
			}
			nc, err := c.dial(ctx, hp, addrs[0])
			if err != nil {
				cancel()
				continue
			}
			out, err := exchangeWord(ctx, nc, "isro")
			_ = nc.Close()
			cancel()
			if err == nil && strings.TrimSpace(out) == "rw" {
				c.log.Info("read-write server found", slog.String("server", addrs[0]))
				c.mu.Lock()
				found := hp
				c.preferred = &found
				c.mu.Unlock()
				cn.fail(errFoundRW)
				return
			}
		}
	}
}

var errFoundRW = errors.New("keeper: leaving the read-only server for a read-write one")

// dropAbandonedWatch removes a one-shot watch that the reply of an
// abandoned call registered: nobody holds its channel. It runs on the
// reader, so the removal goes out from a goroutine of its own.
func (c *Client) dropAbandonedWatch(reg *watchReg) {
	c.wg.Add(1) // the session loop holds the count above zero
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.baseCtx, c.SessionTimeout())
		defer cancel()
		if err := c.RemoveWatch(ctx, reg.path, reg.ch); err != nil && !errors.Is(err, ErrNoWatcher) && !errors.Is(err, ErrClosed) {
			c.log.Warn("removing the watch of an abandoned call", slog.String("path", reg.path), slog.Any("err", err))
		}
	}()
}

// authFailed reports credentials the server rejected; they are dropped so
// they are not replayed on the next connection.
func (c *Client) authFailed(scheme string, code Code) {
	c.mu.Lock()
	kept := c.auth[:0]
	for _, a := range c.auth {
		if a.scheme != scheme {
			kept = append(kept, a)
		}
	}
	c.auth = kept
	st := c.state
	err := &Error{Op: "auth", Path: scheme, Code: code}
	if c.authErr == nil {
		c.authErr = err
	}
	for id, l := range c.listeners {
		if !l.push(StateEvent{State: st, Keeper: KeeperAuthFailed, SessionID: c.sessionID, Err: err}, c.cfg.maxQueued) {
			delete(c.listeners, id)
		}
	}
	c.mu.Unlock()
}

// closeAbandoned makes sure a session presumed lost is really gone: it
// resumes it on a side connection and closes it, so its ephemerals cannot
// outlive the Lost event.
func (c *Client) closeAbandoned(a abandonedSession) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.baseCtx, c.SessionTimeout())
	defer cancel()
	for ctx.Err() == nil {
		for _, hp := range c.hostOrder() {
			switch c.tryCloseSession(ctx, hp, a) {
			case nil:
				c.log.Info("closed the session presumed lost", slog.String("session", strconv.FormatInt(a.id, 16)))
				return
			case errExpired:
				return // already gone
			}
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// tryCloseSession resumes session a on hp and closes it; nil once the
// server confirmed, errExpired if the session was already gone.
func (c *Client) tryCloseSession(ctx context.Context, hp hostPort, a abandonedSession) error {
	addrs, err := c.resolve(ctx, hp)
	if err != nil {
		return err
	}
	nc, err := c.dial(ctx, hp, addrs[0])
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := c.handshake(ctx, nc, addrs[0], a.id, a.passwd, 0); err != nil {
		return err
	}
	b, start := wire.BeginFrame(nil)
	b = (&wire.RequestHeader{Xid: 1, Op: wire.OpCloseSession}).Append(b)
	wire.EndFrame(b, start)
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if _, err := nc.Write(b); err != nil {
		return err
	}
	for {
		frame, err := wire.ReadFrame(nc, nil, 1<<20)
		if err != nil {
			return err
		}
		var h wire.ReplyHeader
		h.Decode(wire.NewReader(frame))
		if h.Xid == 1 {
			if h.Err != 0 {
				return &Error{Op: "closeSession", Code: Code(h.Err)}
			}
			return nil
		}
	}
}

// shutdown runs on the session loop when Close starts.
func (c *Client) shutdown() {
	c.mu.Lock()
	c.failOutboxLocked(ErrClosed)
	c.mu.Unlock()
	c.watches.closeAll(ErrClosed)
}

// Close ends the session (the server deletes its ephemeral nodes at once),
// fails pending calls with ErrClosed and returns when every goroutine of
// the client has exited. When the connection is down (it may just have
// dropped), Close reconnects to send closeSession; it waits for the
// server's confirmation a short bounded time (1s), and returns promptly
// when no server is reachable. It returns nil once the server confirmed
// (or said the session was already gone) or when there was no session to
// close, and otherwise an error saying that the session could not be
// closed: its ephemeral nodes then stay until it expires. Later calls of
// the client's methods return ErrClosed. Close is idempotent: later calls
// return the same result.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closeStarted = true
		c.failOutboxLocked(ErrClosed)
		sid := c.sessionID
		// A session can be closed if it is live, or can be resumed (a
		// read-only session cannot, and a lost one is gone).
		sendable := sid != 0 && c.state != Lost && c.state != Closed && (c.cur != nil || c.seenRW)
		c.mu.Unlock()
		close(c.closeStart)
		if sendable {
			c.closeErr = c.closeSession(sid)
		}
		c.mu.Lock()
		c.setStateLocked(StateEvent{State: Closed, Keeper: KeeperClosed, SessionID: sid, Err: ErrClosed})
		ls := c.listeners
		c.listeners = map[int]*listener{}
		c.mu.Unlock()
		close(c.closing)
		c.cancel()
		for _, l := range ls {
			l.close()
		}
		c.wg.Wait()
	})
	// Outside the Once: a callback calling Close while another goroutine's
	// Close waits here for the callbacks would otherwise wait in Do for
	// that Close, which waits for the callback to return. Every Close
	// waits here for the callbacks, but one called from a callback.
	c.closeAsync()
	return c.closeErr
}

// closeSession sends closeSession until the server confirms, within the
// close timeout: a connection lost meanwhile (the request written on a
// connection that was already dead, say) makes the session loop connect
// again, and the request goes again.
func (c *Client) closeSession(sid int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.closeTimeout)
	defer cancel()
	for {
		_, err := c.call(ctx, wire.OpCloseSession, "close", "", nil, nil, nil)
		switch {
		case err == nil, errors.Is(err, ErrSessionExpired):
			return nil
		case ctx.Err() == nil && errors.Is(err, ErrConnectionLoss):
			continue
		}
		c.log.Warn("could not close the session", slog.String("session", strconv.FormatInt(sid, 16)), slog.Any("err", err))
		return fmt.Errorf("keeper: close: session 0x%x not closed on the server (its ephemeral nodes stay until it expires): %w", sid, err)
	}
}
