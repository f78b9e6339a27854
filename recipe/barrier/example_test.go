package barrier_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/barrier"
)

func ExampleBarrier() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/jobs")

	gate := barrier.New(c, "/jobs/42/gate")
	if err := gate.Create(ctx); err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- gate.Wait(ctx) }() // blocks while the gate is up
	up, err := gate.Remove(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("was up:", up, "released:", <-done == nil)
	// Output: was up: true released: true
}

func ExampleDoubleBarrier() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/jobs")

	const workers = 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	var notes []string
	note := func(s string) { mu.Lock(); notes = append(notes, s); mu.Unlock() }
	for i := range workers {
		d := barrier.NewDouble(c, "/jobs/42/workers", fmt.Sprintf("worker-%d", i), workers)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Enter(ctx); err != nil { // returns once all three entered
				note(err.Error())
				return
			}
			note("work")
			if err := d.Leave(ctx); err != nil { // returns once all three left
				note(err.Error())
			}
		}()
	}
	wg.Wait()
	fmt.Println(notes)
	// Output: [work work work]
}
