package cache_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
)

func ExampleTreeCache() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/services")
	for _, p := range []string{"/services", "/services/api", "/services/db"} {
		if _, err := c.Create(ctx, p, []byte("up")); err != nil {
			log.Fatal(err)
		}
	}

	tc, err := cache.NewTreeCache(c, "/services")
	if err != nil {
		log.Fatal(err)
	}
	if err := tc.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer tc.Close()
	for ev := range tc.Events() {
		if ev.Type == cache.Initialized {
			break
		}
	}
	kids, _ := tc.Children("/services")
	fmt.Println("services:", kids)

	if _, err := c.Set(ctx, "/services/db", []byte("down"), keeper.AnyVersion); err != nil {
		log.Fatal(err)
	}
	ev := <-tc.Events()
	fmt.Printf("%v %s %s\n", ev.Type, ev.Path, ev.Data)
	data, _, _ := tc.Get("/services/db")
	fmt.Printf("cached: %s\n", data)
	// Output:
	// services: [api db]
	// NodeUpdated /services/db down
	// cached: down
}

func ExampleNewNodeCache() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/config")

	// The node need not exist yet.
	nc, err := cache.NewNodeCache(c, "/config")
	if err != nil {
		log.Fatal(err)
	}
	if err := nc.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	<-nc.Ready()
	_, _, ok := nc.Get("/config")
	fmt.Println("cached:", ok)
	if _, err := c.Create(ctx, "/config", []byte("v1")); err != nil {
		log.Fatal(err)
	}
	for ev := range nc.Events() {
		if ev.Type == cache.NodeAdded {
			fmt.Printf("%v %s %s\n", ev.Type, ev.Path, ev.Data)
			break
		}
	}
	// Output:
	// cached: false
	// NodeAdded /config v1
}

func ExampleNewPathChildrenCache() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/workers")
	for _, p := range []string{"/workers", "/workers/w1", "/workers/w1/tasks"} {
		if _, err := c.Create(ctx, p, nil); err != nil {
			log.Fatal(err)
		}
	}
	pc, err := cache.NewPathChildrenCache(c, "/workers")
	if err != nil {
		log.Fatal(err)
	}
	if err := pc.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	<-pc.Ready()
	kids, _ := pc.Children("/workers")
	_, _, deep := pc.Get("/workers/w1/tasks")
	fmt.Println("workers:", kids, "grandchild cached:", deep)
	// Output:
	// workers: [w1] grandchild cached: false
}

func ExampleWithFilter() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/app")
	for _, p := range []string{"/app", "/app/config", "/app/tmp", "/app/tmp/scratch"} {
		if _, err := c.Create(ctx, p, nil); err != nil {
			log.Fatal(err)
		}
	}
	tc, err := cache.NewTreeCache(c, "/app",
		cache.WithFilter(func(p string) bool { return p != "/app/tmp" }),
		cache.WithMaxDepth(3))
	if err != nil {
		log.Fatal(err)
	}
	if err := tc.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer tc.Close()
	<-tc.Ready()
	kids, _ := tc.Children("/app")
	fmt.Println("cached under /app:", kids)
	// Output:
	// cached under /app: [config]
}
