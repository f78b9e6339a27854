package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/keeper-go/keeper/internal/sock"
)

// The raw client is the ceiling the real clients are measured against: it
// encodes requests straight into one buffer, keeps a window of them
// outstanding on one connection, reads only the 16-byte reply header and
// counts the replies. It has no goroutines of its own (except an optional
// pinger), no per-request state and no error recovery.

// Opcodes and special xids of the ZooKeeper protocol.
const (
	opCreate      = 1
	opDelete      = 2
	opGetData     = 4
	opSetData     = 5
	opGetChildren = 8
	opPing        = 11
	opClose       = -11

	xidNotification = -1
	xidPing         = -2
)

// rawConn is one session on one TCP connection.
type rawConn struct {
	nc      net.Conn
	br      *bufio.Reader
	timeout time.Duration // negotiated session timeout
	session int64

	wmu  sync.Mutex // guards wbuf and writes (the pinger writes too)
	wbuf []byte
	xid  int32
	rbuf []byte
	hdr  [4]byte

	stopPing chan struct{}
	pingWG   sync.WaitGroup
}

// rawSock makes the raw client read and write its socket as Keeper does
// (internal/sock) instead of through net.Conn: the -rawsock diagnostic.
var rawSock bool

// dialRaw connects to addr and opens a session with the given timeout.
func dialRaw(addr string, timeout time.Duration) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("raw: dial %s: %w", addr, err)
	}
	_ = nc.(*net.TCPConn).SetNoDelay(true)
	if rawSock {
		nc = sock.Wrap(nc) // counted in internal/sock
	} else {
		nc = countingConn{nc}
	}
	c := &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	// ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId,
	// passwd (16 zero bytes), then the readOnly flag.
	b := make([]byte, 4, 64)
	b = be32(b, 0)
	b = be64(b, 0)
	b = be32(b, int32(timeout/time.Millisecond))
	b = be64(b, 0)
	b = be32(b, 16)
	b = append(b, make([]byte, 16)...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(b); err != nil {
		nc.Close()
		return nil, fmt.Errorf("raw: handshake: %w", err)
	}
	f, err := c.readFrame()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("raw: handshake: %w", err)
	}
	if len(f) < 16 {
		nc.Close()
		return nil, fmt.Errorf("raw: handshake: short reply (%d bytes)", len(f))
	}
	c.timeout = time.Duration(binary.BigEndian.Uint32(f[4:])) * time.Millisecond
	c.session = int64(binary.BigEndian.Uint64(f[8:]))
	if c.timeout <= 0 {
		nc.Close()
		return nil, errors.New("raw: handshake: session refused")
	}
	return c, nil
}

// close ends the session politely and closes the connection.
func (c *rawConn) close() {
	if c.stopPing != nil {
		close(c.stopPing)
		c.pingWG.Wait()
		c.stopPing = nil
	}
	c.wmu.Lock()
	b := be32(be32(be32(c.wbuf[:0], 8), c.nextXid()), opClose)
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(b)
	c.wmu.Unlock()
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, err := c.readFrame(); err != nil {
			break
		}
	}
	c.nc.Close()
}

// startPinger keeps the session alive while the connection is otherwise
// idle (for instance while it only waits for watch events).
func (c *rawConn) startPinger() {
	c.stopPing = make(chan struct{})
	c.pingWG.Add(1)
	go func() {
		defer c.pingWG.Done()
		t := time.NewTicker(c.timeout / 3)
		defer t.Stop()
		for {
			select {
			case <-c.stopPing:
				return
			case <-t.C:
				c.wmu.Lock()
				b := be32(be32(be32(c.wbuf[:0], 8), xidPing), opPing)
				_, err := c.nc.Write(b)
				c.wmu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
}

func (c *rawConn) nextXid() int32 {
	c.xid++
	return c.xid
}

// readFrame reads one length-prefixed frame into the reused buffer.
func (c *rawConn) readFrame() ([]byte, error) {
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(c.hdr[:]))
	if n < 0 || n > 16<<20 {
		return nil, fmt.Errorf("raw: frame length %d", n)
	}
	if cap(c.rbuf) < n {
		c.rbuf = make([]byte, n)
	}
	f := c.rbuf[:n]
	if _, err := io.ReadFull(c.br, f); err != nil {
		return nil, err
	}
	return f, nil
}

// frameBuffered reports whether a whole frame can be read without
// blocking.
func (c *rawConn) frameBuffered() bool {
	if c.br.Buffered() < 4 {
		return false
	}
	h, _ := c.br.Peek(4)
	return c.br.Buffered() >= 4+int(binary.BigEndian.Uint32(h))
}

// encodeFunc appends the body of request i (after the header) to b.
type encodeFunc func(b []byte, i int) []byte

// replyFunc sees the reply of request i: its error code and its body.
type replyFunc func(i int, code int32, body []byte) error

// pipeline sends n requests of op, keeping up to window of them
// outstanding, and passes each reply to onReply (which may be nil). When
// lat is non-nil (window 1), it records each round trip's latency.
// Notifications and pings arriving meanwhile are counted in events and
// skipped.
func (c *rawConn) pipeline(op int32, n, window int, enc encodeFunc, onReply replyFunc, lat []time.Duration) (events int, err error) {
	sent, recv := 0, 0
	var t0 time.Time
	for recv < n {
		if k := min(window-(sent-recv), n-sent); k > 0 {
			c.wmu.Lock()
			b := c.wbuf[:0]
			for range k {
				start := len(b)
				b = be32(b, 0)
				b = be32(b, c.nextXid())
				b = be32(b, op)
				b = enc(b, sent)
				binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
				sent++
			}
			c.wbuf = b
			if lat != nil {
				t0 = time.Now()
			}
			_, err := c.nc.Write(b)
			c.wmu.Unlock()
			if err != nil {
				return events, fmt.Errorf("raw: write: %w", err)
			}
		}
		for {
			f, err := c.readFrame()
			if err != nil {
				return events, fmt.Errorf("raw: read: %w", err)
			}
			if len(f) < 16 {
				return events, fmt.Errorf("raw: short reply (%d bytes)", len(f))
			}
			xid := int32(binary.BigEndian.Uint32(f))
			switch xid {
			case xidNotification:
				events++
			case xidPing:
			default:
				if lat != nil {
					lat[recv] = time.Since(t0)
				}
				code := int32(binary.BigEndian.Uint32(f[12:]))
				if onReply != nil {
					if err := onReply(recv, code, f[16:]); err != nil {
						return events, err
					}
				} else if code != 0 {
					return events, fmt.Errorf("raw: op %d: error code %d", op, code)
				}
				recv++
			}
			if recv == sent || !c.frameBuffered() {
				break
			}
		}
	}
	return events, nil
}

// countEvents reads until it has seen want notifications (beyond already)
// or the deadline passes, and returns how many it saw and when the last
// one arrived.
func (c *rawConn) countEvents(want int, deadline time.Time) (int, time.Time) {
	_ = c.nc.SetReadDeadline(deadline)
	defer c.nc.SetReadDeadline(time.Time{})
	got := 0
	var last time.Time
	for got < want {
		f, err := c.readFrame()
		if err != nil {
			break
		}
		if len(f) >= 16 && int32(binary.BigEndian.Uint32(f)) == xidNotification {
			got++
			last = time.Now()
		}
	}
	return got, last
}

// openACL is the vector<ACL> of OPEN_ACL_UNSAFE: all permissions for
// world:anyone.
var openACL = func() []byte {
	b := be32(nil, 1)
	b = be32(b, 31)
	b = appendString(b, "world")
	return appendString(b, "anyone")
}()

// encGet encodes getData requests for paths[i % len(paths)].
func encGet(paths []string, watch bool) encodeFunc {
	return func(b []byte, i int) []byte {
		b = appendString(b, paths[i%len(paths)])
		if watch {
			return append(b, 1)
		}
		return append(b, 0)
	}
}

// encCreate encodes create requests of path(i) with data and flags.
func encCreate(path func(i int) string, data []byte, flags int32) encodeFunc {
	return func(b []byte, i int) []byte {
		b = appendString(b, path(i))
		b = appendBuffer(b, data)
		b = append(b, openACL...)
		return be32(b, flags)
	}
}

// encDelete encodes delete requests of paths[i], any version.
func encDelete(paths []string) encodeFunc {
	return func(b []byte, i int) []byte {
		return be32(appendString(b, paths[i]), -1)
	}
}

// encSet encodes setData requests of path(i), any version.
func encSet(path func(i int) string, data []byte) encodeFunc {
	return func(b []byte, i int) []byte {
		b = appendString(b, path(i))
		b = appendBuffer(b, data)
		return be32(b, -1)
	}
}

// decodeString reads a jute ustring at the start of b.
func decodeString(b []byte) (string, error) {
	if len(b) < 4 {
		return "", errors.New("raw: short string")
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if n < 0 || len(b)-4 < n {
		return "", errors.New("raw: bad string length")
	}
	return string(b[4 : 4+n]), nil
}

// decodeStrings reads a jute vector<ustring> at the start of b.
func decodeStrings(b []byte) ([]string, error) {
	if len(b) < 4 {
		return nil, errors.New("raw: short vector")
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	if n < 0 || n > len(b)/4 {
		return nil, errors.New("raw: bad vector length")
	}
	b = b[4:]
	out := make([]string, 0, n)
	for range n {
		s, err := decodeString(b)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		b = b[4+len(s):]
	}
	return out, nil
}

func be32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func be64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func appendString(b []byte, s string) []byte { return append(be32(b, int32(len(s))), s...) }

func appendBuffer(b []byte, d []byte) []byte {
	if d == nil {
		return be32(b, -1)
	}
	return append(be32(b, int32(len(d))), d...)
}
