package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
)

// BenchmarkAtMostOnceDrain times one at-most-once consumer of a
// DistributedQueue taking a backlog of 2 000 messages, with the round's
// messages read ahead by MultiGet (ahead) and one at a time (each), the
// two taking turns 7 times in one run. It reports µs and client
// CPU µs (this whole process) per message.
//
//	go test -run '^$' -bench AtMostOnceDrain -benchtime 1x ./recipe/queue/
//
// One run on ZooKeeper 3.9.5, 2 shared cores (load 2), median (min–max)
// of 7: ahead 69.0 µs (59.4–72.3) and 17.4 CPU µs (16.1–19.6) a message,
// each 104.6 µs (101.0–108.5) and 27.7 CPU µs (27.2–28.6).
func BenchmarkAtMostOnceDrain(b *testing.B) {
	const items = 2000
	for range 7 {
		for _, way := range []string{"ahead", "each"} {
			b.Run(way, func(b *testing.B) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				c := srv.Client(b)
				q := NewDistributed(c, "/q", WithAtMostOnce())
				q.q.oneByOne.Store(way == "each")
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Go(func() {
						for i := g; i < items; i += 8 {
							if err := q.Put(ctx, []byte(fmt.Sprintf("message %d", i))); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				for b.Loop() {
					cctx, stop := context.WithCancel(ctx)
					n := 0
					cpu0, t0 := testutil.CPUTime(), time.Now()
					err := q.Consume(cctx, func(context.Context, []byte) error {
						if n++; n == items {
							stop()
						}
						return nil
					})
					took, cpu := time.Since(t0), testutil.CPUTime()-cpu0
					stop()
					if !errors.Is(err, context.Canceled) {
						b.Fatal(err)
					}
					b.ReportMetric(float64(took.Microseconds())/items, "µs/msg")
					b.ReportMetric(float64(cpu.Microseconds())/items, "cpu-µs/msg")
				}
				if err := q.Close(ctx); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkQueueDrain times Queue consumers taking a backlog of 2 000
// items with Get, one consumer or four (each with its own client),
// reading ahead (ahead) or one item at a time (each), taking turns 7
// times in one run. It reports µs and client CPU µs (this whole process)
// per item.
//
//	go test -run '^$' -bench QueueDrain -benchtime 1x ./recipe/queue/
//
// One run on ZooKeeper 3.9.5, 2 shared cores (load 2), median (min–max)
// of 7, µs and CPU µs an item:
//
//	1 consumer   ahead  74.2 (68.6–118)   CPU 18.7 (18.2–20.6)
//	1 consumer   each   112 (107–118)     CPU 30.1 (29.8–31.0)
//	4 consumers  ahead  454 (361–466)     CPU 219 (179–229)
//	4 consumers  each   706 (611–773)     CPU 330 (285–369)
func BenchmarkQueueDrain(b *testing.B) {
	const items = 2000
	for _, consumers := range []int{1, 4} {
		b.Run(fmt.Sprint(consumers), func(b *testing.B) {
			for range 7 {
				for _, way := range []string{"ahead", "each"} {
					b.Run(way, func(b *testing.B) { benchQueueDrain(b, items, consumers, way == "each") })
				}
			}
		})
	}
}

func benchQueueDrain(b *testing.B, items, consumers int, each bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := srv.Client(b)
	for i := 0; i < items; i += 100 {
		batch := make([][]byte, 100)
		for j := range batch {
			batch[j] = []byte(fmt.Sprintf("item %d", i+j))
		}
		if err := New(c, "/q").PutAll(ctx, batch, DefaultPriority); err != nil {
			b.Fatal(err)
		}
	}
	qs := make([]*Queue, consumers)
	for i := range qs {
		cl := c
		if i > 0 {
			cl = testutil.Connect(b, srv, c)
		}
		qs[i] = New(cl, "/q")
		qs[i].oneByOne = each
	}
	for b.Loop() {
		var taken atomic.Int64
		var wg sync.WaitGroup
		cpu0, t0 := testutil.CPUTime(), time.Now()
		for _, q := range qs {
			wg.Go(func() {
				for {
					_, ok, err := q.Get(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					if !ok {
						return
					}
					taken.Add(1)
				}
			})
		}
		wg.Wait()
		took, cpu := time.Since(t0), testutil.CPUTime()-cpu0
		if n := taken.Load(); n != int64(items) {
			b.Fatalf("%d items taken, want %d", n, items)
		}
		b.ReportMetric(float64(took.Microseconds())/float64(items), "µs/item")
		b.ReportMetric(float64(cpu.Microseconds())/float64(items), "cpu-µs/item")
	}
	for _, q := range qs {
		if err := q.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
