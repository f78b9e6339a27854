package zktest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// srv is a standalone server shared by the proxy tests.
var srv *Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	srv, err = New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "zktest goroutines left after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	return code
}

// leakedGoroutines waits up to d for every goroutine running zktest code
// (other than this one) to end and returns the stacks of those that did not.
func leakedGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "keeper/zktest.") && !strings.Contains(g, "zktest.leakedGoroutines") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond every 20ms until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Hand-encoded jute, independent of the client library under test.

func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }
func appendString(b []byte, s string) []byte {
	return append(appendInt32(b, int32(len(s))), s...)
}

// connectRequest is a ConnectRequest for a new 10s session, with the
// readOnly byte.
func connectRequest() []byte {
	b := appendInt32(nil, 0)           // protocolVersion
	b = appendInt64(b, 0)              // lastZxidSeen
	b = appendInt32(b, 10000)          // timeOut
	b = appendInt64(b, 0)              // sessionId
	b = appendInt32(b, 16)             // passwd length
	b = append(b, make([]byte, 16)...) // passwd
	return append(b, 0)                // readOnly
}

func pingRequest() []byte { return appendInt32(appendInt32(nil, -2), 11) }

func existsRequest(xid int32, path string) []byte {
	b := appendInt32(appendInt32(nil, xid), 3)
	return append(appendString(b, path), 0)
}

// createRequest creates a persistent node with world:anyone all ACL.
func createRequest(xid int32, path string, data []byte) []byte {
	b := appendInt32(appendInt32(nil, xid), 1)
	b = appendString(b, path)
	b = append(appendInt32(b, int32(len(data))), data...)
	b = appendInt32(b, 1)  // one ACL
	b = appendInt32(b, 31) // ALL
	b = appendString(b, "world")
	b = appendString(b, "anyone")
	return appendInt32(b, 0) // flags: persistent
}

func writeFrame(conn net.Conn, payload []byte) error {
	_, err := conn.Write(append(appendInt32(nil, int32(len(payload))), payload...))
	return err
}

func readFrame(conn net.Conn) ([]byte, error) {
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(head[:]))
	_, err := io.ReadFull(conn, b)
	return b, err
}

// session is a raw connection with an established session.
type session struct {
	net.Conn
	connectResponse []byte
}

// dialSession connects to addr and establishes a new session.
func dialSession(t *testing.T, addr string) *session {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := writeFrame(conn, connectRequest()); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := readFrame(conn)
	if err != nil {
		t.Fatalf("reading the connect response: %v", err)
	}
	// protocolVersion, timeOut, sessionId, passwd (4+16), readOnly
	if len(resp) != 37 || int32(binary.BigEndian.Uint32(resp[4:])) <= 0 {
		t.Fatalf("connect response % x: want 37 bytes and a positive timeout", resp)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return &session{Conn: conn, connectResponse: resp}
}

// call sends one request and returns the reply header's xid and error code.
func (s *session) call(t *testing.T, req []byte) (xid, code int32) {
	t.Helper()
	if err := writeFrame(s, req); err != nil {
		t.Fatal(err)
	}
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer s.SetReadDeadline(time.Time{})
	for {
		resp, err := readFrame(s)
		if err != nil {
			t.Fatalf("reading the reply: %v", err)
		}
		if len(resp) < 16 {
			t.Fatalf("reply % x: shorter than a reply header", resp)
		}
		xid = int32(binary.BigEndian.Uint32(resp))
		if xid == -1 { // a watch event
			continue
		}
		return xid, int32(binary.BigEndian.Uint32(resp[12:]))
	}
}

// srvr returns the parsed srvr reply of addr.
func srvr(t *testing.T, addr string) srvrInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := FourLetterWord(ctx, addr, "srvr")
	if err != nil {
		t.Fatal(err)
	}
	return parseSrvr(reply)
}
