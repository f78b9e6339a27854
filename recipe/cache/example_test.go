package cache_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/cache"
)

func ExampleTreeCache() {
	ctx := context.Background()
	c, cleanup := testutil.ExampleClient(ctx, srv, "ExampleTreeCache")
	defer cleanup()
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
