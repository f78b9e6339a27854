package persistent_test

import (
	"testing"

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
