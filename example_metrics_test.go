package keeper_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

// Metrics sends the client's measurements to functions of your own; here
// a count of calls by operation and outcome, and the connection states
// passed through.
func ExampleMetrics() {
	var mu sync.Mutex
	calls := map[string]int{}
	var states []string
	m := &keeper.Metrics{
		Op: func(op, code string, d time.Duration) {
			mu.Lock()
			calls[op+" "+code]++
			mu.Unlock()
		},
		State: func(from, to keeper.State) {
			mu.Lock()
			states = append(states, from.String()+"->"+to.String())
			mu.Unlock()
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"), keeper.WithMetrics(m))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create(ctx, "/example-metrics", nil); err != nil {
		log.Fatal(err)
	}
	defer c.Delete(ctx, "/example-metrics", keeper.AnyVersion)
	_, _, _ = c.Get(ctx, "/example-metrics")
	_, _, _ = c.Get(ctx, "/example-metrics/missing")

	mu.Lock()
	defer mu.Unlock()
	fmt.Println(calls["create ok"], calls["get ok"], calls["get NoNode"])
	fmt.Println(states)
	// Output:
	// 1 1 1
	// [Connecting->Connected]
}

// ErrorCode gives the outcome label a Metrics.Op function receives.
func ExampleErrorCode() {
	fmt.Println(keeper.ErrorCode(nil))
	fmt.Println(keeper.ErrorCode(keeper.ErrNoNode))
	fmt.Println(keeper.ErrorCode(fmt.Errorf("get /x: %w", context.DeadlineExceeded)))
	// Output:
	// ok
	// NoNode
	// DeadlineExceeded
}
