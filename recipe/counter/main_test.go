package counter

import (
	"context"
	"flag"
	"testing"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests; each test
// works under its own chroot.
var srv *zktest.Cluster

// stressOps is the number of increments each stress goroutine makes.
var stressOps = flag.Int("counter.stress", 15, "increments per goroutine in the stress tests (3 clients × 20 goroutines each)")

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

func testCtx(t *testing.T) context.Context { return testutil.Ctx(t, 0) }
