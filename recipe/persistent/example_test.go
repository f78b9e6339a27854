package persistent_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/persistent"
)

func ExampleNode() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/workers")

	// An ephemeral, sequential, protected node: present for as long as
	// the Node runs, across reconnects and new sessions.
	n, err := persistent.NewNode(c, "/workers/worker-", []byte("host-1"),
		persistent.Ephemeral(), persistent.Sequential(), persistent.Protected())
	if err != nil {
		log.Fatal(err)
	}
	if err := n.WaitForInitialCreate(ctx); err != nil {
		log.Fatal(err)
	}
	ev := <-n.Events()
	fmt.Println(ev.Type, ev.Path == n.ActualPath())

	// Deleted by someone else: created again under the same name.
	if err := c.Delete(ctx, n.ActualPath(), -1); err != nil {
		log.Fatal(err)
	}
	ev = <-n.Events()
	fmt.Println(ev.Type, ev.Path == n.ActualPath())

	if err := n.Close(ctx); err != nil {
		log.Fatal(err)
	}
	kids, _ := c.Children(ctx, "/workers")
	fmt.Println(len(kids), "nodes left")
	// Output:
	// Created true
	// Created true
	// 0 nodes left
}

func ExampleTTLNode() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/jobs")

	// A TTL node that outlives this process by at most about a minute.
	n, err := persistent.NewTTLNode(c, "/jobs/job-1", time.Minute, []byte("running"))
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close(ctx)
	if err := n.WaitForInitialCreate(ctx); err != nil {
		log.Fatal(err)
	}
	data, _, err := c.Get(ctx, "/jobs/job-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", data)
	// Output: running
}

func ExampleGroupMember() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/members")

	g, err := persistent.NewGroupMember(ctx, c, "/members", "node-1", []byte("10.0.0.1:8080"))
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close(ctx)
	if err := g.WaitForInitialCreate(ctx); err != nil {
		log.Fatal(err)
	}
	for m, payload := range g.CurrentMembers() {
		fmt.Printf("%s %s\n", m, payload)
	}
	// Output: node-1 10.0.0.1:8080
}
