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

func ExampleClient_Txn() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(ctx, "/example-txn")

	if _, err := c.Create(ctx, "/example-txn/config", []byte("v1"), keeper.MakeParents()); err != nil {
		log.Fatal(err)
	}
	_, st, err := c.Get(ctx, "/example-txn/config")
	if err != nil {
		log.Fatal(err)
	}
	// Replace the config and keep the old value, all or nothing, and only
	// if nobody changed it since we read it.
	res, err := c.Txn().
		Check("/example-txn/config", st.Version).
		Set("/example-txn/config", []byte("v2"), st.Version).
		Create("/example-txn/old-", []byte("v1"), keeper.Sequential()).
		Commit(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Println(r.Op, r.Path)
	}

	// The version we read is stale now: nothing of this one is applied.
	_, err = c.Txn().
		Set("/example-txn/config", []byte("v3"), st.Version).
		Delete(res[2].Path, keeper.AnyVersion).
		Commit(ctx)
	var te *keeper.TxnError
	if errors.As(err, &te) {
		fmt.Println("op", te.Index, "failed; bad version:", errors.Is(err, keeper.ErrBadVersion))
	}
	data, _, _ := c.Get(ctx, "/example-txn/config")
	fmt.Println(string(data))
	// Output:
	// check /example-txn/config
	// set /example-txn/config
	// create /example-txn/old-0000000001
	// op 0 failed; bad version: true
	// v2
}

func ExampleClient_AddAuth() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.Delete(ctx, "/example-acl", keeper.AnyVersion)

	// Only the digest user alice (password "secret") may use the node.
	acl := keeper.DigestACL(keeper.PermAll, "alice", "secret")
	if _, err := c.Create(ctx, "/example-acl", []byte("for alice"), keeper.WithACL(acl)); err != nil {
		log.Fatal(err)
	}
	_, _, err = c.Get(ctx, "/example-acl")
	fmt.Println("anonymous:", errors.Is(err, keeper.ErrNoAuth))

	// Authenticate this session as alice; the client re-sends the
	// credentials on every reconnect.
	if err := c.AddAuth(ctx, "digest", []byte("alice:secret")); err != nil {
		log.Fatal(err)
	}
	data, _, err := c.Get(ctx, "/example-acl")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice:", string(data))

	got, st, err := c.ACL(ctx, "/example-acl")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got[0].Scheme, got[0].ID == "alice:"+keeper.DigestHash("alice", "secret"), got[0].Perms)

	// Open it to everyone for reading; alice keeps all rights.
	acl2 := append(keeper.ReadACL(), acl)
	if _, err := c.SetACL(ctx, "/example-acl", acl2, st.Aversion); err != nil {
		log.Fatal(err)
	}
	got, _, _ = c.ACL(ctx, "/example-acl")
	for _, a := range got {
		fmt.Println(a.Scheme, a.Perms)
	}
	// Output:
	// anonymous: true
	// alice: for alice
	// digest true cdrwa
	// world r
	// digest cdrwa
}

func ExampleClient_MultiGet() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(ctx, "/example-multiget")

	for _, p := range []string{"/example-multiget/a", "/example-multiget/b"} {
		if _, err := c.Create(ctx, p, []byte("data of "+p), keeper.MakeParents()); err != nil {
			log.Fatal(err)
		}
	}
	// One round trip for three reads; each read succeeds or fails alone.
	res, err := c.MultiGet(ctx, "/example-multiget/a", "/example-multiget/missing", "/example-multiget/b")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			fmt.Println(r.Path, "->", errors.Is(r.Err, keeper.ErrNoNode))
			continue
		}
		fmt.Println(r.Path, "->", string(r.Data))
	}
	// Output:
	// /example-multiget/a -> data of /example-multiget/a
	// /example-multiget/missing -> true
	// /example-multiget/b -> data of /example-multiget/b
}

func ExampleOutcomeOf() {
	// A write that failed: may it have been applied?
	for _, err := range []error{nil, keeper.ErrBadVersion, keeper.ErrConnectionLoss} {
		switch keeper.OutcomeOf(err) {
		case keeper.Applied:
			fmt.Println("applied")
		case keeper.NotApplied:
			fmt.Println("not applied: safe to decide again")
		case keeper.Unknown:
			fmt.Println("unknown: read back before retrying")
		}
	}
	// Output:
	// applied
	// not applied: safe to decide again
	// unknown: read back before retrying
}

func ExampleClient_GetAsync() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(ctx, "/example-async")

	if _, err := c.Create(ctx, "/example-async", nil); err != nil {
		log.Fatal(err)
	}
	// Many requests in flight from one goroutine; the callbacks run in
	// order, one at a time, on the client's delivery goroutine.
	for _, name := range []string{"a", "b", "c"} {
		c.CreateAsync(ctx, "/example-async/"+name, []byte("data of "+name), func(p string, err error) {
			if err != nil {
				log.Print(err)
			}
		})
	}
	for _, name := range []string{"a", "missing", "c"} {
		c.GetAsync(ctx, "/example-async/"+name, func(data []byte, st *keeper.Stat, err error) {
			if err != nil {
				fmt.Println(name, "->", errors.Is(err, keeper.ErrNoNode))
				return
			}
			fmt.Println(name, "->", string(data))
		})
	}
	// Wait for every callback.
	if err := c.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// a -> data of a
	// missing -> true
	// c -> data of c
}
