package partition_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/partition"
)

func ExampleSetPartitioner() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/work")

	p := partition.New(c, "/work", []string{"queue-2", "queue-1", "queue-3"},
		partition.WithIdentifier("worker-1"), partition.WithTimeBoundary(200*time.Millisecond))
	if err := p.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer p.Finish(ctx)
	for st := range p.Changes() {
		switch st {
		case partition.Acquired:
			fmt.Println("mine:", p.Partitions()) // the only member gets every item
			return
		case partition.Release:
			if err := p.ReleaseSet(ctx); err != nil {
				log.Fatal(err)
			}
		case partition.Failure:
			log.Fatal(p.Err())
		}
	}
	// Output: mine: [queue-1 queue-2 queue-3]
}
