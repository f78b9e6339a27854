// Package hostile is a scripted fake ZooKeeper server on loopback, for
// tests of how a client copes with a server that breaks the rules:
// truncated frames, lengths over the limit, replies with a wrong xid or
// for a request never sent, garbage after the handshake, a handshake that
// never finishes, another session id on a resume, a connection accepted
// and then left to stall, a lying negotiated timeout. It speaks just
// enough of the protocol (the handshake, the framing, the reply and event
// headers) for a script to say what the server does on each connection.
//
// It is no server: integration behaviour is tested against real
// ZooKeeper (zktest). Use it only where a real server cannot be made to
// misbehave.
package hostile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keeper-go/keeper/internal/wire"
)

// Script runs one accepted connection. It returns when it is done with
// the connection, which is then closed. n counts the connections
// accepted, from 1.
type Script func(c *Conn, n int)

// Server is a fake server listening on a loopback port. Every accepted
// connection runs the script on its own goroutine; four-letter commands
// (srvr, isro, ...) go to FourLetter instead. Close (run at the test's
// cleanup) closes the listener and every connection and waits for the
// scripts to return.
type Server struct {
	ln        net.Listener
	script    Script
	accepted  atomic.Int32
	fourCount atomic.Int32
	mu        sync.Mutex
	four      func(c *Conn, cmd string) // SetFourLetter's; under mu
	conns     map[*Conn]struct{}
	closed    chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

// Start starts a server running script on every connection; it is closed
// at t's cleanup.
func Start(t testing.TB, script Script) *Server {
	t.Helper()
	s, err := Listen(script)
	if err != nil {
		t.Fatalf("hostile: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Listen is Start without a testing.TB: the caller closes the server.
func Listen(script Script) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, script: script, conns: map[*Conn]struct{}{}, closed: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// SetFourLetter sets how the server answers a four-letter command: f is
// called with the connection and the command. Without it (or with nil) the
// connection is closed without a word. It may be set at any time, even
// while a client (or a stray one of another test, which a port reused
// after a closed server can bring) connects.
func (s *Server) SetFourLetter(f func(c *Conn, cmd string)) {
	s.mu.Lock()
	s.four = f
	s.mu.Unlock()
}

// Addr returns the server's "host:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Accepted returns how many protocol connections (not four-letter
// commands) the server has accepted.
func (s *Server) Accepted() int { return int(s.accepted.Load()) }

// FourLetterCount returns how many four-letter commands arrived.
func (s *Server) FourLetterCount() int { return int(s.fourCount.Load()) }

// Close stops the server: the listener and every connection are closed,
// and Close waits for the scripts to return.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		_ = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.nc.Close()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
}

// Done is closed when the server is closing: a script that stalls waits
// on it.
func (s *Server) Done() <-chan struct{} { return s.closed }

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &Conn{nc: nc, srv: s}
		s.mu.Lock()
		select {
		case <-s.closed:
			s.mu.Unlock()
			_ = nc.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *Server) serve(c *Conn) {
	defer s.wg.Done()
	defer func() {
		_ = c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	var head [4]byte
	if _, err := io.ReadFull(c.nc, head[:]); err != nil {
		return
	}
	if isLetters(head[:]) {
		s.fourCount.Add(1)
		s.mu.Lock()
		four := s.four
		s.mu.Unlock()
		if four != nil {
			four(c, string(head[:]))
		}
		return
	}
	c.pending = head[:]
	n := int(s.accepted.Add(1))
	s.script(c, n)
}

func isLetters(b []byte) bool {
	for _, x := range b {
		if (x < 'a' || x > 'z') && (x < 'A' || x > 'Z') {
			return false
		}
	}
	return true
}

// Conn is one accepted connection, as a script sees it.
type Conn struct {
	nc      net.Conn
	srv     *Server
	pending []byte // bytes read to tell a command from a frame
	wmu     sync.Mutex
}

// Read reads from the connection (after the bytes the server peeked).
func (c *Conn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.nc.Read(b)
}

// Write writes raw bytes: whatever the script wants the client to see.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.nc.Write(b)
}

// Close closes the connection (the client sees it drop).
func (c *Conn) Close() error { return c.nc.Close() }

// Stall keeps the connection open, reading and discarding what the
// client sends, until the client closes it or the server closes.
func (c *Conn) Stall() {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-c.srv.closed:
			_ = c.nc.Close()
		case <-done:
		}
	}()
	_, _ = io.Copy(io.Discard, c)
}

// ReadConnect reads the client's ConnectRequest.
func (c *Conn) ReadConnect() (*wire.ConnectRequest, error) {
	frame, err := wire.ReadFrame(c, nil, 1<<20)
	if err != nil {
		return nil, err
	}
	var req wire.ConnectRequest
	r := wire.NewReader(frame)
	req.Decode(r)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("hostile: connect request: %w", err)
	}
	return &req, nil
}

// SendConnect writes a ConnectResponse. A nil Passwd is sent as 16 zero
// bytes only if the script says so: it is sent as it is.
func (c *Conn) SendConnect(resp wire.ConnectResponse) error {
	return c.SendFrame(resp.Append(nil))
}

// Accept reads the ConnectRequest and answers it as a server would: the
// requested timeout, sessionID (or, when 0, the session the client asked
// to resume, or 1 for a new one) and a fixed 16-byte password.
func (c *Conn) Accept(sessionID int64) (*wire.ConnectRequest, error) {
	req, err := c.ReadConnect()
	if err != nil {
		return nil, err
	}
	sid := sessionID
	if sid == 0 {
		sid = req.SessionID
	}
	if sid == 0 {
		sid = 1
	}
	return req, c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: sid, Passwd: Password})
}

// Password is the session password Accept hands out.
var Password = bytes.Repeat([]byte{0x5a}, 16)

// SendFrame writes body with its 4-byte length prefix.
func (c *Conn) SendFrame(body []byte) error {
	b := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	_, err := c.Write(append(b, body...))
	return err
}

// Request is one request read from the client.
type Request struct {
	Xid  int32
	Op   wire.OpCode
	Body []byte // the frame after the request header
}

// ReadRequest reads the next request frame.
func (c *Conn) ReadRequest() (*Request, error) {
	frame, err := wire.ReadFrame(c, nil, 16<<20)
	if err != nil {
		return nil, err
	}
	var h wire.RequestHeader
	r := wire.NewReader(frame)
	h.Decode(r)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("hostile: request header: %w", err)
	}
	return &Request{Xid: h.Xid, Op: h.Op, Body: frame[8:]}, nil
}

// Reply writes a reply header (and body, when not nil and code is OK).
func (c *Conn) Reply(xid int32, zxid int64, code wire.ErrCode, body wire.Record) error {
	b := (&wire.ReplyHeader{Xid: xid, Zxid: zxid, Err: code}).Append(nil)
	if body != nil && code == wire.ErrOK {
		b = body.Append(b)
	}
	return c.SendFrame(b)
}

// Event writes a watch notification for path (sent as it is: the script
// adds the chroot, or not).
func (c *Conn) Event(zxid int64, typ wire.EventType, path string) error {
	b := (&wire.ReplyHeader{Xid: wire.XidNotification, Zxid: zxid}).Append(nil)
	b = (&wire.WatcherEvent{Type: typ, State: wire.StateSyncConnected, Path: path}).Append(b)
	return c.SendFrame(b)
}

// Handler answers one request in Serve; it returns false to end Serve.
type Handler func(c *Conn, req *Request) bool

// Serve answers requests until the connection fails or h returns false:
// pings get a ping reply, closeSession an OK (and ends Serve), anything
// else goes to h (nil: an OK reply with no body, which is what setWatches
// and auth want).
func (c *Conn) Serve(h Handler) error {
	for {
		req, err := c.ReadRequest()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		switch {
		case req.Op == wire.OpPing:
			if err := c.Reply(wire.XidPing, 0, wire.ErrOK, nil); err != nil {
				return err
			}
		case req.Op == wire.OpCloseSession:
			return c.Reply(req.Xid, 0, wire.ErrOK, nil)
		case h != nil:
			if !h(c, req) {
				return nil
			}
		default:
			if err := c.Reply(req.Xid, 0, wire.ErrOK, nil); err != nil {
				return err
			}
		}
	}
}

// Srvr is a FourLetter function answering srvr as a server of version v
// would ("3.8.0"), and anything else with nothing.
func Srvr(v string) func(c *Conn, cmd string) {
	return func(c *Conn, cmd string) {
		if cmd == "srvr" {
			_, _ = fmt.Fprintf(c, "Zookeeper version: %s-abc, built on 01/01/2024 00:00 GMT\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 1\nConnections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n", v)
		}
	}
}
