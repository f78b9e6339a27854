package keeper_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// buildTree creates top with fan children, each with fan children, each
// with leaves leaves, and returns how many nodes it made.
func buildTree(t testing.TB, c *keeper.Client, top string, fan, leaves int) int {
	t.Helper()
	ctx := ctxT(t)
	if _, err := c.Create(ctx, top, nil); err != nil {
		t.Fatal(err)
	}
	var failed atomic.Value
	cb := func(_ string, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, err)
		}
	}
	n := 1
	for i := range fan {
		a := fmt.Sprintf("%s/a%d", top, i)
		c.CreateAsync(ctx, a, nil, cb)
		for j := range fan {
			b := fmt.Sprintf("%s/b%d", a, j)
			c.CreateAsync(ctx, b, []byte("x"), cb)
			for k := range leaves {
				c.CreateAsync(ctx, fmt.Sprintf("%s/c%d", b, k), []byte("leaf"), cb)
			}
			n += 1 + leaves
		}
		n++
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeleteAllTree(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	buildTree(t, c, "/t", 8, 24) // 1 609 nodes
	if _, err := c.Create(ctx, "/keep", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAll(ctx, "/t"); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Exists(ctx, "/t"); st != nil || err != nil {
		t.Fatalf("after DeleteAll: Exists = %v, %v", st, err)
	}
	if st, _ := c.Exists(ctx, "/keep"); st == nil {
		t.Fatal("DeleteAll of /t deleted its sibling")
	}

	// "/" of a chroot: everything under it, not the chroot itself.
	buildTree(t, c, "/u", 3, 3)
	if err := c.DeleteAll(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if kids, err := c.Children(ctx, "/"); err != nil || len(kids) != 0 {
		t.Fatalf("after DeleteAll(/): children %v, %v", kids, err)
	}

	if err := c.DeleteAll(ctx, "no/slash"); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("DeleteAll of a bad path = %v", err)
	}
	c.Close()
	if err := c.DeleteAll(ctx, "/keep"); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("DeleteAll on a closed client = %v", err)
	}
}

// treeAtFirstTxn builds a tree of fan × fan × leaves nodes under /t on
// a client behind a proxy, and arms the proxy to call fn (once) when the
// client's first transaction reaches it, before the proxy forwards it. It
// returns the client, the direct admin client on the same chroot, and a
// report of whether fn ran.
func treeAtFirstTxn(t *testing.T, fan, leaves int, fn func(p *zktest.Proxy, admin *keeper.Client)) (c, admin *keeper.Client, ran func() bool) {
	c, p, admin := proxied(t)
	buildTree(t, c, "/t", fan, leaves)
	var armed atomic.Bool
	p.Tap(func(fromServer bool, frame []byte) {
		// A request's payload is its xid, then its op code: 14 is multi.
		if !fromServer && len(frame) >= 8 && binary.BigEndian.Uint32(frame[4:8]) == 14 && armed.CompareAndSwap(false, true) {
			fn(p, admin)
		}
	})
	t.Cleanup(func() { p.Tap(nil) })
	return c, admin, armed.Load
}

// TestDeleteAllChildCreatedMeanwhile: a node gains a child after
// DeleteAll listed it (created by another client just before DeleteAll's
// first transaction of deletes reaches the server); DeleteAll deletes that
// one too.
func TestDeleteAllChildCreatedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	created := make(chan error, 1)
	c, admin, _ := treeAtFirstTxn(t, 4, 8, func(_ *zktest.Proxy, admin *keeper.Client) {
		_, err := admin.Create(ctx, "/t/a0/late", nil)
		created <- err
	})
	if err := c.DeleteAll(ctx, "/t"); err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatalf("creating the late child: %v", err)
	}
	if st, _ := admin.Exists(ctx, "/t"); st != nil {
		t.Fatal("the tree is still there")
	}
}

// TestDeleteAllWhileCreating: another client adds nodes all over the tree
// while DeleteAll runs; DeleteAll still ends with the tree gone.
func TestDeleteAllWhileCreating(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	other, err := keeper.Connect(ctx, srv.Servers()+c.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	buildTree(t, c, "/t", 4, 16)
	done := make(chan int)
	go func() {
		made := 0
		defer func() { done <- made }()
		for i := range 200 {
			_, err := other.Create(ctx, fmt.Sprintf("/t/a%d/b%d/late-", i%4, i%3), nil, keeper.Sequential())
			if errors.Is(err, keeper.ErrNoNode) {
				return // its parent is gone: DeleteAll got there
			}
			if err != nil {
				t.Error(err)
				return
			}
			made++
		}
	}()
	err = c.DeleteAll(ctx, "/t")
	made := <-done
	if err != nil {
		t.Fatalf("DeleteAll with %d nodes created meanwhile: %v", made, err)
	}
	if st, _ := c.Exists(ctx, "/t"); st != nil {
		t.Fatalf("the tree is still there (%d nodes created meanwhile)", made)
	}
}

// TestDeleteAllAcrossDrop: the reply to DeleteAll's first transaction of
// deletes is lost with the connection; DeleteAll lists what is left and
// finishes.
func TestDeleteAllAcrossDrop(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, admin, dropped := treeAtFirstTxn(t, 6, 20, func(p *zktest.Proxy, _ *keeper.Client) { p.DropNextReply() })
	if err := c.DeleteAll(ctx, "/t"); err != nil {
		t.Fatalf("DeleteAll across a dropped connection: %v", err)
	}
	if !dropped() {
		t.Fatal("DeleteAll sent no transaction")
	}
	if st, _ := admin.Exists(ctx, "/t"); st != nil {
		t.Fatal("the tree is still there")
	}
}
