package party_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/party"
)

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/services")

	web1 := party.New(c, "/services/web", "web-1:8080")
	web2 := party.New(c, "/services/web", "web-2:8080")
	for _, p := range []*party.Party{web1, web2} {
		if err := p.Join(ctx); err != nil {
			log.Fatal(err)
		}
	}
	members, err := web1.Members(ctx)
	if err != nil {
		log.Fatal(err)
	}
	n, _ := web1.Len(ctx)
	fmt.Println(n, "members:", len(members))

	if err := web2.Leave(ctx); err != nil {
		log.Fatal(err)
	}
	members, _ = web1.Members(ctx)
	fmt.Println(members)
	_ = web1.Leave(ctx)
	// Output:
	// 2 members: 2
	// [web-1:8080]
}
