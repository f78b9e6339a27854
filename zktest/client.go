package zktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/wire"
)

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Client returns a client connected to the cluster with a fresh, unique
// chroot (created first), so tests can run in parallel without seeing each
// other's nodes. The client is closed, and its chroot deleted, at cleanup.
// opts are passed to keeper.Connect after the defaults.
func (c *Cluster) Client(t testing.TB, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	root := "/" + ChrootName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := keeper.Connect(ctx, c.Servers())
	if err != nil {
		t.Fatalf("zktest: connect: %v", err)
	}
	if _, err := admin.Create(ctx, root, nil); err != nil {
		admin.Close()
		t.Fatalf("zktest: create chroot %s: %v", root, err)
	}
	cl, err := keeper.Connect(ctx, c.Servers()+root, opts...)
	if err != nil {
		admin.Close()
		t.Fatalf("zktest: connect with chroot: %v", err)
	}
	t.Cleanup(func() {
		cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.DeleteAll(ctx, root); err != nil {
			t.Logf("zktest: cleaning up %s: %v", root, err)
		}
		admin.Close()
	})
	return cl
}

// ChrootName returns a unique node name derived from name (a test name).
func ChrootName(name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := unsafeChars.ReplaceAllString(name, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return fmt.Sprintf("%s-%s", s, hex.EncodeToString(b[:]))
}

// ExpireSession expires the client's current session on the server for
// real: it resumes the session on a side connection and closes it there,
// as a server-side expiry would end it (the server deletes its ephemeral
// nodes and closes its connections). The client learns it on its next
// contact and reports Lost. ExpireSession returns once the server has
// confirmed that the session is gone.
func ExpireSession(ctx context.Context, cl *keeper.Client) error {
	id, pw := cl.Session()
	if id == 0 {
		return fmt.Errorf("zktest: client has no session")
	}
	addr := cl.Server()
	if addr == "" {
		return fmt.Errorf("zktest: client is not connected")
	}
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		done, err := closeSessionOn(ctx, addr, id, pw)
		if done {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("zktest: expire session %x: %w", id, last)
}

// closeSessionOn resumes session id on addr and closes it; it encodes the
// frames with internal/wire, as the client does, but runs the handshake
// and the closeSession exchange itself rather than through a
// keeper.Client: ExpireSession stands in for the server expiring a
// session, and must not depend on the client's session engine (its
// resume, its Close), which the tests that call it are testing. done is
// true once the server confirmed the close, or said the session is gone.
// The client that owns the session may reconnect and take the session back
// meanwhile (the server then closes our side connection): the caller tries
// again.
func closeSessionOn(ctx context.Context, addr string, id int64, pw []byte) (done bool, err error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	defer nc.Close()
	dl := time.Now().Add(5 * time.Second)
	if cdl, ok := ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	_ = nc.SetDeadline(dl)
	req := wire.ConnectRequest{Timeout: 30000, SessionID: id, Passwd: pw}
	b, start := wire.BeginFrame(nil)
	b = req.Append(b)
	wire.EndFrame(b, start)
	if _, err := nc.Write(b); err != nil {
		return false, err
	}
	frame, err := wire.ReadFrame(nc, nil, 1024)
	if err != nil {
		return false, err
	}
	var resp wire.ConnectResponse
	r := wire.NewReader(frame)
	resp.Decode(r)
	if r.Err() != nil {
		return false, r.Err()
	}
	if resp.Timeout <= 0 {
		return true, nil // already expired
	}
	b, start = wire.BeginFrame(b[:0])
	hdr := wire.RequestHeader{Xid: 1, Op: wire.OpCloseSession}
	b = hdr.Append(b)
	wire.EndFrame(b, start)
	if _, err := nc.Write(b); err != nil {
		return false, err
	}
	for {
		frame, err := wire.ReadFrame(nc, nil, 1<<20)
		if err != nil {
			return false, err
		}
		var h wire.ReplyHeader
		h.Decode(wire.NewReader(frame))
		if h.Xid == 1 {
			return h.Err == wire.ErrOK, fmt.Errorf("closeSession: %v", h.Err)
		}
	}
}
