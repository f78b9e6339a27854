// Package testutil holds test helpers shared by the module's tests: one server
// per test package with a goroutine-leak check, clients behind a fault
// proxy, a deterministic session expiry, polling, and the server's list of
// watches (wchc).
package testutil

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// Main starts a standalone server into *srv, runs the tests, stops the
// server, fails the run when goroutines of this module are left, names the
// server's release when the run failed, and exits.
// Call it from TestMain.
func Main(m *testing.M, srv **zktest.Cluster, opts ...zktest.Option) {
	s, err := zktest.New(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting ZooKeeper:", err)
		os.Exit(1)
	}
	*srv = s
	// The runnable examples read their connect string from ZK_SERVERS, as a
	// user's program (and the keeper command) would.
	os.Setenv("ZK_SERVERS", s.Servers())
	code := m.Run()
	s.Close()
	if code == 0 {
		if leaked := LeakedGoroutines(10 * time.Second); leaked != "" {
			fmt.Fprintln(os.Stderr, "goroutines left after the tests:\n"+leaked)
			code = 1
		}
	}
	if code != 0 {
		// A failure names the release, which make test's matrix varies.
		fmt.Fprintf(os.Stderr, "these tests ran against ZooKeeper %s\n", s.Version())
	}
	os.Exit(code)
}

// LeakedGoroutines waits up to d for every goroutine running code of this
// module (other than the caller's) to exit and returns the stacks of those
// that did not.
func LeakedGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "github.com/keeper-go/keeper") && !strings.Contains(g, "testutil.LeakedGoroutines") &&
				!strings.Contains(g, "testing.(*M)") && !strings.Contains(g, "testutil.Main") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Ctx returns a context that ends after d (60s when d is 0) or at the end of
// the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	if d == 0 {
		d = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ProxyDialer returns a keeper.WithDialer option that sends every
// connection of a client through p, whatever server address it dials.
func ProxyDialer(p *zktest.Proxy) keeper.Option {
	return keeper.WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.Addr())
	})
}

// Proxied returns a client of srv on a fresh chroot whose connections go
// through a new fault proxy in front of member 0. Both are closed at the
// end of the test.
func Proxied(t testing.TB, srv *zktest.Cluster, opts ...keeper.Option) (*keeper.Client, *zktest.Proxy) {
	t.Helper()
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return srv.Client(t, append([]keeper.Option{ProxyDialer(p)}, opts...)...), p
}

// Connect returns another client on the same chroot as c (with its own
// session), closed at the end of the test.
func Connect(t testing.TB, srv *zktest.Cluster, c *keeper.Client, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := keeper.Connect(ctx, srv.Servers()+c.Chroot(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Expire expires c's current session on the server and waits until c has
// reported it Lost. c must connect through p (see Proxied): the proxy is
// paused meanwhile so that c cannot take its session back before the
// server has closed it (zktest.ExpireSession alone races with the client's
// immediate reconnect).
func Expire(t testing.TB, ctx context.Context, c *keeper.Client, p *zktest.Proxy) {
	t.Helper()
	old := c.SessionID()
	lost := make(chan struct{})
	stop := c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Lost && ev.SessionID == old {
			select {
			case <-lost:
			default:
				close(lost)
			}
		}
	})
	defer stop()
	p.Pause()
	err := zktest.ExpireSession(ctx, c)
	p.Resume()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatalf("session 0x%x not reported lost: %v", old, ctx.Err())
	}
}

// WaitFor polls cond every 10ms until it holds, or fails the test after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// Within polls cond every 10ms until it holds (true) or d passes (false).
func Within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Watches returns the paths on which the server at addr holds data (and
// exists) watches of the session, from the wchc four-letter word. Paths are
// as the server sees them, with the client's chroot. ZooKeeper's wchc (and
// wchp, wchs) leave child watches out: see NoChildWatches.
func Watches(ctx context.Context, addr string, session int64) ([]string, error) {
	out, err := keeper.Command(ctx, addr, "wchc")
	if err != nil {
		return nil, err
	}
	return parseWchc(out, session)
}

// parseWchc reads wchc's reply: a "0x<session>" line, then that session's
// watched paths, each on a line starting with a tab.
func parseWchc(out string, session int64) ([]string, error) {
	var paths []string
	cur := int64(0)
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "0x"):
			v, err := strconv.ParseUint(line[2:], 16, 64)
			if err != nil {
				return nil, fmt.Errorf("testutil: wchc: bad session line %q", line)
			}
			cur = int64(v)
		case line[0] == '\t' || line[0] == ' ':
			if cur == session {
				paths = append(paths, strings.TrimSpace(line))
			}
		default:
			return nil, fmt.Errorf("testutil: wchc: unexpected line %q", line)
		}
	}
	return paths, nil
}

// NoWatches waits (up to 20s) until the server at addr holds no data watch
// of the session, and fails the test otherwise. A watch that fired is removed
// by the server when it sends the event, so a short wait may be needed.
func NoWatches(t testing.TB, addr string, session int64) {
	t.Helper()
	var last []string
	var lastErr error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last, lastErr = Watches(ctx, addr, session)
		cancel()
		if lastErr == nil && len(last) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lastErr != nil && !errors.Is(lastErr, context.DeadlineExceeded) {
		t.Fatalf("wchc: %v", lastErr)
	}
	t.Fatalf("session 0x%x still holds watches on %q", session, last)
}

// NoChildWatches fails the test when the server holds a child watch of c on
// one of paths (asked with checkWatches, as wchc does not list them).
func NoChildWatches(t testing.TB, c *keeper.Client, paths ...string) {
	t.Helper()
	for _, p := range paths {
		var err error
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = c.CheckWatches(ctx, p, keeper.WatchChildren)
			cancel()
			if errors.Is(err, keeper.ErrNoWatcher) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !errors.Is(err, keeper.ErrNoWatcher) {
			t.Fatalf("child watch on %s: %v", p, err)
		}
	}
}

// ConnectVia returns another client on c's chroot that connects to addr (a
// proxy's address, say), closed at the end of the test.
func ConnectVia(t testing.TB, addr string, c *keeper.Client, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := keeper.Connect(ctx, addr+c.Chroot(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// AssertClean polls until path has no children, no running member of cl
// holds a data watch under the chroot of clients[0] (wchc lists only data
// watches) and no client holds a watch of any kind on path; it fails the
// test after 30s.
func AssertClean(t testing.TB, cl *zktest.Cluster, path string, clients ...*keeper.Client) {
	t.Helper()
	ctx := Ctx(t, 0)
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := leftovers(ctx, t, cl, path, clients)
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leftovers describes what AssertClean finds left, or returns "".
func leftovers(ctx context.Context, t testing.TB, cl *zktest.Cluster, path string, clients []*keeper.Client) string {
	c := clients[0]
	kids, err := c.Children(ctx, path)
	if err != nil && !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("children %s: %v", path, err)
	}
	if len(kids) > 0 {
		return fmt.Sprintf("nodes left under %s: %v", path, kids)
	}
	for i := range cl.Len() {
		if cl.PID(i) == 0 {
			continue // not running
		}
		out, err := keeper.Command(ctx, cl.Addr(i), "wchc")
		if err != nil {
			return fmt.Sprintf("wchc on member %d: %v", i, err)
		}
		for _, line := range strings.Split(out, "\n") {
			p := strings.TrimSpace(line)
			if strings.HasPrefix(line, "\t") && (p == c.Chroot() || strings.HasPrefix(p, c.Chroot()+"/")) {
				return fmt.Sprintf("data watch left on %s (member %d)", p, i)
			}
		}
	}
	for i, c := range clients {
		if c.State() == keeper.Closed {
			continue
		}
		err := c.CheckWatches(ctx, path, keeper.WatchAny)
		switch {
		case err == nil:
			return fmt.Sprintf("client %d still watches %s", i, path)
		case !errors.Is(err, keeper.ErrNoWatcher):
			t.Fatalf("checkWatches %s: %v", path, err)
		}
	}
	return ""
}

// ChrootWatches returns the paths on which the server at addr holds data
// watches of c's session, relative to c's chroot.
func ChrootWatches(ctx context.Context, t testing.TB, addr string, c *keeper.Client) []string {
	paths, err := Watches(ctx, addr, c.SessionID())
	if err != nil {
		t.Fatalf("wchc: %v", err)
	}
	var out []string
	for _, p := range paths {
		if rel, ok := strings.CutPrefix(p, c.Chroot()); ok {
			if rel == "" {
				rel = "/"
			}
			out = append(out, rel)
		}
	}
	return out
}

// WaitWatch polls until the server at addr holds a data watch of c's
// session on path (relative to c's chroot).
func WaitWatch(t testing.TB, addr string, c *keeper.Client, path string) {
	t.Helper()
	ctx := Ctx(t, 0)
	WaitFor(t, 30*time.Second, "a watch on "+path, func() bool {
		return slices.Contains(ChrootWatches(ctx, t, addr, c), path)
	})
}

// WaitChildWatch polls until the server holds a children watch of c's
// session on path (asked with checkWatches: wchc does not list those).
func WaitChildWatch(t testing.TB, c *keeper.Client, path string) {
	t.Helper()
	ctx := Ctx(t, 0)
	WaitFor(t, 30*time.Second, "a children watch on "+path, func() bool {
		return c.CheckWatches(ctx, path, keeper.WatchChildren) == nil
	})
}

// DirectAndProxied returns a client of srv on a fresh chroot, a fault proxy
// in front of member 0, and a second client on the same chroot that
// connects through the proxy. All are closed at the end of the test.
func DirectAndProxied(t testing.TB, srv *zktest.Cluster) (direct *keeper.Client, p *zktest.Proxy, proxied *keeper.Client) {
	t.Helper()
	direct = srv.Client(t)
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return direct, p, ConnectVia(t, p.Addr(), direct)
}

// ExampleClient connects to srv on a fresh chroot named after name, for
// runnable examples (which have no *testing.T); cleanup closes the client
// and deletes the chroot. It exits the program on failure.
func ExampleClient(ctx context.Context, srv *zktest.Cluster, name string) (c *keeper.Client, cleanup func()) {
	admin, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		log.Fatal(err)
	}
	root := "/" + zktest.ChrootName(name)
	if _, err := admin.Create(ctx, root, nil); err != nil {
		log.Fatal(err)
	}
	c, err = keeper.Connect(ctx, srv.Servers()+root)
	if err != nil {
		log.Fatal(err)
	}
	return c, func() {
		c.Close()
		_ = admin.DeleteAll(context.Background(), root)
		admin.Close()
	}
}

// ProxiedWithDirect returns a client of srv on a fresh chroot whose
// connections go through a new fault proxy (see Proxied), the proxy, and a
// second client on the same chroot that connects directly. All are closed
// at the end of the test.
func ProxiedWithDirect(t testing.TB, srv *zktest.Cluster) (proxied *keeper.Client, p *zktest.Proxy, direct *keeper.Client) {
	t.Helper()
	proxied, p = Proxied(t, srv)
	return proxied, p, Connect(t, srv, proxied)
}

// Logger returns an option that sends the client's debug log to t.Log, so a
// failing test shows what the client did (connects, drops, backoffs) next to
// its error. Lines logged after the test ends are dropped.
func Logger(t testing.TB) keeper.Option {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return keeper.WithLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// testWriter writes to t.Log until stop.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
