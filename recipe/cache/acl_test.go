package cache_test

import (
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/cache"
	"github.com/keeper-go/keeper/zktest"
)

// dropsUnreadableEvents reports whether the server has the fix for
// CVE-2024-23944 (ZooKeeper 3.8.4 and later 3.8 releases, 3.9.2 and
// later; Debian's 3.8.0 package carries it too): it sends no watch event
// for a node the watching client may not READ. Observed on 3.9.5 and
// Debian's 3.8.0 for persistent recursive and one-shot watches alike; 3.7.2
// sends both.
func dropsUnreadableEvents(v keeper.Version) bool {
	return v.AtLeast(3, 9, 2) || v.AtLeast(3, 8, 4) && !v.AtLeast(3, 9, 0) ||
		zktest.SelectedVersion() == zktest.Debian
}

// TestCacheRestrictedACL shows what a cache sees of a node whose ACL
// denies it READ (CVE-2024-23944): a node unreadable from the start is
// never cached; a cached node that becomes unreadable is, with a
// persistent recursive watch on a server with the fix, kept as it was last
// read (its changes are not sent to this client, whatever the watch, nor
// its deletion to a persistent recursive watch) until the cache reads it again (here after a reconnect); on a
// server without the fix its next change makes the cache read it, fail,
// and report NodeRemoved.
func TestCacheRestrictedACL(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c, p, admin := testutil.ProxiedWithDirect(t, srv)
			if err := admin.AddAuth(ctx, "digest", []byte("admin:pw")); err != nil {
				t.Fatal(err)
			}
			private := []keeper.ACL{keeper.DigestACL(keeper.PermAll, "admin", "pw")}
			for _, n := range []string{"/r", "/r/open", "/r/secret"} {
				if _, err := admin.Create(ctx, n, []byte("v1")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := admin.Create(ctx, "/r/hidden", []byte("h"), keeper.WithACL(private...)); err != nil {
				t.Fatal(err)
			}
			tc, rec := start(t, c, "/r", mode.opts...)
			rec.waitFor(t, 0, cache.Initialized, "")
			if _, _, ok := tc.Get("/r/hidden"); ok {
				t.Fatal("an unreadable node is cached")
			}
			if _, _, ok := tc.Get("/r/secret"); !ok {
				t.Fatal("a readable node is not cached")
			}

			// /r/secret becomes unreadable, then changes; a change of
			// /r/open after it marks how far the cache has got.
			if _, err := admin.SetACL(ctx, "/r/secret", private, keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Set(ctx, "/r/secret", []byte("v2"), keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Set(ctx, "/r/open", []byte("v2"), keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			n := rec.waitFor(t, 0, cache.NodeUpdated, "/r/open")
			stale := dropsUnreadableEvents(c.ServerVersion())
			if stale {
				// Every event sent before /r/open's has been handled.
				if data, _, ok := tc.Get("/r/secret"); !ok || string(data) != "v1" {
					t.Fatalf("server %v drops the event: want /r/secret kept as v1, have %q, %v", c.ServerVersion(), data, ok)
				}
			} else {
				// The event came: the cache reads the node (its read may
				// end after /r/open's), fails, and drops it.
				rec.waitFor(t, 0, cache.NodeRemoved, "/r/secret")
			}
			// With a persistent recursive watch its deletion is not seen
			// either (one-shot watches see it: the parent's child watch
			// fires); a re-read after a reconnect finds it gone.
			if err := admin.Delete(ctx, "/r/secret", keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Set(ctx, "/r/open", []byte("v3"), keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, n+1, cache.NodeUpdated, "/r/open")
			if mode.opts == nil {
				if _, _, ok := tc.Get("/r/secret"); ok != stale {
					t.Fatalf("after the delete: cached %v, want %v", ok, stale)
				}
			} else {
				testutil.WaitFor(t, 30*time.Second, "the deletion seen through the parent's child watch", func() bool {
					_, _, ok := tc.Get("/r/secret")
					return !ok
				})
			}
			m := rec.count()
			p.Drop()
			rec.waitFor(t, m, cache.ConnReconnected, "")
			testutil.WaitFor(t, 30*time.Second, "the re-read to drop /r/secret", func() bool {
				_, _, ok := tc.Get("/r/secret")
				return !ok
			})
			if _, _, ok := tc.Get("/r/hidden"); ok {
				t.Fatal("an unreadable node is cached")
			}
			t.Logf("server %v, %s: a node made unreadable kept in the cache: %v", c.ServerVersion(), mode.name, stale)
		})
	}
}
