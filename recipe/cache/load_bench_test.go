package cache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/cache"
)

// The load benchmarks compare ways of reading a whole tree into memory on
// the same server, in one run: BenchmarkTreeLoad/<size>/<way>, each way
// loadReps times, taking turns, so that they share a machine whose load
// changes. Besides ns/op they report the client's CPU time (user and
// system, of this whole process) per load in cpu-ms/op.
//
//	go test -run '^$' -bench TreeLoad -benchtime 1x ./recipe/cache/
//
// The ways: multi reads as the cache's load does (16 workers, MultiGet of
// up to 128 paths, then MultiChildren of those with children); asyncN
// walks with GetAsync and ChildrenAsync, N requests in flight; cache is a
// TreeCache from Start to Ready. One run on ZooKeeper 3.9.5, 2 shared
// cores (load 2 to 3), median (min–max) of 5, and the ratios of the
// medians to multi's:
//
//	10k   multi      27 ms (23–44)           client CPU 16.9 ms
//	10k   async256   323 ms (173–370)  12.0×, client CPU 6.25×
//	10k   async1024  327 ms (127–395)  12.1×, client CPU 6.43×
//	10k   cache      39 ms (37–44)     1.45×, client CPU 2.13×
//	100k  multi      190 ms (184–539)        client CPU 124 ms
//	100k  async256   1.94 s (1.90–3.53) 10.2×, client CPU 5.95×
//	100k  async1024  2.32 s (1.49–3.28) 12.2×, client CPU 5.34×
//	100k  cache      315 ms (293–448)  1.66×, client CPU 2.91×
//
// A multi-read answers 128 reads with one request and one reply; the
// asynchronous calls pay the per-request cost of the client and of the
// server once per node, which a window does not amortize. So the cache
// keeps its multi-reads.

// loadTree is a tree for the load benchmarks: levels below the root, each
// node with fan[i] children at level i, every node holding 100 bytes.
type loadTree struct {
	name string
	fan  []int
}

var loadTrees = []loadTree{
	{"10k", []int{10, 10, 100}},   // 10 111 nodes
	{"100k", []int{10, 100, 100}}, // 101 011 nodes
}

func (t loadTree) nodes() int {
	n, level := 1, 1
	for _, f := range t.fan {
		level *= f
		n += level
	}
	return n
}

// built holds the root of each tree made so far, so that a -count of N
// builds each tree once.
var built struct {
	sync.Mutex
	roots map[string]string
}

// buildTree makes t under a root of its own (once per test binary) and
// returns the root.
func buildTree(b *testing.B, t loadTree) string {
	b.Helper()
	built.Lock()
	defer built.Unlock()
	if r, ok := built.roots[t.name]; ok {
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	root := fmt.Sprintf("/loadbench-%s-%d", t.name, time.Now().UnixNano())
	data := make([]byte, 100)
	if _, err := c.Create(ctx, root, data); err != nil {
		b.Fatal(err)
	}
	if _, err := testutil.BuildTree(ctx, c, root, t.fan, data); err != nil {
		b.Fatal(err)
	}
	if built.roots == nil {
		built.roots = map[string]string{}
	}
	built.roots[t.name] = root
	return root
}

// loadWay reads the tree at root into memory and returns how many nodes
// it read.
type loadWay struct {
	name string
	load func(ctx context.Context, c *keeper.Client, root string) (int, error)
}

var loadWays = []loadWay{
	{"multi", multiWalk},
	{"async256", func(ctx context.Context, c *keeper.Client, root string) (int, error) {
		return asyncWalk(ctx, c, root, 256)
	}},
	{"async1024", func(ctx context.Context, c *keeper.Client, root string) (int, error) {
		return asyncWalk(ctx, c, root, 1024)
	}},
	{"cache", cacheLoad},
}

// loadReps is how many times each way runs per count: the ways take turns,
// as -count alone would run each way's repetitions one after another.
const loadReps = 5

func BenchmarkTreeLoad(b *testing.B) {
	for _, t := range loadTrees {
		b.Run(t.name, func(b *testing.B) {
			root := buildTree(b, t)
			for range loadReps {
				for _, w := range loadWays {
					b.Run(w.name, func(b *testing.B) { benchLoad(b, w, root, t.nodes()) })
				}
			}
		})
	}
}

func benchLoad(b *testing.B, w loadWay, root string, nodes int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var cpu time.Duration
	loads := 0
	for b.Loop() {
		cpu0 := testutil.CPUTime()
		n, err := w.load(ctx, c, root)
		cpu += testutil.CPUTime() - cpu0
		loads++
		if err != nil {
			b.Fatal(err)
		}
		if n != nodes {
			b.Fatalf("%d nodes read, want %d", n, nodes)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(loads), "cpu-ms/op")
}

// cacheLoad is a TreeCache's first load: from Start to Ready, the events
// drained meanwhile.
func cacheLoad(ctx context.Context, c *keeper.Client, root string) (int, error) {
	tc, err := cache.NewTreeCache(c, root)
	if err != nil {
		return 0, err
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range tc.Events() {
		}
	}()
	if err := tc.Start(ctx); err != nil {
		return 0, err
	}
	select {
	case <-tc.Ready():
	case <-tc.Done():
	}
	err = tc.Err()
	n := countCached(tc, root)
	tc.Close()
	<-drained
	return n, err
}

// countCached counts the nodes tc holds at and below p.
func countCached(tc *cache.TreeCache, p string) int {
	kids, ok := tc.Children(p)
	if !ok {
		return 0
	}
	n := 1
	for _, k := range kids {
		n += countCached(tc, keeper.JoinPath(p, k))
	}
	return n
}

// multiWalk reads the tree as the cache's load does under a persistent
// watch: 16 workers share a queue of paths, each takes up to 128 at a
// time, reads them with MultiGet, then lists with MultiChildren those
// whose Stat says they have children.
func multiWalk(ctx context.Context, c *keeper.Client, root string) (int, error) {
	const workers, batch = 16, 128
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	queue := []string{root}
	busy, read := 0, 0
	var first error
	type node struct {
		data []byte
		st   *keeper.Stat
		kids []string
	}
	tree := map[string]*node{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(queue) == 0 && (busy > 0 && first == nil) {
					cond.Wait()
				}
				if len(queue) == 0 || first != nil {
					mu.Unlock()
					cond.Broadcast()
					return
				}
				n := min(batch, len(queue))
				paths := append([]string(nil), queue[len(queue)-n:]...)
				queue = queue[:len(queue)-n]
				busy++
				mu.Unlock()
				gets, err := c.MultiGet(ctx, paths...)
				var parents []string
				got := map[string]*node{}
				if err == nil {
					for _, g := range gets {
						if g.Err != nil {
							continue
						}
						got[g.Path] = &node{data: g.Data, st: g.Stat}
						if g.Stat.NumChildren > 0 {
							parents = append(parents, g.Path)
						}
					}
				}
				var kids []keeper.ChildrenResult
				if err == nil && len(parents) > 0 {
					kids, err = c.MultiChildren(ctx, parents...)
				}
				mu.Lock()
				busy--
				if err != nil {
					first = err
				}
				for p, n := range got {
					tree[p] = n
					read++
				}
				for _, k := range kids {
					tree[k.Path].kids = k.Children
					for _, name := range k.Children {
						queue = append(queue, keeper.JoinPath(k.Path, name))
					}
				}
				mu.Unlock()
				cond.Broadcast()
			}
		}()
	}
	wg.Wait()
	return read, first
}

// asyncWalk reads the tree with GetAsync, and ChildrenAsync for the nodes
// whose Stat says they have children, keeping up to window requests in
// flight. The callbacks only hand their results to this goroutine, which
// keeps the tree and sends the next requests.
func asyncWalk(ctx context.Context, c *keeper.Client, root string, window int) (int, error) {
	type reply struct {
		path string
		kids bool // a listing, else a get
		data []byte
		st   *keeper.Stat
		list []string
		err  error
	}
	type node struct {
		data []byte
		st   *keeper.Stat
		kids []string
	}
	replies := make(chan reply, window)
	tree := map[string]*node{}
	type req struct {
		path string
		kids bool
	}
	todo := []req{{root, false}}
	inflight, read := 0, 0
	for len(todo) > 0 || inflight > 0 {
		for len(todo) > 0 && inflight < window {
			r := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			inflight++
			if r.kids {
				c.ChildrenAsync(ctx, r.path, func(list []string, _ *keeper.Stat, err error) {
					replies <- reply{path: r.path, kids: true, list: list, err: err}
				})
			} else {
				c.GetAsync(ctx, r.path, func(data []byte, st *keeper.Stat, err error) {
					replies <- reply{path: r.path, data: data, st: st, err: err}
				})
			}
		}
		rp := <-replies
		inflight--
		if rp.err != nil {
			for inflight > 0 {
				<-replies
				inflight--
			}
			return read, rp.err
		}
		if rp.kids {
			tree[rp.path].kids = rp.list
			for _, name := range rp.list {
				todo = append(todo, req{keeper.JoinPath(rp.path, name), false})
			}
			continue
		}
		tree[rp.path] = &node{data: rp.data, st: rp.st}
		read++
		if rp.st.NumChildren > 0 {
			todo = append(todo, req{rp.path, true})
		}
	}
	return read, nil
}
