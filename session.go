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
		stopping := c.closeStarted
		c.mu.Unlock()
		if stopping {
			<-c.closing
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
		if failures > 0 && !c.waitBackoff(failures) {
			c.shutdown()
			return
		}
		cn, err := c.connect(hp)
		if err != nil {
			if errors.Is(err, errExpired) {
				c.sessionLost(ErrSessionExpired, KeeperExpired)
				next-- // a new session on the same server at once
				failures = 0
				continue
			}
			failures++
			c.log.Warn("connect failed", slog.String("server", hp.String()), slog.Any("err", err))
			c.mu.Lock()
			c.lastConnErr = err
			c.mu.Unlock()
			c.checkPresumedExpiry()
			continue
		}
		failures = 0
		c.serve(cn)
		// The first attempt after a drop goes to the next host at once.
	}
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
// early by Close or by the session's presumed expiry.
func (c *Client) waitBackoff(failures int) bool {
	d := backoffDelay(failures, c.cfg.backoffMin, c.cfg.backoffMax)
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
	d := time.Until(time.Unix(0, c.lastRecv.Load()).Add(c.timeout))
	if d <= 0 {
		return time.Nanosecond
	}
	return d
}

// checkPresumedExpiry declares the session lost when nothing was heard
// from any server for a whole session timeout.
func (c *Client) checkPresumedExpiry() {
	c.mu.Lock()
	if c.sessionID == 0 || c.state == Lost || c.state == Connecting || c.state == Closed {
		c.mu.Unlock()
		return
	}
	if time.Since(time.Unix(0, c.lastRecv.Load())) < c.timeout {
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

// connect dials hp and establishes (or resumes) the session.
func (c *Client) connect(hp hostPort) (*conn, error) {
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
		ctimeout = max(c.timeout/time.Duration(nhosts), time.Second)
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
	version := c.serverVersion(ctx, hp, addr)
	nc, err := c.dial(ctx, hp, addr)
	if err != nil {
		return nil, err
	}
	resp, err := c.handshake(ctx, nc, addr, sid, pw, c.lastZxid.Load())
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
		version:  version,
		readOnly: resp.ReadOnly,
		timeout:  time.Duration(resp.Timeout) * time.Millisecond,
		kick:     c.kick,
		done:     make(chan struct{}),
	}
	c.mu.Lock()
	newSession := resp.SessionID != c.sessionID || c.sessionID == 0
	if prev := c.sessionID; newSession && prev != 0 && c.state != Lost {
		// A read-only session replaced (by a read-write one, or by a new
		// read-only one): it is gone for good.
		c.sessionID, c.passwd = 0, nil
		c.mu.Unlock()
		c.sessionLost(ErrSessionExpired, KeeperExpired)
		c.mu.Lock()
		c.log.Info("read-only session replaced", slog.String("session", strconv.FormatInt(prev, 16)))
	}
	c.sessionID, c.passwd, c.timeout = resp.SessionID, bytes.Clone(resp.Passwd), cn.timeout
	if !resp.ReadOnly {
		c.seenRW = true
	}
	c.mu.Unlock()
	c.lastRecv.Store(time.Now().UnixNano())
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

// serverVersion learns addr's version with srvr, once per address.
func (c *Client) serverVersion(ctx context.Context, hp hostPort, addr string) Version {
	if c.cfg.serverVersion != "" {
		v, _ := ParseVersion(c.cfg.serverVersion)
		return v
	}
	c.mu.Lock()
	v, ok := c.versions[addr]
	c.mu.Unlock()
	if ok {
		return v
	}
	vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	nc, err := c.dial(vctx, hp, addr)
	if err != nil {
		return Version{}
	}
	defer nc.Close()
	out, err := exchangeWord(vctx, nc, "srvr")
	if err != nil {
		c.log.Warn("cannot learn the server version with srvr; use WithServerVersion", slog.String("server", addr), slog.Any("err", err))
		return Version{}
	}
	st, err := ParseSrvr(out)
	if err != nil {
		return Version{}
	}
	c.mu.Lock()
	c.versions[addr] = st.Version
	c.mu.Unlock()
	return st.Version
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
	abandoned := c.abandoned
	c.abandoned = nil
	c.setStateLocked(StateEvent{State: st, Keeper: ks, SessionID: sid, Server: cn.addr})
	c.mu.Unlock()
	for _, a := range abandoned {
		c.wg.Add(1)
		go c.closeAbandoned(a)
	}
	cn.wg.Add(1)
	go cn.writeLoop()
	if cn.readOnly {
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
	c.mu.Lock()
	c.cur, c.server = nil, ""
	err := cn.deadErr
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
	for _, l := range c.listeners {
		l.push(StateEvent{State: st, Keeper: KeeperAuthFailed, SessionID: c.sessionID, Err: err})
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
// the client has exited. It waits for the server's confirmation only a
// short bounded time, and returns promptly when no server is reachable.
// Later calls return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		live := c.cur != nil && (c.state == Connected || c.state == ConnectedReadOnly)
		c.closeStarted = true
		c.mu.Unlock()
		if live {
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.closeTimeout)
			_, _ = c.call(ctx, wire.OpCloseSession, "close", "", nil, nil, nil)
			cancel()
		}
		c.mu.Lock()
		sid := c.sessionID
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
	return nil
}
