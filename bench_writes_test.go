package keeper_test

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/sock"
)

// countingClient connects a client; its socket writes are counted by
// internal/sock.
func countingClient(b *testing.B) (*keeper.Client, func() int64) {
	c, err := keeper.Connect(context.Background(), srv.Servers(), keeper.WithServerVersion("3.8.0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c, func() int64 { _, w := sock.Calls(); return w }
}

// runCounted runs op from 64 goroutines (32 a core on 2 cores) and reports
// requests per write, the process CPU per op and the voluntary context
// switches per op.
func runCounted(b *testing.B, writes func() int64, op func() error) {
	b.SetParallelism(32)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(0, &ru0)
	w0 := writes()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(0, &ru1)
	cpu := (ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N)/float64(writes()-w0), "ops/write")
	b.ReportMetric(float64(cpu)/float64(b.N)/1000, "cpuus/op")
	b.ReportMetric(float64(ru1.Nvcsw-ru0.Nvcsw)/float64(b.N), "blocks/op")
}

// BenchmarkWrites measures how many requests share one write, and the
// process CPU per Get, with many goroutines on one client.
func BenchmarkWrites(b *testing.B) {
	c, writes := countingClient(b)
	ctx := context.Background()
	if _, err := c.Create(ctx, "/bw", make([]byte, 100)); err != nil && !errors.Is(err, keeper.ErrNodeExists) {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Delete(ctx, "/bw", -1) })
	runCounted(b, writes, func() error {
		_, _, err := c.Get(ctx, "/bw")
		return err
	})
}

// BenchmarkCreateParallel measures the same for persistent-sequential
// creates.
func BenchmarkCreateParallel(b *testing.B) {
	c, writes := countingClient(b)
	ctx := context.Background()
	parent := "/bcp-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := c.Create(ctx, parent, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.DeleteAll(ctx, parent) })
	data := make([]byte, 100)
	runCounted(b, writes, func() error {
		_, err := c.Create(ctx, parent+"/n-", data, keeper.Sequential())
		return err
	})
}
