package main

import (
	"slices"
	"testing"

	"github.com/keeper-go/keeper"
)

// TestAuthBeforeFirstRequest checks a promise of the core client that the
// CLI's --auth relies on: credentials given with WithAuth are sent on every
// connection before any other request, so the first request after Connect
// already runs as the authenticated identity.
//
// It guards a bug fixed in the core: the connection was published before
// its prelude (credentials, watches to restore) was written, so a caller
// finding it idle could write its own request first.
func TestAuthBeforeFirstRequest(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	for i := range 100 {
		c, err := keeper.Connect(ctx, srv.Servers(), keeper.WithAuth("digest", []byte("bob:secret")))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := c.WhoAmI(ctx)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(ids, func(ci keeper.ClientInfo) bool { return ci.Scheme == "digest" && ci.User == "bob" }) {
			t.Fatalf("connection %d: the first request ran before the auth packet: WhoAmI = %v", i, ids)
		}
	}
}
