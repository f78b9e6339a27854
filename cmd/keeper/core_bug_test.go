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
// It fails now and then (the CLI's --auth with it): Client.serve publishes
// the connection (c.cur, state Connected) before writeLoop has taken the
// conn's write lock to write the prelude (auth, then the watches to
// restore), so a caller finding the connection idle writes its own request
// first (enqueue -> conn.tryWrite).
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
