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
