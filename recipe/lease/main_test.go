package lease

import (
	"context"
	"testing"

	"github.com/keeper-go/keeper/recipe/internal/rtest"
	"github.com/keeper-go/keeper/zktest"
)

// srv is the standalone server shared by the package's tests.
var srv *zktest.Cluster

func TestMain(m *testing.M) { rtest.Main(m, &srv) }

func testCtx(t *testing.T) context.Context { return rtest.Ctx(t, 0) }
