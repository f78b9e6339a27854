package cache_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
	"github.com/keeper-go/keeper/zktest"
)

// exampleClient connects to the test server on a fresh chroot.
func exampleClient(name string) *keeper.Client {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := "/" + zktest.ChrootName(name)
	admin, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Create(ctx, root, nil); err != nil {
		log.Fatal(err)
	}
	c, err := keeper.Connect(ctx, srv.Servers()+root)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func ExampleTreeCache() {
	c := exampleClient("ExampleTreeCache")
	defer c.Close()
	ctx := context.Background()
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
