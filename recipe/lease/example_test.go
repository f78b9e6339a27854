package lease_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/lease"
)

func ExampleNonBlockingLease() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/cleanup")

	// Run the hourly cleanup on one host only.
	ok, err := lease.NonBlockingLease(ctx, c, "/example/cleanup", 70*time.Minute, "host-a")
	fmt.Println("host-a:", ok, err)
	ok, err = lease.NonBlockingLease(ctx, c, "/example/cleanup", 70*time.Minute, "host-b")
	fmt.Println("host-b:", ok, err)
	h, _ := lease.Read(ctx, c, "/example/cleanup")
	fmt.Println("holder:", h.Holder)
	// Output:
	// host-a: true <nil>
	// host-b: false <nil>
	// holder: host-a
}

func ExampleObtain() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/report")

	g, err := lease.Obtain(ctx, c, "/example/report/lease", time.Hour, "host-a")
	if err != nil || g == nil {
		fmt.Println("not obtained:", err)
		return
	}
	// The write is refused by the server once another host has taken the
	// lease over.
	_, err = g.Guard(c.Txn()).Create("/example/report/out", []byte("done")).Commit(ctx)
	fmt.Println("holder:", g.Holder.Holder, "guarded write:", err)
	// Output:
	// holder: host-a guarded write: <nil>
}
