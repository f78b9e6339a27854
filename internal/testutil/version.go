package testutil

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keeper-go/keeper"
)

// Needs gates a test on the release of c's server: when the server is at
// least major.minor.patch, or the client does not know its release (and so
// gates nothing), it returns and the test goes on. On an older
// server it checks that try (a call of an operation that release added)
// fails with keeper.ErrUnimplemented, as the client's version gating
// promises, and then ends the test as skipped, naming both releases.
func Needs(t testing.TB, c *keeper.Client, major, minor, patch int, try func() error) {
	t.Helper()
	v := c.ServerVersion()
	if v == (keeper.Version{}) {
		// The client could not learn the release (srvr refused or not
		// answered in time): it gates nothing, and neither does this.
		t.Logf("testutil.Needs: the server's release is unknown to the client; running the test")
		return
	}
	if v.AtLeast(major, minor, patch) {
		return
	}
	need := fmt.Sprintf("%d.%d.%d", major, minor, patch)
	if err := try(); !errors.Is(err, keeper.ErrUnimplemented) {
		t.Fatalf("on server %s, an operation of %s gave %v, want ErrUnimplemented", v, need, err)
	}
	t.Skipf("server %s lacks what this test needs (%s); the operation fails with ErrUnimplemented as it should", v, need)
}
