package keeper

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper/internal/sock"
	"github.com/keeper-go/keeper/internal/wire"
)

// conn is one TCP (or TLS) connection carrying the session. It owns one
// reader and one writer goroutine; the session loop owns the conn.
type conn struct {
	c        *Client
	nc       net.Conn
	addr     string
	version  Version
	readOnly bool
	timeout  time.Duration // negotiated session timeout
	// newSession: the handshake opened a new session (not a resume).
	newSession bool
	// served: the server answered something on this connection (a reply
	// to a request, a ping), so it is more than a handshake.
	served atomic.Bool

	mu       sync.Mutex
	pending  []*request // written, awaiting replies, in xid order
	head     int
	authWait []*request // auth packets awaiting their out-of-band reply
	pings    []int64    // unix nanos at which the unanswered pings were sent
	dead     bool
	deadErr  error

	rd wire.Reader // reused by the socket's reader (see rstate)

	// Reading: one goroutine at a time reads the socket and handles what
	// it reads: the reader goroutine, or a caller that wrote its request
	// onto an idle connection and reads its own reply (a sequential call
	// then crosses no goroutine, as a raw client's does). rstate says
	// who, under mu. A connection left idle by a reply is unowned for a
	// short while (readIdle), so that the next caller can claim it;
	// then the reader goroutine takes it back, so that watch events and
	// ping replies on an idle connection are read at once.
	rstate readOwner
	rturn  chan struct{} // 1-buffered: the reader goroutine's turn
	// ridle is the reader goroutine's alone: armed whenever the socket
	// is unowned or a caller's, it wakes the reader to take back a
	// socket that no caller used since the last look (rgen unchanged).
	// Callers never move it: moving a timer that a parked goroutine
	// waits on wakes an idle thread, which cost a sequential call more
	// than the rest of its overhead together. While callers keep using
	// the socket the looks grow rarer (ridleGap doubles, up to
	// readIdleMax), since each costs thread wake-ups too.
	ridle     *time.Timer
	ridleGap  time.Duration // the reader's: the timer's current interval
	rgen      uint64        // under mu: counts callers' claims and releases
	rgenSeen  uint64        // under mu: rgen when ridle was armed
	asyncWake atomic.Bool   // an asynchronous reply was read; its wake-up is due (wakeAsync)
	watchSet  atomic.Bool   // a reply registered a watch since the owner last gave the socket up (release)
	kicked    bool          // under mu: a kick moved the read deadline to the past
	selfReq   *request      // under wmu: the request its caller writes and would read
	selfRead  bool          // under wmu: push gave selfReq's caller the socket
	kickFn    func()        // cn.kickOwner, bound once
	// The owner's read state.
	br          *bufio.Reader
	rbuf        []byte
	readTimeout time.Duration
	deadlineSet time.Time

	// Writing: whoever holds wmu assigns xids, fills the FIFO and writes,
	// so the three stay in the same order.
	wmu              sync.Mutex
	wbuf             []byte
	batch            []*request
	writeDeadlineSet time.Time
	lastWrite        atomic.Int64  // unix nanos of the last write
	prelude          []*request    // written before anything from the outbox
	kick             chan struct{} // 1-buffered: the outbox has work
	done             chan struct{} // closed when the connection is dead
	wg               sync.WaitGroup
}

// errConnDead is the cause when the session loop closes a connection itself.
var errConnDead = errors.New("keeper: connection closed")

// fail marks the connection dead, closes the socket and fails every request
// waiting for a reply on it with ErrConnectionLoss wrapping err (or with
// ErrClosed when err is ErrClosed). Safe to call more than once.
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	cn.dead, cn.deadErr = true, err
	pend := cn.pending[cn.head:]
	auths := cn.authWait
	cn.pending, cn.authWait, cn.head = nil, nil, 0
	cn.mu.Unlock()
	close(cn.done)
	_ = cn.nc.Close()
	lossErr := lossCause(err)
	if errors.Is(err, ErrClosed) {
		lossErr = ErrClosed
	}
	for _, r := range pend {
		r.complete(CodeConnectionLoss, &requestError{err: lossErr, sent: true})
	}
	for _, r := range auths {
		r.complete(CodeConnectionLoss, &requestError{err: lossErr, sent: true})
	}
}

// push appends a written request to the FIFO; false if the conn is dead.
func (cn *conn) push(r *request) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.dead {
		return false
	}
	if r.op == wire.OpAuth {
		cn.authWait = append(cn.authWait, r)
		cn.wakeReaderLocked()
		return true
	}
	if r == cn.selfReq && cn.rstate == readUnowned && cn.head >= len(cn.pending) {
		// Its caller reads the reply (readOwn). The reader goroutine,
		// alive while the connection is, keeps the count above zero.
		cn.rstate = readByCaller
		cn.rgen++
		cn.selfRead = true
		cn.wg.Add(1)
	}
	cn.pending = append(cn.pending, r)
	cn.wakeReaderLocked()
	return true
}

// readOwner says who reads a connection's socket.
type readOwner uint8

const (
	readByReader readOwner = iota // the reader goroutine (or it is about to)
	readUnowned                   // nobody: idle after a reply, for readIdle at most
	readByCaller                  // a caller reading its own reply (readOwn)
)

// readIdle is how long a connection left idle by a reply stays unowned,
// for the next caller to claim, before the reader goroutine takes the
// socket back: one to two readIdle after a short exchange; after a long
// run of calls, up to two readIdleMax. A watch event or ping reply
// arriving on an unowned socket waits that long at most (one arriving
// while a caller reads is handled at once, by that caller).
const (
	readIdle    = time.Millisecond
	readIdleMax = 16 * time.Millisecond
)

// wakeReaderLocked gives an unowned socket to the reader goroutine:
// something now awaits a reply. Caller holds mu.
func (cn *conn) wakeReaderLocked() {
	if cn.rstate == readUnowned {
		cn.rstate = readByReader
		select {
		case cn.rturn <- struct{}{}:
		default:
		}
	}
}

// idle reports whether no request awaits a reply, so that a caller may
// write its own (release's "quiet" asks more, for giving the socket up).
func (cn *conn) idle() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.head >= len(cn.pending)
}

// pop removes the oldest pending request.
func (cn *conn) pop() *request {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.head >= len(cn.pending) {
		return nil
	}
	r := cn.pending[cn.head]
	cn.pending[cn.head] = nil
	cn.head++
	if cn.head == len(cn.pending) {
		cn.pending, cn.head = cn.pending[:0], 0
	} else if cn.head > 1024 && cn.head*2 > len(cn.pending) {
		n := copy(cn.pending, cn.pending[cn.head:])
		clear(cn.pending[n:])
		cn.pending, cn.head = cn.pending[:n], 0
	}
	return r
}

// popPing returns when the oldest unanswered ping was sent; false for a
// ping reply nobody asked for.
func (cn *conn) popPing() (int64, bool) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.pings) == 0 {
		return 0, false
	}
	t := cn.pings[0]
	cn.pings = cn.pings[1:]
	return t, true
}

func (cn *conn) popAuth() *request {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.authWait) == 0 {
		return nil
	}
	r := cn.authWait[0]
	cn.authWait = cn.authWait[1:]
	return r
}

// initRead prepares the read side; the reader goroutine owns the socket
// first.
func (cn *conn) initRead() {
	cn.br = bufio.NewReaderSize(cn.nc, 64<<10)
	cn.readTimeout = cn.timeout * 2 / 3
	cn.rturn = make(chan struct{}, 1)
	cn.ridle = time.NewTimer(time.Hour)
	cn.ridle.Stop()
	cn.kickFn = cn.kickOwner
}

// readLoop reads and handles frames whenever the socket is the reader
// goroutine's, until the connection fails.
func (cn *conn) readLoop() {
	defer cn.wg.Done()
	defer cn.ridle.Stop()
	defer cn.wakeAsyncNow() // frames left buffered when the connection died
	owned := true
	for {
		if !owned {
			select {
			case <-cn.rturn:
			case <-cn.ridle.C:
				if !cn.claimIdle() {
					continue
				}
			case <-cn.done:
				return
			}
		}
		owned = true
		reply, err := cn.readNext(true)
		switch {
		case err == errKicked:
			// A kick meant for a caller reading before us: nothing lost.
		case err != nil:
			return
		case reply && cn.release(false):
			owned = false
			cn.armIdle()
		}
	}
}

// errKicked: a read was interrupted by a kick (kickOwner); nothing was
// consumed. errHandBack: the next frame is one for the reader goroutine.
var (
	errKicked   = errors.New("keeper: read interrupted")
	errHandBack = errors.New("keeper: frame left to the reader")
)

// readNext reads and handles one frame for the socket's owner. It returns
// whether the frame answered a request; errKicked after a kick;
// errHandBack, for a caller (big false), when the next frame is too large
// to peek or the read failed but for a timeout (the reader goroutine then reads it and
// fails the connection with the error it gets); any other error has
// failed the connection.
func (cn *conn) readNext(big bool) (reply bool, err error) {
	cn.moveDeadline()
	frame, n, err := cn.peekFrame()
	if err != nil {
		return false, err
	}
	if n < 0 {
		if !big {
			return false, errHandBack
		}
		frame, err = wire.ReadFrame(cn.br, cn.rbuf, cn.c.cfg.maxFrame)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if cn.wasKicked() {
					return false, errKicked
				}
				return false, cn.silent(err)
			}
			cn.fail(err)
			return false, err
		}
		if cap(frame) <= 1<<20 {
			cn.rbuf = frame[:0]
		}
	}
	reply, err = cn.handle(frame)
	if n > 0 {
		_, _ = cn.br.Discard(n)
	}
	if err != nil {
		cn.wakeAsyncNow()
	} else if !cn.frameBuffered() {
		cn.wakeAsync()
	}
	if err != nil {
		cn.c.log.Error("dropping connection", slog.String("server", cn.addr), slog.Any("err", err))
		cn.fail(err)
		return false, err
	}
	return reply, nil
}

// peekFrame returns the next frame without consuming it, and the bytes
// to discard once it is handled, when it fits the read buffer and the
// server's limit; n < 0 (and no error) when it does not, or when the read
// failed for another reason than a timeout: wire.ReadFrame then reads it,
// or meets the same failure and words it. A timeout fails the connection
// (errKicked if a kick caused it). A peek interrupted by a kick
// consumes nothing, so a caller can be kicked off the socket safely.
func (cn *conn) peekFrame() (frame []byte, n int, err error) {
	hdr, err := cn.br.Peek(4)
	if err == nil {
		size := int(int32(binary.BigEndian.Uint32(hdr)))
		if size < 0 || size > cn.c.cfg.maxFrame || size+4 > cn.br.Size() {
			return nil, -1, nil
		}
		var b []byte
		if b, err = cn.br.Peek(4 + size); err == nil {
			return b[4:], 4 + size, nil
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if cn.wasKicked() {
			return nil, 0, errKicked
		}
		return nil, 0, cn.silent(err)
	}
	return nil, -1, nil
}

// silent fails the connection after a read timed out: the server sent
// nothing for readTimeout.
func (cn *conn) silent(err error) error {
	err = fmt.Errorf("keeper: no reply from %s for %v: %w", cn.addr, cn.readTimeout, err)
	cn.fail(err)
	return err
}

// moveDeadline keeps the read deadline readTimeout ahead. Moving it costs
// a timer update: do it only when an eighth of the timeout has passed
// since the last time.
func (cn *conn) moveDeadline() {
	now := time.Now()
	if now.Sub(cn.deadlineSet) <= cn.readTimeout/8 {
		return
	}
	cn.mu.Lock()
	if !cn.kicked {
		_ = cn.nc.SetReadDeadline(now.Add(cn.readTimeout))
		cn.deadlineSet = now
	}
	cn.mu.Unlock()
}

// kickOwner interrupts the read of a caller that owns the socket (its
// context ended: see readOwn), by moving the read deadline to the past.
func (cn *conn) kickOwner() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.rstate == readByCaller && !cn.dead {
		cn.kicked = true
		_ = cn.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// wasKicked reports whether a read's timeout came from a kick, and if so
// puts the deadline back.
func (cn *conn) wasKicked() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if !cn.kicked {
		return false
	}
	cn.resetDeadlineLocked()
	return true
}

func (cn *conn) resetDeadlineLocked() {
	cn.kicked = false
	now := time.Now()
	_ = cn.nc.SetReadDeadline(now.Add(cn.readTimeout))
	cn.deadlineSet = now
}

// armIdle starts the reader goroutine's idle timer after it gave the
// socket up (release noted rgen then).
func (cn *conn) armIdle() {
	cn.ridleGap = readIdle
	cn.ridle.Reset(readIdle)
}

// claimIdle, when the idle timer fires, gives the reader goroutine a
// socket left unowned and unused by callers since the timer was armed;
// otherwise, unless the reader's turn came meanwhile (rturn), it arms
// the timer again and reports false.
func (cn *conn) claimIdle() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	switch {
	case cn.rstate == readByReader:
		return false // rturn holds the turn
	case cn.rstate == readUnowned && cn.rgen == cn.rgenSeen:
		cn.rstate = readByReader
		return true
	}
	cn.rgenSeen = cn.rgen
	cn.ridleGap = min(2*cn.ridleGap, readIdleMax)
	cn.ridle.Reset(cn.ridleGap)
	return false
}

// release is called by the socket's owner after a reply: the socket
// becomes unowned if nothing else awaits a reply and nothing is buffered
// (the next caller may claim it; the reader takes it back after
// readIdle); otherwise a caller gives it to the reader goroutine and the
// reader keeps it. It reports whether the owner gave the socket up. When
// a reply read since the last release registered a watch (the caller's
// own, or that of a pipelined call whose reply it read), the socket goes
// to (or stays with) the reader goroutine: the event that watch waits for
// must not sit unread until the idle timer looks (up to 2 readIdleMax
// after a run of calls).
func (cn *conn) release(byCaller bool) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.kicked {
		cn.resetDeadlineLocked()
	}
	if cn.dead {
		return true
	}
	// Quieter than idle (no request awaits a reply): no ping or auth
	// reply is due either, and nothing is buffered, so that nothing can
	// arrive for the socket's owner until a new request is written.
	quiet := cn.head >= len(cn.pending) && len(cn.pings) == 0 && len(cn.authWait) == 0 && cn.br.Buffered() == 0
	watched := cn.watchSet.Swap(false)
	switch {
	case quiet && !watched:
		// The reader goroutine's timer is armed: it arms it when it
		// gives the socket up, and keeps it armed while callers use it.
		cn.rstate = readUnowned
		if byCaller {
			cn.rgen++
		} else {
			cn.rgenSeen = cn.rgen // the reader arms its timer (armIdle)
		}
		return true
	case byCaller:
		cn.rstate = readByReader
		select {
		case cn.rturn <- struct{}{}:
		default:
		}
		return true
	}
	return false
}

// readOwn reads the socket for a caller until its request r is answered
// (or the connection fails, or ctx ends), then gives the socket up. The
// caller got the socket from push (selfRead).
func (cn *conn) readOwn(ctx context.Context, r *request) {
	defer cn.wg.Done()
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, cn.kickFn)
	}
	for r.state.Load() != reqDone {
		_, err := cn.readNext(false)
		if err == errKicked && ctx.Err() == nil {
			continue // a late kick of an earlier call
		}
		if err != nil {
			break
		}
	}
	if stop != nil {
		stop()
	}
	cn.wakeAsync()
	cn.release(true)
}

// handle processes one frame; reply says it answered a request.
func (cn *conn) handle(frame []byte) (reply bool, err error) {
	c := cn.c
	r := &cn.rd
	r.Reset(frame)
	var h wire.ReplyHeader
	h.Decode(r)
	if err := r.Err(); err != nil {
		return false, fmt.Errorf("%w: reply header: %w", ErrProtocol, err)
	}
	// From 3.9 on a notification carries the zxid of the change that fired
	// it (ZOOKEEPER-4655; before, -1): a change this server applied, so it
	// moves the last zxid seen on as a reply's does, and a reconnect's
	// SetWatches starts after it.
	if h.Zxid > 0 {
		c.noteZxid(h.Zxid)
	}
	switch h.Xid {
	case wire.XidNotification:
		var ev wire.WatcherEvent
		ev.Decode(r)
		if err := r.Err(); err != nil {
			return false, fmt.Errorf("%w: watcher event: %w", ErrProtocol, err)
		}
		// Trust no path: an event outside the chroot, or for a path no
		// watch could be set on, is dropped rather than delivered as if
		// it were ours.
		p, ok := c.root.within(ev.Path)
		if !ok || validatePath(p, false) != nil {
			c.log.Warn("dropping a watch event for a path outside the chroot or invalid",
				slog.String("server", cn.addr), slog.String("path", strconv.Quote(ev.Path)), slog.String("type", EventType(ev.Type).String()))
			return false, nil
		}
		c.watches.dispatch(Event{Type: EventType(ev.Type), Path: p, Zxid: h.Zxid})
		return false, nil
	case wire.XidPing:
		cn.served.Store(true)
		if t, ok := cn.popPing(); ok {
			c.noteHeard(t)
		}
		return false, nil
	case wire.XidAuth:
		req := cn.popAuth()
		if req == nil {
			return false, fmt.Errorf("%w: auth reply with no auth request", ErrProtocol)
		}
		c.noteHeard(req.sentAt)
		req.zxid = h.Zxid
		req.complete(Code(h.Err), nil)
		return false, nil
	}
	req := cn.pop()
	if req == nil {
		return false, fmt.Errorf("%w: reply xid %d with no request pending", ErrProtocol, h.Xid)
	}
	if req.xid != h.Xid {
		err := fmt.Errorf("%w: reply xid %d out of order, expected %d", ErrProtocol, h.Xid, req.xid)
		req.complete(CodeConnectionLoss, &requestError{err: lossCause(err), sent: true})
		return false, err
	}
	cn.served.Store(true)
	c.noteHeard(req.sentAt)
	req.zxid = h.Zxid
	code := Code(h.Err)
	// Claim the request, unless its caller has given up on it.
	abandoned := !req.state.CompareAndSwap(reqWritten, reqClaimed)
	if code == CodeOK && req.resp != nil && !abandoned {
		req.resp.Decode(r)
		if err := r.Err(); err != nil {
			perr := fmt.Errorf("%w: %s reply: %w", ErrProtocol, req.op, err)
			req.complete(CodeConnectionLoss, &requestError{err: lossCause(perr), sent: true})
			return false, perr
		}
		cloneData(req.resp)
	}
	if req.watch != nil {
		c.watches.register(req.watch, code)
		cn.watchSet.Store(true)
		if abandoned && req.watch.ch != nil {
			c.dropAbandonedWatch(req.watch)
		}
	} else if req.op == wire.OpSetWatches || req.op == wire.OpSetWatches2 || req.op == wire.OpAddWatch {
		// Watches restored on a new connection (restore): their events,
		// and those of the changes made while we were away, are due now.
		cn.watchSet.Store(true)
	}
	if req.akind != 0 && req.onDone != nil {
		// Asynchronous: the delivery goroutine is woken for a run of
		// replies, not for each (readNext, wakeAsync).
		req.finish(code, nil)
		asyncDoneHeld(req)
		cn.asyncWake.Store(true)
		return true, nil
	}
	req.complete(code, nil)
	return true, nil
}

// wakeAsync wakes the delivery goroutine, after a run of replies read
// (the read buffer holds no whole frame), if they completed asynchronous
// requests and either none is left in flight or a quarter as many as are
// still in flight have completed since the last wake-up. A goroutine
// keeping the window full then gets its callbacks run in runs of about a
// fifth of the window, one wake-up (and the thread wake-up it causes)
// each, instead of one per read: the read-side twin of the window's
// quarter-free resume. The callbacks held back wait only for replies to
// requests already sent, which all come (or the connection fails, and
// wakeAsyncNow runs).
func (cn *conn) wakeAsync() {
	if !cn.asyncWake.Load() {
		return
	}
	a := &cn.c.async
	if n := a.sent.Load(); n > 0 && 4*a.unwoken.Load() < n {
		return
	}
	cn.wakeAsyncNow()
}

// wakeAsyncNow wakes the delivery goroutine if a reply read since the last
// wake-up completed an asynchronous request.
func (cn *conn) wakeAsyncNow() {
	if cn.asyncWake.Swap(false) {
		cn.c.async.unwoken.Store(0)
		cn.c.async.kick()
	}
}

// frameBuffered reports whether the read buffer holds a whole frame, so
// that reading it makes no system call.
func (cn *conn) frameBuffered() bool {
	b := cn.br.Buffered()
	if b < 4 {
		return false
	}
	hdr, _ := cn.br.Peek(4)
	size := int(int32(binary.BigEndian.Uint32(hdr)))
	return size >= 0 && b-4 >= size
}

// writeLoop writes whatever the outbox holds, coalescing
// every ready request into one write, and pings when idle. A caller that
// finds the outbox empty and nobody writing writes its request itself
// (tryWrite), which saves a goroutine hand-off on an idle connection.
func (cn *conn) writeLoop() {
	defer cn.wg.Done()
	c := cn.c
	pingEvery := cn.timeout / 3
	if c.cfg.pingEvery > 0 {
		pingEvery = c.cfg.pingEvery
	}
	ping := time.NewTimer(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-ping.C:
			if idle := time.Since(time.Unix(0, cn.lastWrite.Load())); idle < pingEvery {
				ping.Reset(pingEvery - idle)
				continue
			}
			if c.log.Enabled(context.Background(), slog.LevelDebug) {
				c.log.LogAttrs(context.Background(), slog.LevelDebug, "ping", slog.String("server", cn.addr))
			}
			cn.wmu.Lock()
			cn.wbuf = (&wire.RequestHeader{Xid: wire.XidPing, Op: wire.OpPing}).Append(append(cn.wbuf, 0, 0, 0, 8))
			cn.mu.Lock()
			cn.pings = append(cn.pings, time.Now().UnixNano())
			cn.wakeReaderLocked()
			cn.mu.Unlock()
			ok := cn.flushLocked()
			cn.wmu.Unlock()
			if !ok {
				return
			}
			ping.Reset(pingEvery)
		case <-cn.kick:
			// Let callers that are about to enqueue do so: more requests
			// per write means fewer syscalls for us and for the server.
			runtime.Gosched()
			cn.wmu.Lock()
			ok := cn.drainLocked()
			cn.wmu.Unlock()
			if !ok {
				return
			}
		}
	}
}

// writePrelude writes the requests that must precede every other on a new
// connection: credentials, then the watches to restore. It writes in
// chunks of about preludeChunk bytes: a million restored watches make
// tens of megabytes of SetWatches, which gathered into one buffer before
// the first write cost more CPU in copying than everything else of the
// restore.
func (cn *conn) writePrelude() {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	for _, r := range cn.prelude {
		r.state.Store(reqWritten)
		if !cn.addLocked(r) {
			r.complete(CodeConnectionLoss, &requestError{err: ErrConnectionLoss, sent: false})
			continue
		}
		if len(cn.wbuf) >= preludeChunk {
			cn.flushLocked() // on failure, the rest fail in addLocked
		}
	}
	cn.prelude = nil
	cn.flushLocked()
}

// preludeChunk is the size at which writePrelude writes what it has
// gathered.
const preludeChunk = 256 << 10

// tryWrite writes the outbox from the calling goroutine if nobody else is
// writing; otherwise it leaves the work to the writer goroutine.
func (cn *conn) tryWrite() {
	if !cn.wmu.TryLock() {
		cn.kickWriter()
		return
	}
	cn.drainLocked()
	cn.wmu.Unlock()
	// A request enqueued while we held the lock may have found it taken
	// and kicked the writer, which picks it up: nothing is stranded.
}

// tryWriteSelf is tryWrite for a caller that will wait for r's reply: it
// reports whether push gave the caller the socket, to read the reply
// itself (readOwn).
func (cn *conn) tryWriteSelf(r *request) bool {
	if !cn.wmu.TryLock() {
		cn.kickWriter()
		return false
	}
	cn.selfReq = r
	cn.drainLocked()
	self := cn.selfRead
	cn.selfReq, cn.selfRead = nil, false
	cn.wmu.Unlock()
	return self
}

func (cn *conn) kickWriter() {
	select {
	case cn.kick <- struct{}{}:
	default:
	}
}

// drainLocked writes every queued request; false if the connection died.
// Caller holds cn.wmu.
func (cn *conn) drainLocked() bool {
	c := cn.c
	cn.batch = c.takeOutbox(cn.batch[:0])
	for i, r := range cn.batch {
		if !r.state.CompareAndSwap(reqQueued, reqWritten) {
			cn.batch[i] = nil
			continue // cancelled by its caller
		}
		if !cn.addLocked(r) {
			// The connection died under us: give the rest back.
			rest := cn.batch[i:]
			for _, q := range rest {
				if q != nil {
					q.state.CompareAndSwap(reqWritten, reqQueued)
				}
			}
			c.requeue(rest)
			clear(cn.batch)
			return false
		}
		cn.batch[i] = nil
	}
	return cn.flushLocked()
}

// addLocked gives r its xid, puts it in the FIFO and appends its frame to
// the write buffer. Caller holds cn.wmu.
func (cn *conn) addLocked(r *request) bool {
	if r.op != wire.OpAuth {
		r.xid = cn.c.nextXid()
	} else {
		r.xid = wire.XidAuth
	}
	binary.BigEndian.PutUint32(r.frame[4:], uint32(r.xid))
	r.sentAt = time.Now().UnixNano()
	// Copy and detach the frame before r becomes visible in the FIFO: from
	// then on a failing connection may complete r and its caller recycle
	// it, so this goroutine must not touch r's fields any more.
	n := len(cn.wbuf)
	cn.wbuf = append(cn.wbuf, r.frame...)
	frame, bufp := r.frame, r.bufp
	r.frame, r.bufp = nil, nil
	if !cn.push(r) {
		cn.wbuf = cn.wbuf[:n]
		r.frame, r.bufp = frame, bufp // r was never visible: still ours
		return false
	}
	releaseBuf(frame, bufp)
	return true
}

// flushLocked writes the write buffer. Caller holds cn.wmu.
func (cn *conn) flushLocked() bool {
	if len(cn.wbuf) == 0 {
		return true
	}
	now := time.Now()
	if now.Sub(cn.writeDeadlineSet) > cn.timeout/12 {
		_ = cn.nc.SetWriteDeadline(now.Add(cn.timeout * 2 / 3))
		cn.writeDeadlineSet = now
	}
	_, err := cn.nc.Write(cn.wbuf)
	if cap(cn.wbuf) > 1<<20 {
		cn.wbuf = nil
	} else {
		cn.wbuf = cn.wbuf[:0]
	}
	if err != nil {
		cn.fail(fmt.Errorf("keeper: write to %s: %w", cn.addr, err))
		return false
	}
	cn.lastWrite.Store(now.UnixNano())
	return true
}

// nextXid returns the next request xid. Xids wrap from MaxInt32 back to
// 1. The caller holds the writing connection's wmu, so that xids reach the
// wire in the order they are taken (the reader matches replies by it).
func (c *Client) nextXid() int32 {
	for {
		old := c.xid.Load()
		x := old + 1
		if x <= 0 || x == math.MaxInt32 {
			x = 1
		}
		if c.xid.CompareAndSwap(old, x) {
			return x
		}
	}
}

// errExpired is the handshake's result when the server says the session is
// gone.
var errExpired = errors.New("keeper: server reports the session expired")

// dial opens a connection to addr with the configured dialer and TLS.
func (c *Client) dial(ctx context.Context, hp hostPort, addr string) (net.Conn, error) {
	var nc net.Conn
	var err error
	if c.cfg.dialer != nil {
		nc, err = c.cfg.dialer(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	// A plain TCP connection (under TLS too: tls.Conn reads and writes it
	// one call at a time, as the wrapper requires) is read and written
	// without the runtime's system-call bookkeeping; see internal/sock.
	nc = sock.Wrap(nc)
	if c.cfg.tlsConfig != nil {
		cfg := c.cfg.tlsConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = hp.host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("keeper: tls handshake with %s: %w", addr, err)
		}
		nc = tc
	}
	return nc, nil
}

// handshake sends the ConnectRequest and reads the ConnectResponse.
func (c *Client) handshake(ctx context.Context, nc net.Conn, addr string, sessionID int64, passwd []byte, lastZxid int64) (*wire.ConnectResponse, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if len(passwd) == 0 {
		passwd = make([]byte, 16)
	}
	req := wire.ConnectRequest{
		LastZxidSeen: lastZxid,
		Timeout:      int32(c.cfg.sessionTimeout / time.Millisecond),
		SessionID:    sessionID,
		Passwd:       passwd,
		ReadOnly:     c.cfg.readOnly,
	}
	b, start := wire.BeginFrame(nil)
	b = req.Append(b)
	wire.EndFrame(b, start)
	if _, err := nc.Write(b); err != nil {
		return nil, fmt.Errorf("keeper: handshake with %s: %w", addr, err)
	}
	sent := time.Now()
	frame, err := wire.ReadFrame(nc, nil, 1024)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("keeper: handshake with %s: %w (it may be behind our last zxid, or refusing read-write sessions)", addr, errHandshakeClosed)
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return nil, fmt.Errorf("keeper: handshake with %s: no whole answer in %v: %w", addr, time.Since(sent).Round(time.Millisecond), err)
		}
		return nil, fmt.Errorf("keeper: handshake with %s: %w", addr, err)
	}
	var resp wire.ConnectResponse
	r := wire.NewReader(frame)
	resp.Decode(r)
	if err := r.Err(); err != nil {
		// A read-only server refusing a client without the readOnly flag
		// sends a bare reply header with -119 (3.7+).
		if len(frame) == 16 {
			return nil, fmt.Errorf("keeper: handshake with %s: server refused the session (read-only server?)", addr)
		}
		return nil, fmt.Errorf("%w: handshake with %s: %w", ErrProtocol, addr, err)
	}
	if resp.Timeout <= 0 {
		return &resp, errExpired
	}
	// Trust the server's timeout only within bounds: never more than we
	// asked (a server answering 2^31-1 ms would leave a silent connection
	// looking alive for weeks), never below minNegotiated (a 1 ms answer
	// would make the connection flap).
	asked := int32(c.cfg.sessionTimeout / time.Millisecond)
	resp.Timeout = max(min(resp.Timeout, asked), int32(minNegotiated/time.Millisecond))
	if len(resp.Passwd) == 0 {
		// What a resume sends for an empty password (see above), so that
		// Session and WithSession agree.
		resp.Passwd = make([]byte, 16)
	}
	return &resp, nil
}

// minNegotiated is the least session timeout the client accepts from a
// server, the least WithSessionTimeout takes (ZooKeeper's own floor is two
// server ticks).
const minNegotiated = 100 * time.Millisecond
