package zktest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// expectNoFrame checks that nothing arrives on conn for a short while: the
// only way to see that a stalled connection stays stalled.
func expectNoFrame(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	defer conn.SetReadDeadline(time.Time{})
	b, err := readFrame(conn)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read % x, %v: want nothing", b, err)
	}
}

// readXid reads one frame and returns its xid.
func readXid(t *testing.T, conn net.Conn) int32 {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	b, err := readFrame(conn)
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if len(b) < 4 {
		t.Fatalf("frame % x: no xid", b)
	}
	return int32(binary.BigEndian.Uint32(b))
}

// expectEOF checks that the peer closed conn.
func expectEOF(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := readFrame(conn)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("read % x, %v: want EOF", b, err)
	}
}

func TestProxyFourLetterWord(t *testing.T) {
	p := newProxy(t, srv.Addr(0))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := FourLetterWord(ctx, p.Addr(), "srvr")
	if err != nil || !strings.Contains(reply, "Mode: standalone") {
		t.Fatalf("srvr through the proxy: %q, %v", reply, err)
	}
	waitFor(t, 10*time.Second, "the connection to close", func() bool { return p.Conns() == 0 })
}

func TestProxyHandshakeAndTap(t *testing.T) {
	p := newProxy(t, srv.Addr(0))
	type tapped struct {
		fromServer bool
		frame      []byte
	}
	var (
		mu     sync.Mutex
		frames []tapped
	)
	p.Tap(func(fromServer bool, frame []byte) {
		mu.Lock()
		defer mu.Unlock()
		frames = append(frames, tapped{fromServer, frame})
	})
	s := dialSession(t, p.Addr())
	if p.Conns() != 1 {
		t.Fatalf("Conns() = %d, want 1", p.Conns())
	}
	if xid, code := s.call(t, pingRequest()); xid != -2 || code != 0 {
		t.Fatalf("ping reply xid %d, error %d", xid, code)
	}
	p.Tap(nil)
	if xid, _ := s.call(t, pingRequest()); xid != -2 {
		t.Fatalf("second ping reply xid %d", xid)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(frames) != 4 {
		t.Fatalf("tapped %d frames, want 4 (connect, ping, both ways)", len(frames))
	}
	want := []tapped{
		{false, connectRequest()}, {true, s.connectResponse}, {false, pingRequest()},
	}
	for i, w := range want {
		if frames[i].fromServer != w.fromServer || !bytes.Equal(frames[i].frame, w.frame) {
			t.Errorf("frame %d: %v % x, want %v % x", i, frames[i].fromServer, frames[i].frame, w.fromServer, w.frame)
		}
	}
	if !frames[3].fromServer || len(frames[3].frame) != 16 || int32(binary.BigEndian.Uint32(frames[3].frame)) != -2 {
		t.Errorf("frame 3: %v % x, want a ping reply", frames[3].fromServer, frames[3].frame)
	}
}

func TestProxyPause(t *testing.T) {
	p := newProxy(t, srv.Addr(0))
	s := dialSession(t, p.Addr())

	p.Pause()
	if err := writeFrame(s, pingRequest()); err != nil {
		t.Fatal(err)
	}
	expectNoFrame(t, s)
	if p.Conns() != 1 {
		t.Fatalf("Conns() = %d while paused, want 1", p.Conns())
	}
	p.Resume()
	if xid := readXid(t, s); xid != -2 {
		t.Fatalf("reply xid %d after Resume, want the ping's -2", xid)
	}

	// A connection made while paused stalls too, from its first byte.
	p.Pause()
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := writeFrame(conn, connectRequest()); err != nil {
		t.Fatal(err)
	}
	expectNoFrame(t, conn)
	p.Resume()
	if b, err := readFrame(conn); err != nil || len(b) != 37 {
		t.Fatalf("connect response % x, %v after Resume", b, err)
	}
}

func TestProxyDrop(t *testing.T) {
	p := newProxy(t, srv.Addr(0))
	s := dialSession(t, p.Addr())
	p.Drop()
	expectEOF(t, s)
	if p.Conns() != 0 {
		t.Fatalf("Conns() = %d after Drop", p.Conns())
	}
	s = dialSession(t, p.Addr())
	if xid, _ := s.call(t, pingRequest()); xid != -2 {
		t.Fatalf("ping on a new connection: xid %d", xid)
	}
}

func TestProxyDelay(t *testing.T) {
	p := newProxy(t, srv.Addr(0))
	s := dialSession(t, p.Addr())
	const d = 200 * time.Millisecond
	p.Delay(d)
	start := time.Now()
	if xid, _ := s.call(t, pingRequest()); xid != -2 {
		t.Fatalf("ping reply xid %d", xid)
	}
	// Request and reply are each held for d.
	if took := time.Since(start); took < 2*d {
		t.Fatalf("ping took %v with a delay of %v each way", took, d)
	}
	p.Delay(0)
	if xid, _ := s.call(t, pingRequest()); xid != -2 {
		t.Fatalf("ping reply xid %d", xid)
	}
}

func TestProxyDropNextReply(t *testing.T) {
	p := newProxy(t, srv.Addr(0))
	s := dialSession(t, p.Addr())
	p.DropNextReply()
	if xid, _ := s.call(t, pingRequest()); xid != -2 {
		t.Fatalf("ping reply xid %d", xid)
	}
	if err := writeFrame(s, existsRequest(1, "/")); err != nil {
		t.Fatal(err)
	}
	expectEOF(t, s)
	waitFor(t, 10*time.Second, "the connection to close", func() bool { return p.Conns() == 0 })

	// One reply only: the next connection gets its replies.
	s = dialSession(t, p.Addr())
	if xid, code := s.call(t, existsRequest(1, "/")); xid != 1 || code != codeOK {
		t.Fatalf("exists / reply xid %d, error %d", xid, code)
	}
}

func TestProxySetTarget(t *testing.T) {
	p := newProxy(t, srv.Addr(0))
	old := dialSession(t, p.Addr())

	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		c, err := other.Accept()
		if err == nil {
			_, _ = c.Write([]byte("hello"))
			c.Close()
		}
	}()
	p.SetTarget(other.Addr().String())
	if p.Target() != other.Addr().String() {
		t.Fatalf("Target() = %q", p.Target())
	}
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("ruok")) // a four-letter start: passed through unparsed
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v from the new target", got, err)
	}
	<-accepted
	if xid, _ := old.call(t, pingRequest()); xid != -2 {
		t.Fatalf("ping on the old connection: xid %d", xid)
	}
}

func TestProxyClose(t *testing.T) {
	p, err := NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	s := dialSession(t, p.Addr())
	p.Pause()
	if err := writeFrame(s, pingRequest()); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// The proxy had not read the ping, so the kernel resets the connection
	// rather than ending it.
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := readFrame(s); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read % x, %v: want EOF or a reset", b, err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts after Close")
	}
}

func TestProxyUnreachableTarget(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	expectEOF(t, conn)
}
