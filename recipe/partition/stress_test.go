package partition

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// claims records which worker works on which item, as a worker's loop
// would: an item is claimed after Acquired and given up before ReleaseSet.
type claims struct {
	t    *testing.T
	mu   sync.Mutex
	by   map[string]string
	dead map[string]bool
}

func (c *claims) claim(worker string, items []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead[worker] {
		return
	}
	for _, it := range items {
		if w, ok := c.by[it]; ok && w != worker {
			c.t.Errorf("item %s held by %s and %s at once", it, w, worker)
		}
		c.by[it] = worker
	}
}

func (c *claims) drop(worker string, kill bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if kill {
		c.dead[worker] = true
	}
	for it, w := range c.by {
		if w == worker {
			delete(c.by, it)
		}
	}
}

// worker runs Kazoo's worker loop on p until it fails.
func worker(p *SetPartitioner, cl *claims, wg *sync.WaitGroup) {
	defer wg.Done()
	for st := range p.Changes() {
		switch st {
		case Acquired:
			cl.claim(p.Identifier(), p.Partitions())
		case Release:
			cl.drop(p.Identifier(), false)
			p.ReleaseSet(context.Background())
		case Failure:
			cl.drop(p.Identifier(), false)
			return
		}
	}
}

// TestPartitionerStress: 4 workers partition 100 items; one is killed
// (its client closed) and another added meanwhile. No item is ever worked
// on by two workers, and in the end each is owned exactly once.
func TestPartitionerStress(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	base := srv.Client(t)
	var set []string
	for i := range 100 {
		set = append(set, fmt.Sprintf("item-%03d", i))
	}
	cl := &claims{t: t, by: map[string]string{}, dead: map[string]bool{}}
	var wg sync.WaitGroup
	type w struct {
		c *keeper.Client
		p *SetPartitioner
	}
	var ws []w
	add := func(i int) {
		c := testutil.Connect(t, srv, base)
		p := New(c, "/part", set, WithIdentifier(fmt.Sprintf("w%d", i)), WithTimeBoundary(300*time.Millisecond), WithMaxReactionTime(200*time.Millisecond))
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Finish(context.Background()) })
		wg.Add(1)
		go worker(p, cl, &wg)
		ws = append(ws, w{c, p})
	}
	for i := range 4 {
		add(i)
	}
	settled := func(alive []w) func() bool {
		return func() bool {
			seen := map[string]int{}
			for _, x := range alive {
				if x.p.State() != Acquired {
					return false
				}
				for _, it := range x.p.Partitions() {
					seen[it]++
				}
			}
			if len(seen) != len(set) {
				return false
			}
			for _, n := range seen {
				if n != 1 {
					return false
				}
			}
			return true
		}
	}
	testutil.WaitFor(t, 60*time.Second, "4 workers to own the set", settled(ws))
	// Kill worker 1 while the set is owned, and add worker 4 at once.
	cl.drop("w1", true)
	ws[1].c.Close()
	add(4)
	alive := []w{ws[0], ws[2], ws[3], ws[4]}
	testutil.WaitFor(t, 60*time.Second, "the new 4 workers to own the set", settled(alive))
	for _, x := range alive {
		if n := len(x.p.Partitions()); n != 25 {
			t.Errorf("%s owns %d items, want 25", x.p.Identifier(), n)
		}
	}
	for _, x := range ws {
		x.p.Finish(ctx)
	}
	wg.Wait()
}
