package node

import (
	"context"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests.
var srv *zktest.Cluster

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

func proxied(t *testing.T, opts ...keeper.Option) (*keeper.Client, *zktest.Proxy) {
	t.Helper()
	return testutil.Proxied(t, srv, opts...)
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, d, what, cond)
}

func testCtx(t *testing.T) context.Context { return testutil.Ctx(t, 0) }
