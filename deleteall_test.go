package keeper_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// buildTree creates top with fan children, each with fan children, each
// with leaves leaves.
func buildTree(t testing.TB, c *keeper.Client, top string, fan, leaves int) {
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
	for i := range fan {
		a := fmt.Sprintf("%s/a%d", top, i)
		c.CreateAsync(ctx, a, nil, cb)
		for j := range fan {
			b := fmt.Sprintf("%s/b%d", a, j)
			c.CreateAsync(ctx, b, []byte("x"), cb)
			for k := range leaves {
				c.CreateAsync(ctx, fmt.Sprintf("%s/c%d", b, k), []byte("leaf"), cb)
			}
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
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
	select {
	case err := <-created:
		if err != nil {
			t.Fatalf("creating the late child: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("DeleteAll sent no transaction")
	}
	if st, _ := admin.Exists(ctx, "/t"); st != nil {
		t.Fatal("the tree is still there")
	}
}

// creator makes sequential nodes under /t/a<i%4>/b<i%3> (or, with one
// set, under that node alone) on its own client, from its own goroutine,
// until stop is closed, their parent is gone, or n are made (n 0: no
// bound). started is closed after the first 20.
type creator struct {
	started chan struct{}
	done    chan int // the number made, once it ends
}

func startCreator(t *testing.T, c *keeper.Client, one string, n int, stop <-chan struct{}) *creator {
	ctx := ctxT(t)
	other, err := keeper.Connect(ctx, srv.Servers()+c.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	cr := &creator{started: make(chan struct{}), done: make(chan int, 1)}
	go func() {
		made := 0
		defer func() {
			if made < 20 {
				close(cr.started)
			}
			cr.done <- made
		}()
		for i := 0; n == 0 || i < n; i++ {
			select {
			case <-stop:
				return
			default:
			}
			parent := one
			if parent == "" {
				parent = fmt.Sprintf("/t/a%d/b%d", i%4, i%3)
			}
			_, err := other.Create(ctx, parent+"/late-", nil, keeper.Sequential())
			if errors.Is(err, keeper.ErrNoNode) {
				return // its parent is gone: DeleteAll got there
			}
			if err != nil {
				t.Error(err)
				return
			}
			if made++; made == 20 {
				close(cr.started)
			}
		}
	}()
	return cr
}

// TestDeleteAllWhileCreating: another client adds nodes all over the tree
// while DeleteAll runs. DeleteAll deletes them too, or gives up with
// ErrNotEmpty after its passes if they keep coming; once they stop, it
// deletes the tree.
func TestDeleteAllWhileCreating(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	buildTree(t, c, "/t", 4, 16)
	cr := startCreator(t, c, "", 200, nil)
	<-cr.started
	err := c.DeleteAll(ctx, "/t")
	made := <-cr.done
	if made < 20 {
		t.Fatalf("only %d nodes created", made)
	}
	if err != nil && !errors.Is(err, keeper.ErrNotEmpty) {
		t.Fatalf("DeleteAll with %d nodes created meanwhile: %v", made, err)
	}
	if err != nil {
		t.Logf("DeleteAll gave up while %d nodes were created: %v", made, err)
		if err := c.DeleteAll(ctx, "/t"); err != nil {
			t.Fatalf("DeleteAll after the creator stopped: %v", err)
		}
	}
	if st, err := c.Exists(ctx, "/t"); st != nil || err != nil {
		t.Fatalf("after DeleteAll (%d nodes created meanwhile): Exists = %v, %v", made, st, err)
	}
}

// TestDeleteAllEndlessCreator: another client never stops adding children
// to one node of the tree; DeleteAll returns, having deleted the tree or
// with ErrNotEmpty after its passes, and never runs on.
func TestDeleteAllEndlessCreator(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	buildTree(t, c, "/t", 2, 2)
	stop := make(chan struct{})
	cr := startCreator(t, c, "/t/a0", 0, stop)
	<-cr.started
	err := c.DeleteAll(ctx, "/t")
	close(stop)
	made := <-cr.done
	if err != nil && !errors.Is(err, keeper.ErrNotEmpty) {
		t.Fatalf("DeleteAll beside an endless creator (%d made): %v", made, err)
	}
	t.Logf("DeleteAll: %v, %d nodes created meanwhile", err, made)
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

// TestDeleteAllRootKeepsZookeeper: DeleteAll("/") without a chroot deletes
// everything but the root and /zookeeper (a server of its own: it empties
// the whole tree).
func TestDeleteAllRootKeepsZookeeper(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	cl := zktest.Start(t)
	c, err := keeper.Connect(ctx, cl.Servers())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buildTree(t, c, "/t", 3, 3)
	if err := c.DeleteAll(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	kids, err := c.Children(ctx, "/")
	if err != nil || len(kids) != 1 || kids[0] != "zookeeper" {
		t.Fatalf("after DeleteAll(/): children of / = %v, %v", kids, err)
	}
	if _, err := c.Children(ctx, "/zookeeper"); err != nil {
		t.Fatalf("/zookeeper after DeleteAll(/): %v", err)
	}
}

// TestDeleteAllRetryPolicyOnce: the retry policy bounds DeleteAll's tries
// as a whole. Every listing's reply is lost with its connection; with
// MaxTries 3, DeleteAll lists 3 times and returns ErrConnectionLoss, not 3
// tries of each listing in each of 3 passes.
func TestDeleteAllRetryPolicyOnce(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	var losses atomic.Int32
	c, p, _ := proxied(t,
		keeper.WithRetry(&keeper.Retry{MaxTries: 3, Delay: time.Millisecond}),
		keeper.WithMetrics(&keeper.Metrics{Op: func(op, code string, _ time.Duration) {
			if op == "children" && code == "ConnectionLoss" {
				losses.Add(1)
			}
		}}))
	buildTree(t, c, "/t", 2, 2)
	p.Tap(func(fromServer bool, frame []byte) {
		// 8 is getChildren.
		if !fromServer && len(frame) >= 8 && binary.BigEndian.Uint32(frame[4:8]) == 8 {
			p.DropNextReply()
		}
	})
	t.Cleanup(func() { p.Tap(nil) })
	err := c.DeleteAll(ctx, "/t")
	if !errors.Is(err, keeper.ErrConnectionLoss) {
		t.Fatalf("DeleteAll with every listing lost = %v, want ErrConnectionLoss", err)
	}
	if n := losses.Load(); n != 3 {
		t.Fatalf("%d listings lost, want 3 (MaxTries)", n)
	}
}
