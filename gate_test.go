package keeper_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// The version gates of the root package's tests: each test of an operation
// that a server line lacks runs in full on servers that have it and, on an
// older one (the oldest line in `make test`'s matrix), checks that the
// operation fails with ErrUnimplemented and ends as skipped.

// needsAddWatch gates a test on persistent and recursive watches (3.6).
func needsAddWatch(t *testing.T, ctx context.Context, c *keeper.Client) {
	t.Helper()
	testutil.Needs(t, c, 3, 6, 0, func() error {
		w, err := c.Watch(ctx, "/", false)
		if err == nil {
			w.Close()
		}
		return err
	})
}

// needsGetEphemerals gates a test on getEphemerals and getAllChildrenNumber (3.6).
func needsGetEphemerals(t *testing.T, ctx context.Context, c *keeper.Client) {
	t.Helper()
	testutil.Needs(t, c, 3, 6, 0, func() error {
		_, err := c.Ephemerals(ctx, "/")
		return err
	})
}

// needsMultiRead gates a test on multiRead (3.6).
func needsMultiRead(t *testing.T, ctx context.Context, c *keeper.Client) {
	t.Helper()
	testutil.Needs(t, c, 3, 6, 0, func() error {
		_, err := c.MultiGet(ctx, "/")
		return err
	})
}

// needsWhoAmI gates a test on whoAmI (3.7).
func needsWhoAmI(t *testing.T, ctx context.Context, c *keeper.Client) {
	t.Helper()
	testutil.Needs(t, c, 3, 7, 0, func() error {
		_, err := c.WhoAmI(ctx)
		return err
	})
}

// hasWhoAmI reports whether c's server has whoAmI (3.7), or its release is
// unknown to the client, which then sends the call; on an older one it
// first checks that the call fails with ErrUnimplemented, so that a test of
// authentication can go on without it.
func hasWhoAmI(t *testing.T, ctx context.Context, c *keeper.Client) bool {
	t.Helper()
	v := c.ServerVersion()
	if v.AtLeast(3, 7, 0) {
		return true
	}
	ids, err := c.WhoAmI(ctx)
	if v == (keeper.Version{}) {
		// An unknown release (no srvr answer, as on a TLS-only port) is not
		// gated: the call is sent, and an old server refuses the opcode.
		return !errors.Is(err, keeper.ErrUnimplemented)
	}
	if !errors.Is(err, keeper.ErrUnimplemented) {
		t.Fatalf("WhoAmI on %s = %v, %v; want ErrUnimplemented", v, ids, err)
	}
	return false
}
