package keeper_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
)

// The examples read the connect string from ZK_SERVERS, as the keeper
// command does: "zk1:2181,zk2:2181,zk3:2181/myapp", say.
func ExampleConnect() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A connect string lists the servers and, optionally, a chroot.
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"), keeper.WithSessionTimeout(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.State(), c.SessionTimeout())
	// Output: Connected 10s
}

func ExampleClient_Create() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(ctx, "/example-crud")

	if _, err := c.Create(ctx, "/example-crud/config", []byte("v1"), keeper.MakeParents()); err != nil {
		log.Fatal(err)
	}
	data, stat, err := c.Get(ctx, "/example-crud/config")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s version %d\n", data, stat.Version)

	// A conditional update: fails if someone changed the node meanwhile.
	if _, err := c.Set(ctx, "/example-crud/config", []byte("v2"), stat.Version); err != nil {
		log.Fatal(err)
	}
	_, err = c.Set(ctx, "/example-crud/config", []byte("v3"), stat.Version)
	fmt.Println(err)

	job, err := c.Create(ctx, "/example-crud/job-", nil, keeper.Sequential(), keeper.Ephemeral())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job)
	if err := c.Delete(ctx, job, keeper.AnyVersion); err != nil {
		log.Fatal(err)
	}
	_, _, err = c.Get(ctx, job)
	fmt.Println(errors.Is(err, keeper.ErrNoNode))
	// Output:
	// v1 version 0
	// keeper: set /example-crud/config: bad version
	// /example-crud/job-0000000001
	// true
}

func ExampleClient_Listen() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.New(os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	c.Listen(func(ev keeper.StateEvent) {
		// Runs on its own goroutine, in order; Closed is the last event.
		fmt.Println(ev.State)
		if ev.State == keeper.Closed {
			close(done)
		}
	})
	if err := c.WaitConnected(ctx); err != nil {
		log.Fatal(err)
	}
	c.Close()
	<-done
	// Output:
	// Connected
	// Closed
}

func ExampleClient_GetW() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create(ctx, "/example-watch", []byte("a"), keeper.Ephemeral()); err != nil {
		log.Fatal(err)
	}
	_, _, changed, err := c.GetW(ctx, "/example-watch")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Set(ctx, "/example-watch", []byte("b"), keeper.AnyVersion); err != nil {
		log.Fatal(err)
	}
	ev := <-changed // exactly one event, then the channel is closed
	fmt.Println(ev.Type, ev.Path)
	// Output: NodeDataChanged /example-watch
}

// A client that may use read-only servers: when its ensemble loses its
// quorum, reads keep working on a server started with
// -Dreadonlymode.enabled=true (and localSessionsEnabled=true from 3.7 on),
// while writes fail with ErrNotReadOnly until a read-write server is back.
func ExampleWithReadOnly() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"), keeper.WithReadOnly(true))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Listen(func(ev keeper.StateEvent) {
		switch ev.State {
		case keeper.ConnectedReadOnly:
			log.Println("read-only: serving reads, holding writes back")
		case keeper.Connected:
			log.Println("read-write again, session", ev.SessionID)
		}
	})
	if _, err := c.Create(ctx, "/example-ro", nil, keeper.Ephemeral()); errors.Is(err, keeper.ErrNotReadOnly) {
		log.Println("write refused by a read-only server")
	}
	fmt.Println(c.State())
	// Output: Connected
}

func ExampleEvent_String() {
	ev := keeper.Event{Type: keeper.EventNodeDataChanged, Path: "/app/config", Zxid: 0x1a}
	fmt.Println(ev)
	// Output: NodeDataChanged /app/config zxid 0x1a
}

func ExampleStateEvent_String() {
	ev := keeper.StateEvent{State: keeper.Connected, Keeper: keeper.KeeperSyncConnected, SessionID: 0x1000a2b3c4d0000, Server: "127.0.0.1:2181"}
	fmt.Println(ev)
	ev = keeper.StateEvent{State: keeper.Suspended, Keeper: keeper.KeeperDisconnected, SessionID: 0x1000a2b3c4d0000, Err: keeper.ErrConnectionLoss}
	fmt.Println(ev)
	// Output:
	// Connected (SyncConnected) session 0x1000a2b3c4d0000 server 127.0.0.1:2181
	// Suspended (Disconnected) session 0x1000a2b3c4d0000: keeper: connection lost: outcome unknown
}
