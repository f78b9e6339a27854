package keeper_test

import (
	"context"
	"testing"

	"github.com/keeper-go/keeper"
)

// BenchmarkGet measures one sequential Get of a 100-byte node: latency and
// the client's heap allocations per call.
func BenchmarkGet(b *testing.B) {
	c := srv.Client(b)
	ctx := context.Background()
	if _, err := c.Create(ctx, "/n", make([]byte, 100)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Get(ctx, "/n"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetParallel measures pipelined Gets from many goroutines on one
// client.
func BenchmarkGetParallel(b *testing.B) {
	c := srv.Client(b)
	ctx := context.Background()
	if _, err := c.Create(ctx, "/n", make([]byte, 100)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := c.Get(ctx, "/n"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCreate measures sequential persistent-sequential creates.
func BenchmarkCreate(b *testing.B) {
	c := srv.Client(b)
	ctx := context.Background()
	data := make([]byte, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Create(ctx, "/s-", data, keeper.Sequential()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeleteAll times DeleteAll of a tree of 1 609 nodes (8 × 8 × 24
// leaves), beside the same tree deleted one request at a time (list a
// node's children, delete them depth-first, then the node), as DeleteAll
// did before it kept several requests in flight.
func BenchmarkDeleteAll(b *testing.B) {
	c := srv.Client(b)
	ctx := context.Background()
	var sequential func(p string) error
	sequential = func(p string) error {
		kids, err := c.Children(ctx, p)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := sequential(keeper.JoinPath(p, k)); err != nil {
				return err
			}
		}
		return c.Delete(ctx, p, keeper.AnyVersion)
	}
	for _, bc := range []struct {
		name string
		del  func(p string) error
	}{
		{"DeleteAll", func(p string) error { return c.DeleteAll(ctx, p) }},
		{"one-at-a-time", sequential},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				buildTree(b, c, "/t", 8, 24)
				b.StartTimer()
				if err := bc.del("/t"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
