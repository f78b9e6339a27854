package cache_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests; each test
// works under its own chroot (srv.Client(t)).
var srv *zktest.Cluster

func TestMain(m *testing.M) {
	var err error
	srv, err = zktest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting ZooKeeper:", err)
		os.Exit(1)
	}
	code := m.Run()
	srv.Close()
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintln(os.Stderr, "goroutines left after the tests:\n"+leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to d for every goroutine running this module's
// code to exit, and returns the stacks of those that did not.
func leakedGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "github.com/keeper-go/keeper") && !strings.Contains(g, "leakedGoroutines") &&
				!strings.Contains(g, "testing.(*M)") {
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

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sameChroot connects a second client to c's chroot.
func sameChroot(t *testing.T, c *keeper.Client) *keeper.Client {
	t.Helper()
	o, err := keeper.Connect(ctxT(t), srv.Servers()+c.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// proxied returns a client that reaches the server through a fault proxy,
// and a direct client, both on a fresh chroot.
func proxied(t *testing.T) (*keeper.Client, *zktest.Proxy, *keeper.Client) {
	t.Helper()
	direct := srv.Client(t)
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := keeper.Connect(ctxT(t), p.Addr()+direct.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, p, direct
}

// serverWatches asks the server (wchc) which paths c's session watches.
func serverWatches(t *testing.T, c *keeper.Client) []string {
	t.Helper()
	out, err := keeper.Command(ctxT(t), srv.Addr(0), "wchc")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	mine := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "0x"):
			id, err := strconv.ParseUint(strings.TrimSpace(line[2:]), 16, 64)
			mine = err == nil && int64(id) == c.SessionID()
		case mine && strings.TrimSpace(line) != "":
			paths = append(paths, strings.TrimSpace(line))
		}
	}
	return paths
}

// waitNoServerWatches polls wchc until c's session holds no watch.
func waitNoServerWatches(t *testing.T, c *keeper.Client) {
	t.Helper()
	waitFor(t, 20*time.Second, "no server-side watch", func() bool { return len(serverWatches(t, c)) == 0 })
}
