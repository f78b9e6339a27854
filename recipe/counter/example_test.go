package counter_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/counter"
)

func ExampleCounter() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/stats")

	hits := counter.New[int64](c, "/stats/hits", 0)
	defer hits.Close(ctx)
	for range 3 {
		if _, err := hits.Add(ctx, 1); err != nil {
			log.Fatal(err)
		}
	}
	pre, post, _ := hits.Last()
	fmt.Println("hits:", post, "before the last one:", pre)

	load := counter.New[float64](c, "/stats/load", 0)
	defer load.Close(ctx)
	v, err := load.Add(ctx, 0.75)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("load:", v)
	// Output:
	// hits: 3 before the last one: 2
	// load: 0.75
}

func ExampleSharedCount() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/config")

	workers := counter.NewSharedCount(c, "/config/workers", 4) // 4 unless set
	if err := workers.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer workers.Close(ctx)
	fmt.Println("workers:", workers.Count())

	ok, err := workers.TrySetCount(ctx, 8, workers.Version())
	if err != nil {
		log.Fatal(err)
	}
	ch := <-workers.Changes()
	fmt.Println("set:", ok, "now:", ch.Count)
	// Output:
	// workers: 4
	// set: true now: 8
}

func ExampleAtomicLong() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/ids")

	ids := counter.NewAtomicLong(c, "/ids/next", counter.WithPromotedLock("/ids/lock", 10*time.Second))
	defer ids.Close(ctx)
	if _, err := ids.Initialize(ctx, 1000); err != nil {
		log.Fatal(err)
	}
	r, err := ids.Increment(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if r.Succeeded {
		fmt.Println("id:", r.PostValue)
	}
	cas, err := ids.CompareAndSet(ctx, 1001, 5000)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("compare and set:", cas.Succeeded, cas.PreValue, "->", cas.PostValue)
	// Output:
	// id: 1001
	// compare and set: true 1001 -> 5000
}
