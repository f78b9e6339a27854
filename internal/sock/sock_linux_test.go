//go:build linux

package sock

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pair returns the wrapped client end and the plain server end of a
// loopback TCP connection.
func pair(t *testing.T) (*conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.FailNow()
	}
	w, ok := Wrap(nc).(*conn)
	if !ok {
		t.Fatalf("Wrap(%T) did not wrap a plain TCP connection", nc)
	}
	t.Cleanup(func() { w.Close(); srv.Close() })
	return w, srv.(*net.TCPConn)
}

func TestWrapLeavesOtherConns(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(net.Pipe) = %T, want the pipe itself", got)
	}
}

// TestRoundTrip sends 8 MB each way through small socket buffers, so that
// writes meet a full socket and reads an empty one, and checks every byte.
func TestRoundTrip(t *testing.T) {
	c, srv := pair(t)
	_ = c.SetWriteBuffer(16 << 10)
	_ = srv.SetReadBuffer(16 << 10)
	data := make([]byte, 8<<20)
	rand.Read(data)
	r0, w0 := Calls()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the server echoes slowly, in small pieces
		defer wg.Done()
		buf := make([]byte, 3000)
		for {
			n, err := srv.Read(buf)
			if n > 0 {
				if _, werr := srv.Write(buf[:n]); werr != nil {
					t.Error(werr)
					return
				}
			}
			if err != nil {
				if err != io.EOF {
					t.Error(err)
				}
				_ = srv.CloseWrite()
				return
			}
		}
	}()
	got := make([]byte, 0, len(data))
	readDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 5000)
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				readDone <- err
				return
			}
		}
	}()
	for off := 0; off < len(data); off += 1 << 20 {
		n, err := c.Write(data[off : off+1<<20])
		if err != nil || n != 1<<20 {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, 1<<20)
		}
	}
	_ = c.CloseWrite()
	if err := <-readDone; err != io.EOF {
		t.Fatalf("read ended with %v, want io.EOF", err)
	}
	wg.Wait()
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes, not the %d sent", len(got), len(data))
	}
	r1, w1 := Calls()
	if r1-r0 < 2 || w1-w0 != 8 {
		t.Fatalf("Calls counted %d reads and %d writes; want ≥ 2 and 8", r1-r0, w1-w0)
	}
}

func TestReadDeadline(t *testing.T) {
	c, srv := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	buf := make([]byte, 10)
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("Read's error %#v is not a read *net.OpError", err)
	}
	// Nothing is lost: after the deadline is lifted, what comes is read.
	_ = c.SetReadDeadline(time.Time{})
	if _, err := srv.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	n, err := io.ReadFull(c, buf[:5])
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v after the timeout; want hello", buf[:n], err)
	}
}

func TestWriteDeadline(t *testing.T) {
	c, _ := pair(t) // the server never reads
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	big := make([]byte, 64<<20)
	n, err := c.Write(big)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Write past its deadline: %d, %v; want a timeout", n, err)
	}
	if n <= 0 || n >= len(big) {
		t.Fatalf("Write reported %d bytes written of %d; want some, not all", n, len(big))
	}
}

func TestCloseWhileReading(t *testing.T) {
	c, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read wait in the poller (not an assertion)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read on a closed connection: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return after Close")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

func TestReset(t *testing.T) {
	c, srv := pair(t)
	_ = srv.SetLinger(0)
	srv.Close() // sends a reset
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after the peer's reset: %v, want ECONNRESET", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("Read's error %#v is not a read *net.OpError", err)
	}
}

func TestEmptyBuffers(t *testing.T) {
	c, _ := pair(t)
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Fatalf("Write(nil) = %d, %v", n, err)
	}
}

func TestNoAllocations(t *testing.T) {
	c, srv := pair(t)
	msg := make([]byte, 100)
	in := make([]byte, 100)
	back := make([]byte, 100)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(srv, in); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Write(in); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, back); err != nil {
			t.Fatal(err)
		}
	})
	// The server end is a plain net.Conn, which allocates nothing either.
	if allocs != 0 {
		t.Fatalf("a round trip allocated %.1f times, want 0", allocs)
	}
}

func TestTell(t *testing.T) {
	lastTold.Store(0)
	now := int64(1_000_000_000_000)
	if !tell(now) {
		t.Fatal("the first call is not told")
	}
	if tell(now + toldEvery/2) {
		t.Fatal("a call within toldEvery of the last told one is told")
	}
	if !tell(now + toldEvery) {
		t.Fatal("a call toldEvery after the last told one is not told")
	}
	if !tell(now - toldEvery) {
		t.Fatal("a call after the clock went back is not told")
	}
}
