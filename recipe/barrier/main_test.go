package barrier_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/rtest"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests; each test
// works under its own chroot (srv.Client(t)).
var srv *zktest.Cluster

func TestMain(m *testing.M) { rtest.Main(m, &srv) }

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

// assertClean polls until path has no children, the server holds no data
// watch under the chroot of clients[0] (wchc lists only data watches) and
// no client holds a watch of any kind on path.
func assertClean(t *testing.T, path string, clients ...*keeper.Client) {
	t.Helper()
	ctx := testCtx(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := leftovers(ctx, t, path, clients)
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leftovers describes what assertClean finds left, or returns "".
func leftovers(ctx context.Context, t *testing.T, path string, clients []*keeper.Client) string {
	c := clients[0]
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
			return "data watch left on " + p
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

// watches returns the paths the server watches for c's session, relative
// to c's chroot.
func watches(ctx context.Context, t *testing.T, c *keeper.Client) []string {
	out, err := keeper.Command(ctx, srv.Addr(0), "wchc")
	if err != nil {
		t.Fatalf("wchc: %v", err)
	}
	sid := fmt.Sprintf("0x%x", c.SessionID())
	var paths []string
	mine := false
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "\t") {
			mine = strings.TrimSpace(line) == sid
			continue
		}
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), c.Chroot()); ok && mine {
			if p == "" {
				p = "/"
			}
			paths = append(paths, p)
		}
	}
	return paths
}

// waitWatch polls until the server holds a watch of c's session on path.
func waitWatch(t *testing.T, c *keeper.Client, path string) {
	t.Helper()
	ctx := testCtx(t)
	waitFor(t, 30*time.Second, "a watch on "+path, func() bool {
		return slices.Contains(watches(ctx, t, c), path)
	})
}

// waitChildWatch polls until the server holds a children watch of c's
// session on path (wchc does not list those).
func waitChildWatch(t *testing.T, c *keeper.Client, path string) {
	t.Helper()
	ctx := testCtx(t)
	waitFor(t, 30*time.Second, "a children watch on "+path, func() bool {
		return c.CheckWatches(ctx, path, keeper.WatchChildren) == nil
	})
}
