package cache_test

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

func ctxT(t testing.TB) context.Context { return testutil.Ctx(t, 60*time.Second) }

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, d, what, cond)
}

// sameChroot connects a second client to c's chroot.
func sameChroot(t *testing.T, c *keeper.Client) *keeper.Client {
	t.Helper()
	return testutil.Connect(t, srv, c)
}

// proxied returns a client that reaches the server through a fault proxy,
// and a direct client, both on a fresh chroot.
func proxied(t *testing.T) (*keeper.Client, *zktest.Proxy, *keeper.Client) {
	t.Helper()
	c, p := testutil.Proxied(t, srv)
	return c, p, testutil.Connect(t, srv, c)
}

// serverWatches asks the server (wchc) which paths c's session watches.
func serverWatches(t *testing.T, c *keeper.Client) []string {
	t.Helper()
	paths, err := testutil.Watches(ctxT(t), srv.Addr(0), c.SessionID())
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// waitNoServerWatches polls wchc until c's session holds no watch.
func waitNoServerWatches(t *testing.T, c *keeper.Client) {
	t.Helper()
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}
