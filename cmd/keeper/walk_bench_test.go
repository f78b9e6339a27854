package main

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// BenchmarkWalk compares ways of walking a tree as the commands do, on the
// same server in one run: BenchmarkWalk/<size>/<what>/<way>, each way
// walkReps times, taking turns. what is data (grep, dump, cp) or stat
// (ls -R, tree, du, find). The ways: seq reads one node after the other,
// as walk did before it read ahead; multi is walk (multi-reads); async is
// walk reading its batches with asynchronous calls, as on a server
// without multi-reads. Besides ns/op it reports the client's CPU time
// (this whole process) per walk in cpu-ms/op.
//
//	go test -run '^$' -bench Walk -benchtime 1x .
//
// One run on ZooKeeper 3.9.5, 2 cores shared with other work (load 2 to
// 8), wall time median (min–max) of 5, and the ratios of the medians to
// multi's:
//
//	10k   data  seq    1.04 s (0.86–1.20)  27.2×, client CPU 13.0×
//	10k   data  multi  39 ms (31–50)
//	10k   data  async  447 ms (355–561)    11.6×, client CPU 5.19×
//	10k   stat  seq    677 ms (488–900)    19.3×, client CPU 10.4×
//	10k   stat  multi  35 ms (23–185)
//	10k   stat  async  234 ms (210–606)    6.68×, client CPU 2.82×
//	100k  data  multi  559 ms (361–905)
//	100k  data  async  5.90 s (4.49–6.56)  10.5×, client CPU 6.23×
//	100k  stat  multi  359 ms (307–951)
//	100k  stat  async  2.50 s (1.89–2.64)  6.97×, client CPU 2.46×
func BenchmarkWalk(b *testing.B) {
	for _, t := range []struct {
		name string
		fan  []int
		seq  bool
	}{
		{"10k", []int{10, 10, 100}, true},    // 10 111 nodes
		{"100k", []int{10, 100, 100}, false}, // 101 011 nodes; seq takes minutes
	} {
		b.Run(t.name, func(b *testing.B) {
			root, nodes := buildWalkTree(b, t.fan)
			for _, what := range []string{"data", "stat"} {
				o := walkOpts{data: what == "data", maxDepth: -1}
				b.Run(what, func(b *testing.B) {
					for range walkReps {
						if t.seq {
							b.Run("seq", func(b *testing.B) { benchWalk(b, root, nodes, o, seqWalk) })
						}
						b.Run("multi", func(b *testing.B) { benchWalk(b, root, nodes, o, walkOf) })
						ao := o
						ao.async = true
						b.Run("async", func(b *testing.B) { benchWalk(b, root, nodes, ao, walkOf) })
					}
				})
			}
		})
	}
}

const walkReps = 5

func walkOf(ctx context.Context, a *app, c *keeper.Client, root string, o walkOpts, fn func(n *node) error) error {
	return a.walk(ctx, c, root, o, fn)
}

func benchWalk(b *testing.B, root string, nodes int, o walkOpts,
	walk func(context.Context, *app, *keeper.Client, string, walkOpts, func(*node) error) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	a := newApp(nil, io.Discard, io.Discard)
	var cpu time.Duration
	walks := 0
	for b.Loop() {
		n := 0
		cpu0 := testutil.CPUTime()
		err := walk(ctx, a, c, root, o, func(*node) error { n++; return nil })
		cpu += testutil.CPUTime() - cpu0
		walks++
		if err != nil {
			b.Fatal(err)
		}
		if n != nodes {
			b.Fatalf("%d nodes met, want %d", n, nodes)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(walks), "cpu-ms/op")
}

// buildWalkTree makes a tree below a new root, fan[i] children a node at
// level i, 100 bytes each, and returns the root and the number of nodes.
func buildWalkTree(b *testing.B, fan []int) (string, int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	root := fmt.Sprintf("/walkbench-%d", time.Now().UnixNano())
	data := make([]byte, 100)
	if _, err := c.Create(ctx, root, data); err != nil {
		b.Fatal(err)
	}
	n, err := testutil.BuildTree(ctx, c, root, fan, data)
	if err != nil {
		b.Fatal(err)
	}
	return root, n + 1
}
