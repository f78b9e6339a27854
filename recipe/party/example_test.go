package party_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/party"
	"github.com/keeper-go/keeper/zktest"
)

// exampleClient connects to the test server on a fresh chroot; cleanup
// closes the client and deletes the chroot.
func exampleClient(ctx context.Context, name string) (*keeper.Client, func()) {
	admin, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		log.Fatal(err)
	}
	root := "/" + zktest.ChrootName(name)
	if _, err := admin.Create(ctx, root, nil); err != nil {
		log.Fatal(err)
	}
	c, err := keeper.Connect(ctx, srv.Servers()+root)
	if err != nil {
		log.Fatal(err)
	}
	return c, func() {
		c.Close()
		_ = admin.DeleteAll(context.Background(), root)
		admin.Close()
	}
}

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, cleanup := exampleClient(ctx, "ExampleParty")
	defer cleanup()

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
