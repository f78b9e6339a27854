package keeper_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/hostile"
	"github.com/keeper-go/keeper/internal/wire"
)

// The tests in this file point a client at a scripted fake server
// (internal/hostile) that breaks the protocol in one way each, and check
// that the client does not trust it.

// hostileClient returns a client of srv (closed at cleanup); it knows the
// server's version, so nothing probes it unless a test wants that.
func hostileClient(t *testing.T, srv *hostile.Server, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	opts = append([]keeper.Option{keeper.WithServerVersion("3.8.0"), keeper.WithSessionTimeout(4 * time.Second)}, opts...)
	c, err := keeper.New(srv.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// events collects a client's state events.
type events struct {
	mu  sync.Mutex
	evs []keeper.StateEvent
}

func listenAll(c *keeper.Client) *events {
	e := &events{}
	c.Listen(func(ev keeper.StateEvent) {
		e.mu.Lock()
		e.evs = append(e.evs, ev)
		e.mu.Unlock()
	})
	return e
}

// find returns the first event for which match holds.
func (e *events) find(match func(keeper.StateEvent) bool) (keeper.StateEvent, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.evs {
		if match(ev) {
			return ev, true
		}
	}
	return keeper.StateEvent{}, false
}

// connects records the ConnectRequests a script read.
type connects struct {
	mu   sync.Mutex
	reqs []*wire.ConnectRequest
}

func (cs *connects) add(r *wire.ConnectRequest) {
	cs.mu.Lock()
	cs.reqs = append(cs.reqs, r)
	cs.mu.Unlock()
}

func (cs *connects) all() []*wire.ConnectRequest {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]*wire.ConnectRequest(nil), cs.reqs...)
}

const bogusZxid = int64(1) << 40

// Issue 21 item 1: a zxid from a server (here a ping reply's) must not
// follow the client into a new session: the new session's handshake
// starts from zero, or every real server would refuse it as being ahead.
func TestHostileZxidResetOnNewSession(t *testing.T) {
	t.Parallel()
	var cs connects
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		req, err := c.ReadConnect()
		if err != nil {
			return
		}
		cs.add(req)
		switch {
		case n == 1:
			_ = c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: 0x10, Passwd: hostile.Password})
			_ = c.Reply(wire.XidPing, bogusZxid, wire.ErrOK, nil)
			// Let the client read the ping before the drop.
			_, _ = c.ReadRequest()
		case req.SessionID != 0:
			_ = c.SendConnect(wire.ConnectResponse{Timeout: 0}) // expired
		default:
			_ = c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: 0x20, Passwd: hostile.Password})
			c.Stall()
		}
	})
	c := hostileClient(t, srv)
	ctx := ctxT(t)
	waitFor(t, 20*time.Second, "the bogus zxid", func() bool { return c.LastZxid() == bogusZxid })
	// The client pings on its own; the script answers its first request
	// by dropping the connection, and then says the session expired.
	waitFor(t, 30*time.Second, "a new session", func() bool { return c.SessionID() == 0x20 })
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	var fresh *wire.ConnectRequest
	for _, r := range cs.all() {
		if r.SessionID == 0 && fresh == nil && r != cs.all()[0] {
			fresh = r
		}
	}
	if fresh == nil {
		t.Fatalf("no handshake for a new session among %d", len(cs.all()))
	}
	if fresh.LastZxidSeen != 0 {
		t.Fatalf("the new session's handshake sent lastZxid 0x%x, want 0", fresh.LastZxidSeen)
	}
	if z := c.LastZxid(); z >= bogusZxid {
		t.Fatalf("LastZxid = 0x%x on the new session", z)
	}
}

// Issue 21 item 1, second half: when every server refuses to resume the
// session (closing the handshake, as a server behind the client's zxid
// does), a state event says so; the session is then presumed expired and
// a new one, from zxid 0, is accepted.
func TestHostileServersBehind(t *testing.T) {
	t.Parallel()
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		req, err := c.ReadConnect()
		if err != nil {
			return
		}
		switch {
		case n == 1:
			_ = c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: 0x10, Passwd: hostile.Password})
			_ = c.Reply(wire.XidPing, bogusZxid, wire.ErrOK, nil)
			_, _ = c.ReadRequest()
		case req.LastZxidSeen > 0:
			return // "has seen zxid ... our last zxid is ...": closed
		default:
			_ = c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: 0x20, Passwd: hostile.Password})
			_ = c.Serve(nil)
		}
	})
	c := hostileClient(t, srv, keeper.WithSessionTimeout(2*time.Second))
	evs := listenAll(c)
	waitFor(t, 30*time.Second, "a state event saying the servers are behind", func() bool {
		_, ok := evs.find(func(ev keeper.StateEvent) bool {
			return ev.Err != nil && strings.Contains(ev.Err.Error(), "behind")
		})
		return ok
	})
	waitFor(t, 30*time.Second, "a new session", func() bool {
		return c.SessionID() == 0x20 && c.State() == keeper.Connected
	})
}

// Issue 21 item 2: a server that accepts the handshake and then breaks
// the protocol at once must not make the client reconnect in a hot loop,
// and the handshakes must not keep the session from being presumed
// expired.
func TestHostileNoHotReconnectLoop(t *testing.T) {
	t.Parallel()
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if _, err := c.Accept(0x10); err != nil {
			return
		}
		_ = c.Reply(999, 0, wire.ErrOK, nil) // a reply for an xid never sent
		c.Stall()
	})
	c := hostileClient(t, srv, keeper.WithSessionTimeout(time.Second))
	evs := listenAll(c)
	waitFor(t, 30*time.Second, "the session presumed expired", func() bool {
		_, ok := evs.find(func(ev keeper.StateEvent) bool {
			return ev.State == keeper.Lost && errors.Is(ev.Err, keeper.ErrSessionPresumedExpired)
		})
		return ok
	})
	start, n0 := time.Now(), srv.Accepted()
	for time.Since(start) < 2*time.Second {
		time.Sleep(50 * time.Millisecond) // the window in which reconnects are counted
	}
	// With the backoff doubling to 2s, two seconds hold a handful of
	// attempts; the hot loop made thousands.
	if n := srv.Accepted() - n0; n > 20 {
		t.Fatalf("%d handshakes in 2s", n)
	}
}

// Issue 21 item 3: the negotiated session timeout is never more than was
// asked, and never absurdly small.
func TestHostileNegotiatedTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer int32
		want   time.Duration
	}{
		{"huge", math.MaxInt32, 3 * time.Second},
		{"tiny", 1, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := hostile.Start(t, func(c *hostile.Conn, n int) {
				if _, err := c.ReadConnect(); err != nil {
					return
				}
				_ = c.SendConnect(wire.ConnectResponse{Timeout: tc.answer, SessionID: 0x10, Passwd: hostile.Password})
				c.Stall() // silent: no ping replies
			})
			c := hostileClient(t, srv, keeper.WithSessionTimeout(3*time.Second))
			evs := listenAll(c)
			if err := c.WaitConnected(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if got := c.SessionTimeout(); got != tc.want {
				t.Fatalf("SessionTimeout = %v after the server said %dms, want %v", got, tc.answer, tc.want)
			}
			// Silent server: the client notices within the timeout it uses.
			waitFor(t, 20*time.Second, "Suspended", func() bool {
				_, ok := evs.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Suspended })
				return ok
			})
		})
	}
}

// Issue 21 item 3, the rest: a negotiated timeout of 0 or below is a
// refusal (the server's answer for an expired session), never a session.
func TestHostileNonPositiveTimeoutRefused(t *testing.T) {
	t.Parallel()
	for _, answer := range []int32{0, -1, math.MinInt32} {
		t.Run(fmt.Sprint(answer), func(t *testing.T) {
			t.Parallel()
			srv := hostile.Start(t, func(c *hostile.Conn, n int) {
				if _, err := c.ReadConnect(); err != nil {
					return
				}
				_ = c.SendConnect(wire.ConnectResponse{Timeout: answer, SessionID: 0x10, Passwd: hostile.Password})
				c.Stall()
			})
			c := hostileClient(t, srv)
			evs := listenAll(c)
			waitFor(t, 30*time.Second, "three refused handshakes", func() bool { return srv.Accepted() >= 3 })
			if ev, ok := evs.find(func(ev keeper.StateEvent) bool {
				return ev.State == keeper.Connected || ev.State == keeper.ConnectedReadOnly
			}); ok {
				t.Fatalf("a %dms answer connected: %v", answer, ev)
			}
			if c.State() == keeper.Connected || c.SessionID() != 0 {
				t.Fatalf("state %v, session 0x%x after %dms answers", c.State(), c.SessionID(), answer)
			}
		})
	}
}

// Issue 21 item 4: WithMaxQueued bounds a listener's queue too: a listener
// that falls behind gets ErrSlowConsumer as its last event.
func TestHostileListenerQueueBounded(t *testing.T) {
	t.Parallel()
	flapping := hostile.Start(t, func(c *hostile.Conn, n int) {
		_, _ = c.Accept(0x10) // and drop at once: Connected, Suspended, ...
	})
	c := hostileClient(t, flapping, keeper.WithMaxQueued(5), keeper.WithReconnectBackoff(time.Millisecond, 2*time.Millisecond))
	release := make(chan struct{})
	var mu sync.Mutex
	var got []keeper.StateEvent
	c.Listen(func(ev keeper.StateEvent) {
		<-release
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})
	waitFor(t, 30*time.Second, "many reconnects", func() bool { return flapping.Accepted() >= 30 })
	close(release)
	waitFor(t, 30*time.Second, "ErrSlowConsumer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && errors.Is(got[len(got)-1].Err, keeper.ErrSlowConsumer)
	})
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n > 5+2 {
		t.Fatalf("a listener with WithMaxQueued(5) received %d events", n)
	}
}

// Issue 21 item 5: a server that holds the srvr probe open must not keep
// the client from connecting, and a failed probe is not repeated on
// every connection.
func TestHostileVersionProbeOffConnectPath(t *testing.T) {
	t.Parallel()
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if _, err := c.Accept(0x10); err != nil {
			return
		}
		if n == 1 {
			_, _ = c.ReadRequest() // the first ping: drop, to see a reconnect
			return
		}
		_ = c.Serve(nil)
	})
	srv.SetFourLetter(func(c *hostile.Conn, cmd string) { c.Stall() })
	c, err := keeper.New(srv.Addr(), keeper.WithConnectTimeout(time.Second), keeper.WithSessionTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatalf("not connected with the srvr probe stalled: %v", err)
	}
	waitFor(t, 30*time.Second, "the reconnect", func() bool { return srv.Accepted() >= 2 && c.State() == keeper.Connected })
	if n := srv.FourLetterCount(); n != 1 {
		t.Fatalf("%d srvr probes of one server, want 1", n)
	}
}

// Issue 21 item 6: events for paths outside the chroot, or for invalid
// paths, are dropped, not delivered as if inside.
func TestHostileEventsOutsideChroot(t *testing.T) {
	t.Parallel()
	armed := make(chan *hostile.Conn, 1)
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if _, err := c.Accept(0x10); err != nil {
			return
		}
		_ = c.Serve(func(c *hostile.Conn, req *hostile.Request) bool {
			var body wire.Record
			if req.Op == wire.OpGetData {
				body = &wire.GetDataResponse{Data: []byte("d")}
			}
			if req.Op == wire.OpAddWatch {
				body = &wire.ErrorResponse{}
			}
			_ = c.Reply(req.Xid, 1, wire.ErrOK, body)
			if req.Op == wire.OpGetData {
				armed <- c
			}
			return true
		})
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	c, err := keeper.New(srv.Addr()+"/app", keeper.WithServerVersion("3.8.0"), keeper.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	w, err := c.Watch(ctx, "/", true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, _, ch, err := c.GetW(ctx, "/x")
	if err != nil {
		t.Fatal(err)
	}
	sc := <-armed
	bad := []string{"/x", "/application/z", "", "/app/\xff\xfe", "/app//y"}
	for i, p := range bad {
		_ = sc.Event(int64(10+i), wire.EventNodeDataChanged, p)
	}
	_ = sc.Event(99, wire.EventNodeDataChanged, "/app/x")
	select {
	case ev := <-ch:
		if ev.Zxid != 99 || ev.Path != "/x" {
			t.Fatalf("GetW(/x) fired by %+v, want the event for /app/x (zxid 99)", ev)
		}
	case <-ctx.Done():
		t.Fatal("GetW(/x) never fired")
	}
	select {
	case ev := <-w.Events():
		if ev.Zxid != 99 || ev.Path != "/x" {
			t.Fatalf("the recursive watcher got %+v first, want the event for /app/x (zxid 99)", ev)
		}
	case <-ctx.Done():
		t.Fatal("the recursive watcher got nothing")
	}
	// Each dropped event is logged, with the path the server sent.
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := strings.Count(out, "dropping a watch event"); n != len(bad) {
		t.Fatalf("%d dropped events logged, want %d:\n%s", n, len(bad), out)
	}
	for _, p := range bad[:2] {
		if !strings.Contains(out, p) {
			t.Fatalf("the log does not name %q:\n%s", p, out)
		}
	}
}

// Issue 21 item 7: when a resume is answered with another session, the
// Lost event names the session lost, and the log says what happened.
func TestHostileLostNamesLostSession(t *testing.T) {
	t.Parallel()
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		req, err := c.ReadConnect()
		if err != nil {
			return
		}
		if n == 1 {
			_ = c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: 0x111, Passwd: hostile.Password})
			_, _ = c.ReadRequest()
			return // drop at the first ping
		}
		_ = c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: 0x222, Passwd: hostile.Password})
		_ = c.Serve(nil)
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	c := hostileClient(t, srv, keeper.WithLogger(logger))
	evs := listenAll(c)
	waitFor(t, 30*time.Second, "Lost", func() bool {
		_, ok := evs.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Lost })
		return ok
	})
	ev, _ := evs.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Lost })
	if ev.SessionID != 0x111 {
		t.Fatalf("Lost event names session 0x%x, want 0x111", ev.SessionID)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if strings.Contains(out, "read-only session replaced") || !strings.Contains(out, "session=111") {
		t.Fatalf("log does not say that read-write session 111 was replaced:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Issue 21 item 8: Close right after the connection dropped reconnects
// to close the session on the server: whether the client has not noticed
// the drop yet, or is waiting out its reconnect backoff.
func TestHostileCloseAfterDrop(t *testing.T) {
	t.Parallel()
	for _, inBackoff := range []bool{false, true} {
		name := map[bool]string{false: "unnoticed", true: "in-backoff"}[inBackoff]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			drop := make(chan struct{})
			closed := make(chan int64, 1)
			srv := hostile.Start(t, func(c *hostile.Conn, n int) {
				if n == 2 && inBackoff {
					_, _ = c.ReadConnect()
					return // refused: the client backs off
				}
				req, err := c.Accept(0x42)
				if err != nil {
					return
				}
				if n == 1 {
					if r, err := c.ReadRequest(); err == nil {
						_ = c.Reply(r.Xid, 1, wire.ErrNoNode, nil)
					}
					<-drop
					return
				}
				for {
					r, err := c.ReadRequest()
					if err != nil {
						return
					}
					if r.Op == wire.OpCloseSession {
						closed <- req.SessionID // before the reply Close waits for
					}
					_ = c.Reply(r.Xid, 0, wire.ErrOK, nil)
				}
			})
			c := hostileClient(t, srv, keeper.WithReconnectBackoff(10*time.Second, 10*time.Second))
			evs := listenAll(c)
			ctx := ctxT(t)
			if _, err := c.Exists(ctx, "/x"); err != nil { // the connection has served
				t.Fatal(err)
			}
			close(drop)
			if inBackoff {
				waitFor(t, 10*time.Second, "the refused reconnect", func() bool {
					_, ok := evs.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Suspended })
					return ok && srv.Accepted() >= 2
				})
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case id := <-closed:
				if id != 0x42 {
					t.Fatalf("closeSession on session 0x%x", id)
				}
			default:
				t.Fatal("Close returned without closing the session on the server")
			}
		})
	}
}

// Issue 21 item 8, the other half: when no server takes the session back
// after a drop, Close gives up within its timeout and says that the
// session was not closed on the server.
func TestHostileCloseCannotReach(t *testing.T) {
	t.Parallel()
	drop := make(chan struct{})
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if n > 1 {
			_, _ = c.ReadConnect()
			return // every later handshake refused
		}
		if _, err := c.Accept(0x42); err != nil {
			return
		}
		if r, err := c.ReadRequest(); err == nil {
			_ = c.Reply(r.Xid, 1, wire.ErrNoNode, nil)
		}
		<-drop
	})
	c := hostileClient(t, srv, keeper.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	if _, err := c.Exists(ctxT(t), "/x"); err != nil { // the connection has served
		t.Fatal(err)
	}
	close(drop)
	waitFor(t, 20*time.Second, "refused reconnects", func() bool { return srv.Accepted() >= 3 })
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not closed on the server") || !strings.Contains(err.Error(), "0x42") {
			t.Fatalf("Close = %v; want an error saying session 0x42 was not closed on the server", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs when no server takes the session back")
	}
}

// Issue 21 item 9: a frame's declared length is not allocated before its
// bytes arrive.
func TestHostileFrameLengthNotPreallocated(t *testing.T) {
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if _, err := c.Accept(0x10); err != nil {
			return
		}
		if n == 1 {
			// 200 MiB announced, 1 KiB sent, then the drop.
			_, _ = c.Write([]byte{0x0c, 0x80, 0x00, 0x00})
			_, _ = c.Write(make([]byte, 1024))
			return
		}
		_ = c.Serve(nil)
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c := hostileClient(t, srv, keeper.WithMaxBuffer(256<<20))
	waitFor(t, 30*time.Second, "the reconnect", func() bool { return srv.Accepted() >= 2 && c.State() == keeper.Connected })
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Fatalf("reading a truncated frame announcing 200 MiB allocated %d MiB", d>>20)
	}
}

// Issue 21 item 10: the error of a request failed by a protocol error
// says so (errors.Is ErrProtocol), besides matching ErrConnectionLoss.
func TestHostileRequestErrorHasCause(t *testing.T) {
	t.Parallel()
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if _, err := c.Accept(0x10); err != nil {
			return
		}
		_ = c.Serve(func(c *hostile.Conn, req *hostile.Request) bool {
			_ = c.Reply(req.Xid+1000, 0, wire.ErrOK, &wire.GetDataResponse{})
			return true
		})
	})
	c := hostileClient(t, srv, keeper.WithRetry(nil))
	ctx := ctxT(t)
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Get(ctx, "/x")
	if !errors.Is(err, keeper.ErrConnectionLoss) || !errors.Is(err, keeper.ErrProtocol) {
		t.Fatalf("Get = %v; want an error matching ErrConnectionLoss and ErrProtocol", err)
	}
	var ke *keeper.Error
	if !errors.As(err, &ke) || ke.Op != "get" || ke.Path != "/x" {
		t.Fatalf("Get = %v; want a *keeper.Error naming get /x", err)
	}
	if !strings.Contains(err.Error(), "xid") {
		t.Fatalf("Get = %v; the message does not say what broke", err)
	}
}

// Issue 21 item 11: a session whose server sent an empty password can be
// resumed with what Session returns.
func TestHostileEmptyPassword(t *testing.T) {
	t.Parallel()
	var cs connects
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		req, err := c.ReadConnect()
		if err != nil {
			return
		}
		cs.add(req)
		_ = c.SendConnect(wire.ConnectResponse{Timeout: req.Timeout, SessionID: 0x77})
		_ = c.Serve(nil)
	})
	c := hostileClient(t, srv)
	if err := c.WaitConnected(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	id, pw := c.Session()
	c2, err := keeper.New(srv.Addr(), keeper.WithSession(id, pw), keeper.WithServerVersion("3.8.0"))
	if err != nil {
		t.Fatalf("WithSession(c.Session()) = %v", err)
	}
	defer c2.Close()
	if err := c2.WaitConnected(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	all := cs.all()
	last := all[len(all)-1]
	if last.SessionID != 0x77 || !bytes.Equal(last.Passwd, pw) {
		t.Fatalf("resume sent session 0x%x password %x; Session() gave %x", last.SessionID, last.Passwd, pw)
	}
}

// Issue 16 item 5: OutcomeOf tells applied, not applied and unknown apart,
// and keeps the server's SessionExpired reply (not applied) apart from a
// request in flight when the connection went (unknown).
func TestHostileOutcome(t *testing.T) {
	t.Parallel()
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if _, err := c.Accept(0x10); err != nil {
			return
		}
		_ = c.Serve(func(c *hostile.Conn, req *hostile.Request) bool {
			path := wire.NewReader(req.Body).String()
			switch path {
			case "/ok":
				_ = c.Reply(req.Xid, 5, wire.ErrOK, &wire.SetDataResponse{})
			case "/expired":
				_ = c.Reply(req.Xid, 5, wire.ErrSessionExpired, nil)
			case "/nonode":
				_ = c.Reply(req.Xid, 5, wire.ErrNoNode, nil)
			case "/lost":
				return false // no answer: the connection drops
			}
			return true
		})
	})
	c := hostileClient(t, srv)
	ctx := ctxT(t)
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want keeper.Outcome
		is   error
	}{
		{"/ok", keeper.Applied, nil},
		{"/expired", keeper.NotApplied, keeper.ErrSessionExpired},
		{"/nonode", keeper.NotApplied, keeper.ErrNoNode},
		{"/lost", keeper.Unknown, keeper.ErrConnectionLoss},
	} {
		_, err := c.Set(ctx, tc.path, []byte("x"), -1)
		if got := keeper.OutcomeOf(err); got != tc.want || !errors.Is(err, tc.is) {
			t.Errorf("Set %s = %v: outcome %v, want %v matching %v", tc.path, err, got, tc.want, tc.is)
		}
	}
	// Never sent: the ctx ended before the request was written.
	stalled := hostile.Start(t, func(c *hostile.Conn, n int) { c.Stall() })
	c2 := hostileClient(t, stalled)
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := c2.Set(sctx, "/x", nil, -1)
	if got := keeper.OutcomeOf(err); got != keeper.NotApplied || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Set never sent = %v: outcome %v, want NotApplied", err, got)
	}
	if got := keeper.OutcomeOf(keeper.ValidatePath("bad")); got != keeper.NotApplied {
		t.Errorf("OutcomeOf(a bad path) = %v", got)
	}
}

// Issue 16 item 6: presumed expiry counts from when the last answered
// request was sent, not from when its reply came: a reply that took 1s
// does not buy the session another second the server never granted.
func TestHostilePresumedExpiryFromSend(t *testing.T) {
	t.Parallel()
	srv := hostile.Start(t, func(c *hostile.Conn, n int) {
		if n > 1 {
			_, _ = c.ReadConnect()
			c.Stall() // no server answers any more
			return
		}
		if _, err := c.Accept(0x10); err != nil {
			return
		}
		_ = c.Serve(func(c *hostile.Conn, req *hostile.Request) bool {
			time.Sleep(time.Second) // the reply is slow
			_ = c.Reply(req.Xid, 1, wire.ErrNoNode, nil)
			return false // and then the connection drops
		})
	})
	const timeout = 2 * time.Second
	c := hostileClient(t, srv, keeper.WithSessionTimeout(timeout))
	ctx := ctxT(t)
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	lost := make(chan time.Time, 1)
	c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Lost {
			select {
			case lost <- time.Now():
			default:
			}
		}
	})
	sent := time.Now()
	if _, err := c.Exists(ctx, "/x"); err != nil {
		t.Fatal(err)
	}
	var at time.Time
	select {
	case at = <-lost:
	case <-ctx.Done():
		t.Fatal("never Lost")
	}
	// The server would expire the session timeout after it heard the
	// request; counting from the reply, the client said Lost after 3s.
	if d := at.Sub(sent); d > timeout+700*time.Millisecond {
		t.Fatalf("Lost %v after the last answered request was sent (session timeout %v)", d, timeout)
	} else {
		t.Logf("Lost %v after the last answered request was sent (session timeout %v)", d, timeout)
	}
}

// Issue 16 item 3: against each kind of broken server, listed first in
// the connect string beside a sound one, the client says what went wrong,
// moves to the sound server, and a read completes within its timeouts;
// memory stays bounded across all of them.
func TestHostileServers(t *testing.T) {
	accept := func(c *hostile.Conn) bool { _, err := c.Accept(0x10); return err == nil }
	cases := []struct {
		name   string
		script hostile.Script
		// want matches the error the client reports: the Err of its first
		// Suspended event when the handshake succeeded, else the error
		// Connect gives on that server alone.
		want        func(error) bool
		afterAccept bool
	}{
		{"truncated frame", func(c *hostile.Conn, n int) {
			if accept(c) {
				_, _ = c.Write(append([]byte{0, 0, 0, 100}, make([]byte, 10)...))
			}
		}, func(err error) bool { return errors.Is(err, wire.ErrShortFrame) }, true},
		{"length over the limit", func(c *hostile.Conn, n int) {
			if accept(c) {
				_, _ = c.Write([]byte{0x7f, 0xff, 0xff, 0xff})
				c.Stall()
			}
		}, func(err error) bool { return errors.Is(err, wire.ErrFrameTooLarge) }, true},
		{"wrong xid", func(c *hostile.Conn, n int) {
			if accept(c) {
				_ = c.Serve(func(c *hostile.Conn, req *hostile.Request) bool {
					_ = c.Reply(req.Xid+1, 1, wire.ErrOK, &wire.GetDataResponse{})
					return true
				})
			}
		}, func(err error) bool { return errors.Is(err, keeper.ErrProtocol) }, true},
		{"reply for a request never sent", func(c *hostile.Conn, n int) {
			if accept(c) {
				_ = c.Reply(4242, 1, wire.ErrOK, nil)
				c.Stall()
			}
		}, func(err error) bool { return errors.Is(err, keeper.ErrProtocol) }, true},
		{"garbage after the handshake", func(c *hostile.Conn, n int) {
			if accept(c) {
				_ = c.SendFrame([]byte{1, 2, 3})
				c.Stall()
			}
		}, func(err error) bool { return errors.Is(err, keeper.ErrProtocol) }, true},
		{"accept then stall", func(c *hostile.Conn, n int) {
			if accept(c) {
				c.Stall()
			}
		}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "no reply") }, true},
		{"handshake never answered", func(c *hostile.Conn, n int) {
			_, _ = c.ReadConnect()
			c.Stall()
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, false},
		{"handshake cut short", func(c *hostile.Conn, n int) {
			if _, err := c.ReadConnect(); err == nil {
				_, _ = c.Write([]byte{0, 0, 0, 36, 0, 0})
				c.Stall()
			}
		}, func(err error) bool { return errors.Is(err, wire.ErrShortFrame) }, false},
		{"HTTP instead of a handshake", func(c *hostile.Conn, n int) {
			if _, err := c.ReadConnect(); err == nil {
				_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			}
		}, func(err error) bool {
			return errors.Is(err, wire.ErrFrameTooLarge) && strings.Contains(err.Error(), "HTTP")
		}, false},
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := hostile.Start(t, tc.script)
			good := hostile.Start(t, func(c *hostile.Conn, n int) {
				if accept(c) {
					_ = c.Serve(func(c *hostile.Conn, req *hostile.Request) bool {
						_ = c.Reply(req.Xid, 1, wire.ErrOK, &wire.GetDataResponse{Data: []byte("ok")})
						return true
					})
				}
			})
			opts := []keeper.Option{keeper.WithServerVersion("3.8.0"), keeper.WithSessionTimeout(2 * time.Second),
				keeper.WithConnectTimeout(time.Second)}
			// The error, from a client of the broken server alone.
			alone, err := keeper.New(bad.Addr(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			evs := listenAll(alone)
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
			werr := alone.WaitConnected(ctx)
			var got error
			if tc.afterAccept {
				_, _, _ = alone.Get(ctx, "/x") // a request, for the server to answer wrong
				waitFor(t, 10*time.Second, "Suspended", func() bool {
					ev, ok := evs.find(func(ev keeper.StateEvent) bool { return ev.State == keeper.Suspended })
					got = ev.Err
					return ok
				})
			} else {
				got = werr
			}
			cancel()
			alone.Close()
			if !tc.want(got) {
				t.Errorf("the broken server's error: %v", got)
			}
			// Beside a sound server, a read completes within the timeouts.
			c, err := keeper.New(bad.Addr()+","+good.Addr(), append(opts, keeper.WithOrderedHosts())...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer rcancel()
			data, _, err := c.Get(rctx, "/x")
			if err != nil || string(data) != "ok" {
				t.Fatalf("Get beside a sound server = %q, %v", data, err)
			}
			// Connect timeout, a read timeout (2/3 of the session
			// timeout) and the retry delays: well under 10s.
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("Get took %v", d)
			}
		})
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Fatalf("heap in use grew by %d MiB across the broken servers", grew>>20)
	}
}
