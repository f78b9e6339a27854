package lock_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/lock"
)

func ExampleLock() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/lock")

	l := lock.New(c, "/example/lock", "worker-1")
	if err := l.Acquire(ctx); err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := l.Contenders(ctx)
	fmt.Println("holding:", l.IsAcquired(), ids)
	select {
	case <-l.Lost():
		fmt.Println("lost: stop working now")
	default:
		fmt.Println("still held: do the work")
	}
	if err := l.Release(ctx); err != nil {
		fmt.Println(err)
	}
	fmt.Println("holding:", l.IsAcquired())
	// Output:
	// holding: true [worker-1]
	// still held: do the work
	// holding: false
}

func ExampleSemaphore() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/sem")
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/sem-__lock__")

	a := lock.NewSemaphore(c, "/example/sem", "a", 2)
	b := lock.NewSemaphore(c, "/example/sem", "b", 2)
	d := lock.NewSemaphore(c, "/example/sem", "c", 2)
	for _, s := range []*lock.Semaphore{a, b, d} {
		ok, err := s.TryAcquire(ctx)
		fmt.Println(ok, err)
	}
	for _, s := range []*lock.Semaphore{a, b} {
		if err := s.Release(ctx); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// true <nil>
	// true <nil>
	// false <nil>
}
