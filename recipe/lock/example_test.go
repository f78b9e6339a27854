package lock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/lock"
)

func ExampleLock() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/lock")

	l := lock.New(c, "/example/lock", "worker-1")
	if err := l.Acquire(ctx); err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := l.Contenders(ctx)
	fmt.Println("holding:", l.IsAcquired(), ids)
	select {
	case <-l.Lost():
		fmt.Println("lost: stop working now")
	default:
		fmt.Println("still held: do the work")
	}
	if err := l.Release(ctx); err != nil {
		fmt.Println(err)
	}
	fmt.Println("holding:", l.IsAcquired())
	// Output:
	// holding: true [worker-1]
	// still held: do the work
	// holding: false
}

func ExampleSemaphore() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/sem")
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/sem-__lock__")

	a := lock.NewSemaphore(c, "/example/sem", "a", 2)
	b := lock.NewSemaphore(c, "/example/sem", "b", 2)
	d := lock.NewSemaphore(c, "/example/sem", "c", 2)
	for _, s := range []*lock.Semaphore{a, b, d} {
		ok, err := s.TryAcquire(ctx)
		fmt.Println(ok, err)
	}
	for _, s := range []*lock.Semaphore{a, b} {
		if err := s.Release(ctx); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// true <nil>
	// true <nil>
	// false <nil>
}

func ExampleMultiLock() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/multi")

	// Both accounts or neither; every process lists them in the same order.
	m := lock.NewMultiLockPaths(c, []string{"/example/multi/acct-1", "/example/multi/acct-2"}, "transfer-7")
	if err := m.Acquire(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("holding both:", m.IsAcquired())
	if err := m.Release(ctx); err != nil {
		fmt.Println(err)
	}
	fmt.Println("holding both:", m.IsAcquired())
	// Output:
	// holding both: true
	// holding both: false
}

func ExampleLock_Guard() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/fenced")

	if _, err := c.Create(ctx, "/example/fenced/config", []byte("v1"), keeper.MakeParents()); err != nil {
		fmt.Println(err)
		return
	}
	l := lock.New(c, "/example/fenced/lock", "writer")
	if err := l.Acquire(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token set:", l.Token() != 0)
	// The server applies the write only while the lock's node exists.
	_, err = l.Guard(c.Txn()).Set("/example/fenced/config", []byte("v2"), keeper.AnyVersion).Commit(ctx)
	fmt.Println("write while held:", err)
	if err := l.Release(ctx); err != nil {
		fmt.Println(err)
	}
	_, err = l.Guard(c.Txn()).Set("/example/fenced/config", []byte("v3"), keeper.AnyVersion).Commit(ctx)
	fmt.Println("refused after release:", errors.Is(err, keeper.ErrNoNode))
	// Output:
	// token set: true
	// write while held: <nil>
	// refused after release: true
}

func ExampleRevoke() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/revoke")

	l := lock.New(c, "/example/revoke", "holder", lock.WithCuratorLayout())
	if err := l.Acquire(ctx); err != nil {
		fmt.Println(err)
		return
	}
	// Another process asks the holder to let go.
	if err := lock.Revoke(ctx, c, l.Node()); err != nil {
		fmt.Println(err)
		return
	}
	<-l.Revoked()
	fmt.Println("asked to release")
	if err := l.Release(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// asked to release
}

func ExampleNewReadLock() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/rw")

	// Curator's InterProcessReadWriteLock layout: __READ__ and __WRIT__ nodes.
	r1 := lock.NewReadLock(c, "/example/rw", "reader-1", lock.WithCuratorLayout())
	r2 := lock.NewReadLock(c, "/example/rw", "reader-2", lock.WithCuratorLayout())
	w := lock.NewWriteLock(c, "/example/rw", "writer", lock.WithCuratorLayout())
	for _, l := range []*lock.Lock{r1, r2, w} {
		ok, err := l.TryAcquire(ctx)
		fmt.Println(ok, err)
	}
	for _, l := range []*lock.Lock{r1, r2} {
		_ = l.Release(ctx)
	}
	// Output:
	// true <nil>
	// true <nil>
	// false <nil>
}

func ExampleWithMaxLeasesFrom() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/example/semv2")

	// A Curator SharedCount node: 4 bytes, big-endian (here 1).
	if _, err := c.Create(ctx, "/example/semv2/max", []byte{0, 0, 0, 1}, keeper.MakeParents()); err != nil {
		fmt.Println(err)
		return
	}
	a := lock.NewSemaphore(c, "/example/semv2/sem", "a", 0, lock.WithCuratorLayout(), lock.WithMaxLeasesFrom("/example/semv2/max"))
	b := lock.NewSemaphore(c, "/example/semv2/sem", "b", 0, lock.WithCuratorLayout(), lock.WithMaxLeasesFrom("/example/semv2/max"))
	for _, s := range []*lock.Semaphore{a, b} {
		ok, err := s.TryAcquire(ctx)
		fmt.Println(ok, err)
	}
	_ = a.Release(ctx)
	// Output:
	// true <nil>
	// false <nil>
}
