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

// consumeAll runs consume until n items came, printing them.
func consumeAll(ctx context.Context, n int, consume func(context.Context, queue.ConsumeFunc) error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_ = consume(ctx, func(_ context.Context, item []byte) error {
		fmt.Println(string(item))
		if n--; n == 0 {
			cancel()
		}
		return nil
	})
}

func ExampleSimpleDistributedQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/inbox")

	q := queue.NewSimple(c, "/inbox")
	defer q.Close(ctx)
	for _, m := range []string{"hello", "world"} {
		if err := q.Offer(ctx, []byte(m)); err != nil {
			log.Fatal(err)
		}
	}
	head, _ := q.Element(ctx)
	fmt.Println("head:", string(head))
	for range 2 {
		data, err := q.Take(ctx) // waits for an item, bounded by ctx
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(data))
	}
	if _, ok, _ := q.Poll(ctx); !ok {
		fmt.Println("empty")
	}
	// Output:
	// head: hello
	// hello
	// world
	// empty
}

func ExampleDistributedQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/jobs-lock")
	defer c.DeleteAll(context.WithoutCancel(ctx), "/jobs")

	// Lock safety with Curator consumers that use lockPath "/jobs-lock".
	q := queue.NewDistributed(c, "/jobs", queue.WithLockPath("/jobs-lock"))
	defer q.Close(ctx)
	if err := q.Put(ctx, []byte("job-1")); err != nil {
		log.Fatal(err)
	}
	if err := q.PutMulti(ctx, [][]byte{[]byte("job-2"), []byte("job-3")}); err != nil { // one message
		log.Fatal(err)
	}
	consumeAll(ctx, 3, q.Consume)
	// Output:
	// job-1
	// job-2
	// job-3
}

func ExampleDistributedPriorityQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/tasks")

	q := queue.NewPriority(c, "/tasks")
	defer q.Close(ctx)
	for _, t := range []struct {
		name string
		prio int32
	}{{"later", 10}, {"urgent", -5}, {"normal", 0}} {
		if err := q.Put(ctx, []byte(t.name), t.prio); err != nil {
			log.Fatal(err)
		}
	}
	consumeAll(ctx, 3, q.Consume) // lower priorities first
	// Output:
	// urgent
	// normal
	// later
}

func ExampleDistributedDelayQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/reminders")

	q := queue.NewDelay(c, "/reminders")
	defer q.Close(ctx)
	now := time.Now()
	if err := q.Put(ctx, []byte("in a second"), now.Add(time.Second)); err != nil {
		log.Fatal(err)
	}
	if err := q.Put(ctx, []byte("now"), now); err != nil {
		log.Fatal(err)
	}
	consumeAll(ctx, 2, q.Consume) // each once due, by this consumer's clock
	// Output:
	// now
	// in a second
}

func ExampleDistributedIDQueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/orders")

	q := queue.NewID(c, "/orders")
	defer q.Close(ctx)
	for _, o := range [][2]string{{"order 1", "cust/7"}, {"order 2", "cust/8"}, {"order 3", "cust/7"}} {
		if err := q.Put(ctx, []byte(o[0]), o[1]); err != nil {
			log.Fatal(err)
		}
	}
	n, err := q.Remove(ctx, "cust/7")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed", n)
	consumeAll(ctx, 1, q.Consume)
	// Output:
	// removed 2
	// order 2
}
