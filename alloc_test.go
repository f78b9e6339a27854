package keeper_test

import (
	"context"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// TestAllocs checks the heap allocations of the hot calls on a chrooted
// client: a Get allocates only its results (the data and the Stat), a
// Create only the path created and an asynchronous call nothing besides
// what its callback receives.
func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over many round trips")
	}
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	c := srv.Client(t)
	tctx := testutil.Ctx(t, 60*time.Second)
	if _, err := c.Create(tctx, "/n", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100)
	// check counts fn's allocations per call (fn makes per calls), which
	// may exceed max by slack.
	check := func(what string, max, per, slack float64, fn func()) {
		t.Helper()
		fn() // warm the pools
		if n := testing.AllocsPerRun(200, fn) / per; n > max+slack {
			t.Errorf("%s: %.2f allocations per call, want at most %.2f", what, n, max+slack)
		} else {
			t.Logf("%s: %.2f allocations per call", what, n)
		}
	}
	// A ctx that never ends costs nothing; one that can end costs the two
	// allocations of context.AfterFunc, which interrupts the caller's read
	// of its own reply when ctx ends.
	for _, cc := range []struct {
		name  string
		ctx   context.Context
		extra float64
	}{{"", context.Background(), 0}, {" (ctx with a deadline)", tctx, 2}} {
		ctx := cc.ctx
		check("Get"+cc.name, 2, 1, cc.extra, func() {
			if _, _, err := c.Get(ctx, "/n"); err != nil {
				t.Fatal(err)
			}
		})
		check("Exists"+cc.name, 1, 1, cc.extra, func() {
			if _, err := c.Exists(ctx, "/n"); err != nil {
				t.Fatal(err)
			}
		})
		check("Set"+cc.name, 1, 1, cc.extra, func() {
			if _, err := c.Set(ctx, "/n", data, keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
		})
		check("Create"+cc.name, 2, 1, cc.extra, func() {
			if _, err := c.Create(ctx, "/s-", data, keeper.Sequential()); err != nil {
				t.Fatal(err)
			}
		})
		check("Create and Delete"+cc.name, 2, 1, 2*cc.extra, func() {
			p, err := c.Create(ctx, "/d-", nil, keeper.Sequential())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(ctx, p, keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
		})
	}
	var getErr error
	getCB := func(_ []byte, _ *keeper.Stat, err error) {
		if err != nil {
			getErr = err
		}
	}
	// Flush's own two allocations count once per 64 calls.
	check("GetAsync", 2, 64, 2.0/64, func() {
		for range 64 {
			c.GetAsync(tctx, "/n", getCB)
		}
		if err := c.Flush(tctx); err != nil {
			t.Fatal(err)
		}
	})
	if getErr != nil {
		t.Fatal(getErr)
	}
}
