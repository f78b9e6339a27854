package party_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
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
		fmt.Fprintln(os.Stderr, "starting ZooKeeper (run scripts/install-zookeeper if it is missing):", err)
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

// leakedGoroutines waits up to d for every goroutine of this module to
// exit and returns the stacks of those that did not.
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

// testCtx returns a context bounded generously for one test step.
func testCtx(t *testing.T) context.Context {
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
		time.Sleep(20 * time.Millisecond)
	}
}

// sameChroot connects another client to the chroot of c, through addr
// (a proxy's address, or the cluster's servers when empty).
func sameChroot(t *testing.T, c *keeper.Client, addr string, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	if addr == "" {
		addr = srv.Servers()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := keeper.Connect(ctx, addr+c.Chroot(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// assertClean polls until path has no children and the server holds no
// watch under c's chroot.
func assertClean(t *testing.T, c *keeper.Client, path string) {
	t.Helper()
	ctx := testCtx(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := leftovers(ctx, t, c, path)
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leftovers describes the nodes under path and the watches under c's
// chroot that remain, or returns "".
func leftovers(ctx context.Context, t *testing.T, c *keeper.Client, path string) string {
	kids, err := c.Children(ctx, path)
	if err != nil && !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("children %s: %v", path, err)
	}
	if len(kids) > 0 {
		return fmt.Sprintf("nodes left under %s: %v", path, kids)
	}
	out, err := keeper.Command(ctx, srv.Addr(0), "wchc")
	if err != nil {
		t.Fatalf("wchc: %v", err)
	}
	for _, line := range strings.Split(out, "\n") {
		p := strings.TrimSpace(line)
		if strings.HasPrefix(line, "\t") && (p == c.Chroot() || strings.HasPrefix(p, c.Chroot()+"/")) {
			return "watch left on " + p
		}
	}
	return ""
}
