package testutil

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/keeper-go/keeper"
)

// BuildTree creates, below an existing root, fan[i] children for each node
// at level i (named n000, n001, ...), each holding data, with asynchronous
// creates a level at a time and at most about 4096 in flight. It returns
// the number of nodes it created.
func BuildTree(ctx context.Context, c *keeper.Client, root string, fan []int, data []byte) (int, error) {
	var mu sync.Mutex
	var failed error
	level, nodes := []string{root}, 0
	for _, f := range fan {
		var next []string
		pending := 0
		for _, p := range level {
			for i := range f {
				q := keeper.JoinPath(p, fmt.Sprintf("n%03d", i))
				next = append(next, q)
				c.CreateAsync(ctx, q, data, func(_ string, err error) {
					if err != nil {
						mu.Lock()
						failed = errors.Join(failed, err)
						mu.Unlock()
					}
				})
			}
			if pending += f; pending >= 4096 { // keep the backlog bounded
				if err := c.Flush(ctx); err != nil {
					return nodes, err
				}
				pending = 0
			}
		}
		if err := c.Flush(ctx); err != nil {
			return nodes, err
		}
		mu.Lock()
		err := failed
		mu.Unlock()
		if err != nil {
			return nodes, err
		}
		level = next
		nodes += len(next)
	}
	return nodes, nil
}

// CPUTime is the process's user and system CPU time so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
