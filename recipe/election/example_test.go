package election_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/election"
)

func ExampleElection() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/app")

	e := election.New(c, "/app/leader", "host-1")
	err = e.Run(ctx, func(ctx context.Context) error {
		// Lead here until done, or until ctx is cancelled (leadership
		// lost, Cancel called, or Run's ctx ended).
		ids, err := e.Contenders(ctx)
		fmt.Println("leading; contenders:", ids, err)
		return nil
	})
	fmt.Println("Run:", err)
	// Output:
	// leading; contenders: [host-1] <nil>
	// Run: <nil>
}

func ExampleLeaderLatch() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/app")

	first := election.NewLeaderLatch(c, "/app/latch", "host-1")
	second := election.NewLeaderLatch(c, "/app/latch", "host-2")
	for _, l := range []*election.LeaderLatch{first, second} {
		if err := l.Start(ctx); err != nil {
			log.Fatal(err)
		}
	}
	if err := first.Await(ctx); err != nil {
		log.Fatal(err)
	}
	lost := first.Lost() // closed when this term of leadership ends
	fmt.Println("first leads:", first.HasLeadership(), "second leads:", second.HasLeadership())

	// Closing the leader hands leadership on.
	if err := first.Close(); err != nil {
		log.Fatal(err)
	}
	<-lost
	if err := second.Await(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("second leads:", second.HasLeadership())
	_ = second.Close()
	// Output:
	// first leads: true second leads: false
	// second leads: true
}

func ExampleLeaderSelector() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/app")
	if _, err := c.Create(ctx, "/app/config", []byte("v0"), keeper.MakeParents()); err != nil {
		log.Fatal(err)
	}

	done := make(chan struct{})
	var s *election.LeaderSelector
	s = election.NewLeaderSelector(c, "/app/selector", "host-1", func(ctx context.Context) {
		// Lead until returning, or until ctx is cancelled (leadership
		// lost, InterruptLeadership, Close). Writes guarded by the term
		// are refused by the server once leadership is lost.
		_, err := s.Guard(c.Txn()).Set("/app/config", []byte("v1"), keeper.AnyVersion).Commit(ctx)
		ps, _ := s.Participants(ctx)
		fmt.Println("leading; guarded write:", err, "participants:", ps)
		close(done)
	})
	if err := s.Start(); err != nil {
		log.Fatal(err)
	}
	<-done
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("terms:", s.Terms())
	// Output:
	// leading; guarded write: <nil> participants: [{host-1 true}]
	// terms: 1
}
