package keeper_test

import (
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests; each test
// works under its own chroot (srv.Client(t)). TestMain also fails the run
// when goroutines of the module outlive the tests.
var srv *zktest.Cluster

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, d, what, cond)
}
