package keeper_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
)

type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Write(b []byte) (int, error) { c.n.Add(1); return c.Conn.Write(b) }

// BenchmarkWrites measures how many requests share one write, and the
// process CPU per Get, with 32 goroutines on one client.
func BenchmarkWrites(b *testing.B) {
	var writes atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countConn{nc, &writes}, nil
	}
	c, err := keeper.Connect(context.Background(), srv.Servers(), keeper.WithDialer(dial), keeper.WithServerVersion("3.8.0"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.Create(ctx, "/bw", make([]byte, 100))
	defer c.Delete(ctx, "/bw", -1)
	b.SetParallelism(32)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(0, &ru0)
	w0 := writes.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Get(ctx, "/bw")
		}
	})
	b.StopTimer()
	syscall.Getrusage(0, &ru1)
	cpu := (ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N)/float64(writes.Load()-w0), "ops/write")
	b.ReportMetric(float64(cpu)/float64(b.N)/1000, "cpuus/op")
	b.ReportMetric(float64(ru1.Nvcsw-ru0.Nvcsw)/float64(b.N), "blocks/op")
}

// BenchmarkCreateParallel measures the process CPU per persistent-
// sequential Create with 64 goroutines on one client, and how many
// requests share one write.
func BenchmarkCreateParallel(b *testing.B) {
	var writes atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countConn{nc, &writes}, nil
	}
	c, err := keeper.Connect(context.Background(), srv.Servers(), keeper.WithDialer(dial), keeper.WithServerVersion("3.8.0"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	parent := "/bcp-" + strconv.Itoa(time.Now().Nanosecond())
	if _, err := c.Create(ctx, parent, nil); err != nil {
		b.Fatal(err)
	}
	defer c.DeleteAll(ctx, parent)
	data := make([]byte, 100)
	b.SetParallelism(32) // 64 goroutines on 2 cores
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(0, &ru0)
	w0 := writes.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Create(ctx, parent+"/n-", data, keeper.Sequential()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	syscall.Getrusage(0, &ru1)
	cpu := (ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N)/float64(writes.Load()-w0), "ops/write")
	b.ReportMetric(float64(cpu)/float64(b.N)/1000, "cpuus/op")
	b.ReportMetric(float64(ru1.Nvcsw-ru0.Nvcsw)/float64(b.N), "blocks/op")
}
