package watch_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/watch"
)

func ExampleNewDataWatch() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/config")

	seen := make(chan string, 10)
	w, err := watch.NewDataWatch(c, "/config", func(data []byte, st *keeper.Stat, ev *keeper.Event) bool {
		if st == nil {
			seen <- "no config"
			return true
		}
		seen <- "config: " + string(data)
		return string(data) != "final" // stop watching after "final"
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-seen)
	if _, err := c.Create(ctx, "/config", []byte("v1")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-seen)
	if _, err := c.Set(ctx, "/config", []byte("final"), keeper.AnyVersion); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-seen)
	<-w.Done()
	// Output:
	// no config
	// config: v1
	// config: final
}

func ExampleNewChildrenWatch() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/workers")
	if _, err := c.Create(ctx, "/workers", nil); err != nil {
		log.Fatal(err)
	}

	seen := make(chan string, 10)
	w, err := watch.NewChildrenWatch(c, "/workers", func(children []string, ev *keeper.Event) bool {
		if ev == nil {
			seen <- fmt.Sprintf("workers %v", children)
		} else {
			seen <- fmt.Sprintf("workers %v after %v", children, ev.Type)
		}
		return true
	}, watch.SendEvent())
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	fmt.Println(<-seen)
	if _, err := c.Create(ctx, "/workers/w1", nil, keeper.Ephemeral()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-seen)
	// Output:
	// workers []
	// workers [w1] after NodeChildrenChanged
}
