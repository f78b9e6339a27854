package queue

import (
	"testing"
	"time"

	"github.com/keeper-go/keeper/recipe/internal/interop"
)

// kazooQueues drives Kazoo's Queue and LockingQueue; data and results are
// plain words ("None" for an empty get).
const kazooQueues = `
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=30)
objs = {}
def out(*w):
    sys.stdout.write(" ".join(str(x) for x in w) + "\n")
    sys.stdout.flush()
def s(b):
    return "None" if b is None else b.decode()
out("ready")
for line in sys.stdin:
    p = line.split()
    if not p:
        continue
    try:
        if p[0] == "quit":
            break
        elif p[0] == "q":
            objs[p[1]] = zk.Queue(p[2]); out("ok", p[1])
        elif p[0] == "lq":
            objs[p[1]] = zk.LockingQueue(p[2]); out("ok", p[1])
        elif p[0] == "put":
            objs[p[1]].put(p[2].encode(), priority=int(p[3])); out("put", p[1], p[2])
        elif p[0] == "get":
            out("got", p[1], s(objs[p[1]].get()))
        elif p[0] == "lget":
            out("got", p[1], s(objs[p[1]].get(timeout=float(p[2]))))
        elif p[0] == "consume":
            out("consumed", p[1], objs[p[1]].consume())
        elif p[0] == "release":
            out("released", p[1], objs[p[1]].release())
        elif p[0] == "len":
            out("len", p[1], len(objs[p[1]]))
        else:
            out("error", "unknown", p[0])
    except Exception as e:
        out("error", p[0], repr(e))
zk.stop()
zk.close()
`

func TestKazooQueue(t *testing.T) { interop.EachKazoo(t, testKazooQueue) }

func testKazooQueue(t *testing.T, kazoo interop.Peer) {
	ctx := testCtx(t)
	c := srv.Client(t)
	k := kazoo.Script(t, "queues", kazooQueues, srv.Servers()+c.Chroot())
	k.Send(t, "q q /q")
	k.Await(t, "ok q")
	q := New(c, "/q")
	defer q.Close(ctx)

	// Mixed puts; Kazoo takes in priority order, then FIFO.
	if err := q.Put(ctx, []byte("k5"), 5); err != nil {
		t.Fatal(err)
	}
	k.Send(t, "put q z1 1")
	k.Await(t, "put q z1")
	if err := q.Put(ctx, []byte("k100"), 100); err != nil {
		t.Fatal(err)
	}
	k.Send(t, "put q z5 5")
	k.Await(t, "put q z5")
	k.Send(t, "len q")
	k.Await(t, "len q 4")
	for _, want := range []string{"z1", "k5"} {
		k.Send(t, "get q")
		if l := k.Await(t, "got q "); l != "got q "+want {
			t.Fatalf("Kazoo got %q, want %s", l, want)
		}
	}
	// Keeper takes the rest in the same order.
	for _, want := range []string{"z5", "k100"} {
		if got := mustGet(t, ctx, q); got != want {
			t.Fatalf("Keeper got %q, want %s", got, want)
		}
	}
	k.Send(t, "get q")
	k.Await(t, "got q None")
}

func TestKazooLockingQueue(t *testing.T) { interop.EachKazoo(t, testKazooLockingQueue) }

func testKazooLockingQueue(t *testing.T, kazoo interop.Peer) {
	ctx := testCtx(t)
	c := srv.Client(t)
	k := kazoo.Script(t, "queues", kazooQueues, srv.Servers()+c.Chroot())
	k.Send(t, "lq l /lq")
	k.Await(t, "ok l")
	q := NewLocking(c, "/lq")
	defer q.Close(ctx)

	k.Send(t, "put l first 1")
	k.Await(t, "put l first")
	if err := q.Put(ctx, []byte("second"), 2); err != nil {
		t.Fatal(err)
	}
	// Keeper holds the first; Kazoo gets the second, not the held one.
	if data, err := q.Get(ctx); string(data) != "first" || err != nil {
		t.Fatalf("Keeper's Get = %q, %v", data, err)
	}
	k.Send(t, "lget l 5")
	k.Await(t, "got l second")
	// Kazoo holds the second: Keeper's next Get (after a release) gets the
	// first again, and waits while Kazoo holds the second.
	if ok, err := q.Release(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if data, err := q.Get(ctx); string(data) != "first" || err != nil {
		t.Fatalf("Get after release = %q, %v", data, err)
	}
	if ok, err := q.Consume(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	k.Send(t, "len l")
	k.Await(t, "len l 1")
	k.Send(t, "release l")
	k.Await(t, "released l True")
	got := make(chan string, 1)
	go func() {
		data, err := q.Get(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- string(data)
	}()
	select {
	case s := <-got:
		if s != "second" {
			t.Fatalf("Keeper got %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Keeper did not get the item Kazoo released")
	}
	if ok, err := q.Consume(ctx); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// Keeper puts, Kazoo consumes.
	if err := q.PutAll(ctx, [][]byte{[]byte("x"), []byte("y")}, 100); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"x", "y"} {
		k.Send(t, "lget l 5")
		k.Await(t, "got l "+want)
		k.Send(t, "consume l")
		k.Await(t, "consumed l True")
	}
	if n, err := q.Len(ctx); n != 0 || err != nil {
		t.Fatalf("Len = %d, %v", n, err)
	}
}
