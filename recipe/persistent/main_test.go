package persistent_test

import (
	"context"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests (with
// extendedTypesEnabled, zktest's default); each test works under its own
// chroot.
var srv *zktest.Cluster

// The server reaps expired TTL and empty container nodes every 200ms
// (instead of every minute) so that the TTL tests end soon.
func TestMain(m *testing.M) {
	testutil.Main(m, &srv, zktest.JVMFlag("-Dznode.container.checkIntervalMs=200"))
}

func testCtx(t *testing.T) context.Context { return testutil.Ctx(t, 90*time.Second) }

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 60*time.Second, what, cond)
}

// stat returns the Stat of path, or nil when it does not exist.
func stat(t *testing.T, c *keeper.Client, path string) *keeper.Stat {
	t.Helper()
	st, err := c.Exists(context.Background(), path)
	if err != nil {
		t.Fatalf("exists %s: %v", path, err)
	}
	return st
}

// nextEvent waits for the next event of ch.
func nextEvent[E any](t *testing.T, ch <-chan E) E {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("events closed")
		}
		return ev
	case <-time.After(60 * time.Second):
		t.Fatal("no event after 60s")
	}
	var zero E
	return zero
}
