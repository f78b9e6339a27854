package keeper_test

import (
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
	ctx := testutil.Ctx(t, 60*time.Second)
	if _, err := c.Create(ctx, "/n", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100)
	check := func(what string, max float64, fn func()) {
		t.Helper()
		fn() // warm the pools
		per := 1.0
		if what == "GetAsync" {
			per = 64 // fn makes 64 calls and one Flush
		}
		// Flush's own two allocations count once per 64 calls.
		if n := testing.AllocsPerRun(200, fn) / per; n > max+2/per {
			t.Errorf("%s: %.2f allocations per call, want at most %.0f", what, n, max)
		} else {
			t.Logf("%s: %.2f allocations per call", what, n)
		}
	}
	check("Get", 2, func() {
		if _, _, err := c.Get(ctx, "/n"); err != nil {
			t.Fatal(err)
		}
	})
	check("Exists", 1, func() {
		if _, err := c.Exists(ctx, "/n"); err != nil {
			t.Fatal(err)
		}
	})
	check("Create", 2, func() {
		if _, err := c.Create(ctx, "/s-", data, keeper.Sequential()); err != nil {
			t.Fatal(err)
		}
	})
	var getErr error
	getCB := func(_ []byte, _ *keeper.Stat, err error) {
		if err != nil {
			getErr = err
		}
	}
	check("GetAsync", 2, func() {
		for range 64 {
			c.GetAsync(ctx, "/n", getCB)
		}
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if getErr != nil {
		t.Fatal(getErr)
	}
}
