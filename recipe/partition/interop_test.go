package partition

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

// kazooWorker runs Kazoo's SetPartitioner worker loop in a thread and
// reports each acquisition: "acquired NAME <json list>".
const kazooWorker = `
import json, sys, threading, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=30)
parts = {}
stop = {}
mu = threading.Lock()
def out(*w):
    with mu:
        sys.stdout.write(" ".join(str(x) for x in w) + "\n")
        sys.stdout.flush()
def loop(name, p):
    last = None
    while not stop[name]:
        if p.failed:
            out("failed", name)
            return
        elif p.release:
            p.release_set()
        elif p.acquired:
            mine = sorted(list(p))
            if mine != last:
                out("acquired", name, json.dumps(mine))
                last = mine
            time.sleep(0.05)
        elif p.allocating:
            last = None
            p.wait_for_acquire(timeout=0.2)
out("ready")
for line in sys.stdin:
    a = line.split()
    if not a:
        continue
    try:
        if a[0] == "quit":
            break
        elif a[0] == "part":
            name, path, ident, items, boundary = a[1:]
            p = zk.SetPartitioner(path, set=items.split(","), identifier=ident, time_boundary=float(boundary), max_reaction_time=0.2)
            parts[name], stop[name] = p, False
            threading.Thread(target=loop, args=(name, p), daemon=True).start()
            out("ok", name)
        elif a[0] == "finish":
            stop[a[1]] = True
            parts[a[1]].finish()
            out("finished", a[1])
        else:
            out("error", "unknown", a[0])
    except Exception as e:
        out("error", a[0], repr(e))
zk.stop()
zk.close()
`

func TestKazooSetPartitioner(t *testing.T) { interop.EachKazoo(t, testKazooSetPartitioner) }

func testKazooSetPartitioner(t *testing.T, kazoo interop.Peer) {
	c := srv.Client(t)
	k := kazoo.Script(t, "partitioner", kazooWorker, srv.Servers()+c.Chroot())
	set := []string{"0", "1", "2", "3", "4", "5"}
	k.Send(t, "part k /part kazoo-worker %s 0.3", strings.Join(set, ","))
	k.Await(t, "ok k")
	// Kazoo alone owns the whole set.
	acq := func() []string {
		t.Helper()
		l := k.Await(t, "acquired k ")
		var items []string
		if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "acquired k ")), &items); err != nil {
			t.Fatal(err)
		}
		return items
	}
	if got := acq(); !slices.Equal(got, set) {
		t.Fatalf("Kazoo alone owns %q", got)
	}
	// A Keeper worker joins: they split by Kazoo's round robin of the
	// sorted identifiers ("aa-keeper" < "kazoo-worker").
	g := start(t, c, set, opts("aa-keeper")...)
	releaseWhenAsked(g)
	if got := acq(); !slices.Equal(got, []string{"1", "3", "5"}) {
		t.Fatalf("Kazoo owns %q beside Keeper", got)
	}
	testutil.WaitFor(t, 60*time.Second, "Keeper's half", func() bool {
		return slices.Equal(g.Partitions(), []string{"0", "2", "4"})
	})
	// Kazoo leaves: Keeper takes everything.
	k.Send(t, "finish k")
	k.Await(t, "finished k")
	testutil.WaitFor(t, 60*time.Second, "Keeper to own the set", func() bool {
		return slices.Equal(g.Partitions(), set)
	})
	// And a Kazoo worker joining Keeper's gets its share again.
	k.Send(t, "part k2 /part kazoo-worker %s 0.3", strings.Join(set, ","))
	k.Await(t, "ok k2")
	l := k.Await(t, "acquired k2 ")
	if l != `acquired k2 ["1", "3", "5"]` {
		t.Fatalf("new Kazoo worker: %q", l)
	}
	testutil.WaitFor(t, 60*time.Second, "the split again", func() bool {
		return slices.Equal(g.Partitions(), []string{"0", "2", "4"})
	})
}
