package partition

import (
	"context"
	"testing"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests; each test
// works under its own chroot.
var srv *zktest.Cluster

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

func testCtx(t *testing.T) context.Context { return testutil.Ctx(t, 0) }
