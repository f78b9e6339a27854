package queue_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/queue"
)

func ExampleQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/mail")

	q := queue.New(c, "/mail")
	defer q.Close(ctx)
	for _, m := range []string{"hello", "world"} {
		if err := q.Put(ctx, []byte(m), queue.DefaultPriority); err != nil {
			log.Fatal(err)
		}
	}
	if err := q.Put(ctx, []byte("urgent"), 1); err != nil { // lower first
		log.Fatal(err)
	}
	for {
		data, ok, err := q.Get(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if !ok {
			break
		}
		fmt.Println(string(data))
	}
	// Output:
	// urgent
	// hello
	// world
}

func ExampleLockingQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/jobs")

	jobs := queue.NewLocking(c, "/jobs")
	defer jobs.Close(ctx)
	if err := jobs.PutAll(ctx, [][]byte{[]byte("resize"), []byte("upload")}, queue.DefaultPriority); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		data, err := jobs.Get(ctx) // waits for a free item, bounded by ctx
		if err != nil {
			log.Fatal(err)
		}
		select {
		case <-jobs.Lost():
			continue // our session ended: someone else will do it
		default:
		}
		fmt.Println("done:", string(data))
		if _, err := jobs.Consume(ctx); err != nil {
			log.Fatal(err)
		}
	}
	n, _ := jobs.Len(ctx)
	fmt.Println("left:", n)
	// Output:
	// done: resize
	// done: upload
	// left: 0
}
