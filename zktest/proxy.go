package zktest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// dialTimeout bounds the proxy's connection to its target.
	dialTimeout = 5 * time.Second
	// maxProxyFrame is the largest frame the proxy parses; a length prefix
	// beyond it (or below 0) makes the proxy forward the rest of that
	// direction unparsed. ZooKeeper's own limit defaults to 1 MiB.
	maxProxyFrame = 64 << 20
	// rawChunk is the read size of unparsed forwarding.
	rawChunk = 32 << 10
)

// Proxy is a TCP proxy on 127.0.0.1 that forwards each accepted connection
// to a target server and injects faults: it stalls, drops, delays, and loses
// replies. It understands ZooKeeper's framing (a 4-byte big-endian length,
// then the payload) in both directions; a connection whose first four bytes
// are ASCII letters is a four-letter command and is forwarded unparsed.
// Its methods are safe for concurrent use.
type Proxy struct {
	ln       net.Listener
	delay    atomic.Int64 // nanoseconds added before each forwarded frame
	dropNext atomic.Bool  // DropNextReply is armed

	ctx    context.Context // ended by Close; bounds dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection goroutine

	mu     sync.Mutex
	target string
	conns  map[*proxyConn]struct{}
	paused bool
	resume chan struct{} // closed by Resume; set while paused
	tap    func(fromServer bool, frame []byte)

	tapMu sync.Mutex // serializes the calls of the tap function

	closeOnce sync.Once
	closeErr  error
}

// proxyConn is one client connection and its connection to the target.
type proxyConn struct {
	p              *Proxy
	client, server net.Conn
	done           chan struct{} // closed by close
	closeOnce      sync.Once
	halves         atomic.Int32  // directions that ended with a clean EOF
	modeKnown      chan struct{} // closed once raw is set
	raw            bool          // a four-letter command: no framing
}

// NewProxy starts a proxy that listens on a free port of 127.0.0.1 and
// forwards to target ("host:port"). Close it with [Proxy.Close].
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("zktest: proxy: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{ln: ln, ctx: ctx, cancel: cancel, target: target, conns: make(map[*proxyConn]struct{})}
	p.wg.Go(p.acceptLoop)
	return p, nil
}

// Addr returns the address clients connect to: "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address new connections are forwarded to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetTarget forwards connections accepted from now on to addr; open
// connections keep their server.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// Pause stalls both directions of every open connection and of every
// connection accepted until [Proxy.Resume]: the proxy stops reading and
// forwarding, so bytes wait in the kernel's buffers (or in the proxy, for a
// frame read before the pause), and the connections stay open. A client sees
// a server that has gone silent.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resume = make(chan struct{})
	}
}

// Resume ends a [Proxy.Pause]; the stalled bytes flow on, in order.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resume)
	}
}

// Drop closes every open connection, on both sides. The client reads EOF,
// or a reset when the proxy had not read all it sent (during a pause).
// New connections are still accepted.
func (p *Proxy) Drop() {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	for _, pc := range conns {
		pc.close()
	}
}

// Delay holds every frame (or, for a four-letter command, every chunk) for d
// before forwarding it, in both directions; 0 turns the delay off. A
// connection's frames stay in order, so d is also the least time between two
// of them.
func (p *Proxy) Delay(d time.Duration) {
	p.delay.Store(int64(max(d, 0)))
}

// DropNextReply arms the proxy to swallow the next server-to-client frame,
// on any connection, whose xid (the first 4 bytes of the payload) is
// positive, that is the reply to an ordinary request, and then to close that
// connection: what a client sees when a reply is lost with the connection.
// The connect response, pings (xid -2) and watch events (xid -1) pass.
func (p *Proxy) DropNextReply() {
	p.dropNext.Store(true)
}

// Tap calls fn with the payload (without the 4-byte length) of every frame
// the proxy reads, in order for each direction, fromServer telling the
// direction; the first frames of a connection are the connect request and
// response. A frame dropped by DropNextReply is shown too. Four-letter
// commands are not shown. fn gets its own copy of the payload; calls never
// overlap; fn runs on the proxy's goroutines and must not block for long or
// call Close. A nil fn removes the tap.
func (p *Proxy) Tap(fn func(fromServer bool, frame []byte)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tap = fn
}

// Conns returns the number of open connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, closes every connection and returns once all of
// the proxy's goroutines have exited. It is idempotent.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		if err := p.ln.Close(); err != nil {
			p.closeErr = fmt.Errorf("zktest: proxy: %w", err)
		}
		p.Drop()
		p.wg.Wait()
	})
	return p.closeErr
}

func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			continue // a transient accept error (too many files, aborted handshake)
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve connects an accepted client to the target and forwards until both
// directions end.
func (p *Proxy) serve(client net.Conn) {
	d := net.Dialer{Timeout: dialTimeout}
	server, err := d.DialContext(p.ctx, "tcp", p.Target())
	if err != nil {
		client.Close()
		return
	}
	pc := &proxyConn{p: p, client: client, server: server, done: make(chan struct{}), modeKnown: make(chan struct{})}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	p.wg.Go(pc.fromServer)
	pc.fromClient()
}

// gate returns nil when the proxy runs, or a channel closed by Resume.
func (p *Proxy) gate() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		return p.resume
	}
	return nil
}

func (p *Proxy) callTap(fromServer bool, payload []byte) {
	p.mu.Lock()
	fn := p.tap
	p.mu.Unlock()
	if fn == nil {
		return
	}
	p.tapMu.Lock()
	defer p.tapMu.Unlock()
	fn(fromServer, bytes.Clone(payload))
}

// close closes both sides of the connection once.
func (pc *proxyConn) close() {
	pc.closeOnce.Do(func() {
		close(pc.done)
		pc.client.Close()
		pc.server.Close()
		pc.p.mu.Lock()
		delete(pc.p.conns, pc)
		pc.p.mu.Unlock()
	})
}

// waitOpen blocks while the proxy is paused; false means the connection
// was closed meanwhile.
func (pc *proxyConn) waitOpen() bool {
	for {
		ch := pc.p.gate()
		if ch == nil {
			select {
			case <-pc.done:
				return false
			default:
				return true
			}
		}
		select {
		case <-ch:
		case <-pc.done:
			return false
		}
	}
}

// forward applies the delay and the pause, then writes b to dst; false
// means the connection is gone.
func (pc *proxyConn) forward(dst net.Conn, b []byte) bool {
	if d := time.Duration(pc.p.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-pc.done:
			t.Stop()
			return false
		}
	}
	if !pc.waitOpen() {
		return false
	}
	if _, err := dst.Write(b); err != nil {
		pc.close()
		return false
	}
	return true
}

// ended handles the end of one direction. After a clean EOF the other side
// gets a half-close, so that a four-letter reply still flows; the connection
// closes when both directions have ended, or at once after an error.
func (pc *proxyConn) ended(dst net.Conn, err error) {
	if !errors.Is(err, io.EOF) {
		pc.close()
		return
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	if pc.halves.Add(1) == 2 {
		pc.close()
	}
}

// fromClient forwards client to server. It reads the first four bytes to
// tell a four-letter command from a frame and tells fromServer.
func (pc *proxyConn) fromClient() {
	if !pc.waitOpen() {
		close(pc.modeKnown)
		return
	}
	var head [4]byte
	n, err := io.ReadFull(pc.client, head[:])
	pc.raw = n < 4 || isFourLetters(head[:])
	close(pc.modeKnown)
	if n > 0 && !pc.forward(pc.server, head[:n]) {
		return
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		pc.ended(pc.server, err)
		return
	}
	if pc.raw {
		pc.copyRaw(pc.client, pc.server)
		return
	}
	pc.copyFrames(pc.client, pc.server, false, head)
}

// fromServer forwards server to client, in the mode fromClient chose.
func (pc *proxyConn) fromServer() {
	select {
	case <-pc.modeKnown:
	case <-pc.done:
		return
	}
	if pc.raw {
		pc.copyRaw(pc.server, pc.client)
		return
	}
	if !pc.waitOpen() {
		return
	}
	var head [4]byte
	if !pc.readHead(pc.server, pc.client, &head) {
		return
	}
	pc.copyFrames(pc.server, pc.client, true, head)
}

// copyRaw forwards chunks from src to dst until src ends.
func (pc *proxyConn) copyRaw(src, dst net.Conn) {
	buf := make([]byte, rawChunk)
	for {
		if !pc.waitOpen() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 && !pc.forward(dst, buf[:n]) {
			return
		}
		if err != nil {
			pc.ended(dst, err)
			return
		}
	}
}

// copyFrames forwards frames from src to dst until src ends; head is the
// length prefix of the first frame, already read (but not forwarded when
// fromServer; fromClient forwarded it to decide the mode).
func (pc *proxyConn) copyFrames(src, dst net.Conn, fromServer bool, head [4]byte) {
	headSent := !fromServer
	first := true // the connect request or response, which has no xid
	for {
		size := int32(binary.BigEndian.Uint32(head[:]))
		if size < 0 || size > maxProxyFrame {
			// Not a frame we can hold: pass the rest through as it comes.
			if !headSent && !pc.forward(dst, head[:]) {
				return
			}
			pc.copyRaw(src, dst)
			return
		}
		var frame bytes.Buffer
		frame.Write(head[:])
		if _, err := io.CopyN(&frame, src, int64(size)); err != nil {
			b := frame.Bytes()
			if headSent {
				b = b[4:]
			}
			if len(b) > 0 && !pc.forward(dst, b) {
				return
			}
			pc.endedMidFrame(dst, err)
			return
		}
		b := frame.Bytes()
		payload := b[4:]
		pc.p.callTap(fromServer, payload)
		if fromServer && !first && len(payload) >= 4 &&
			int32(binary.BigEndian.Uint32(payload)) > 0 && pc.p.dropNext.CompareAndSwap(true, false) {
			pc.close()
			return
		}
		if headSent {
			b = payload
		}
		if !pc.forward(dst, b) {
			return
		}
		first, headSent = false, false
		if !pc.waitOpen() {
			return
		}
		if !pc.readHead(src, dst, &head) {
			return
		}
	}
}

// readHead reads the length prefix of a frame. After a short read it
// forwards the bytes it got, ends the direction and returns false.
func (pc *proxyConn) readHead(src, dst net.Conn, head *[4]byte) bool {
	n, err := io.ReadFull(src, head[:])
	if err == nil {
		return true
	}
	if n > 0 && !pc.forward(dst, head[:n]) {
		return false
	}
	pc.endedMidFrame(dst, err)
	return false
}

// endedMidFrame is ended for a read that may have stopped inside a frame:
// a stream cut there ends like a clean EOF, as TCP would show it.
func (pc *proxyConn) endedMidFrame(dst net.Conn, err error) {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	pc.ended(dst, err)
}
