package barrier_test

import (
	"context"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests; each test
// works under its own chroot (srv.Client(t)).
var srv *zktest.Cluster

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

// testCtx returns a context bounded generously for one test step.
func testCtx(t *testing.T) context.Context { return testutil.Ctx(t, 60*time.Second) }

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, d, what, cond)
}

// sameChroot connects another client to the chroot of c, through addr
// (a proxy's address, or the cluster's servers when empty).
func sameChroot(t *testing.T, c *keeper.Client, addr string, opts ...keeper.Option) *keeper.Client {
	t.Helper()
	if addr == "" {
		addr = srv.Servers()
	}
	return testutil.ConnectVia(t, addr, c, opts...)
}

// assertClean polls until path has no children, the server holds no data
// watch under the chroot of clients[0] and no client watches path.
func assertClean(t *testing.T, path string, clients ...*keeper.Client) {
	t.Helper()
	testutil.AssertClean(t, srv, path, clients...)
}

// watches returns the paths the server watches for c's session, relative
// to c's chroot.
func watches(ctx context.Context, t *testing.T, c *keeper.Client) []string {
	return testutil.ChrootWatches(ctx, t, srv.Addr(0), c)
}

// waitWatch polls until the server holds a watch of c's session on path.
func waitWatch(t *testing.T, c *keeper.Client, path string) {
	t.Helper()
	testutil.WaitWatch(t, srv.Addr(0), c, path)
}

// waitChildWatch polls until the server holds a children watch of c's
// session on path.
func waitChildWatch(t *testing.T, c *keeper.Client, path string) {
	t.Helper()
	testutil.WaitChildWatch(t, c, path)
}
