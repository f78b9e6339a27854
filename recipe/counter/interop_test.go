package counter

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper/recipe/internal/interop"
)

// kazooCounters drives Kazoo's Counter: one command a line.
const kazooCounters = `
import sys, threading
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=30)
objs = {}
mu = threading.Lock()
def out(*w):
    with mu:
        sys.stdout.write(" ".join(str(x) for x in w) + "\n")
        sys.stdout.flush()
def incr(name, n):
    try:
        c = objs[name]
        for _ in range(n):
            c += type(c.default)(1)
        out("incred", name)
    except Exception as e:
        out("error", "incr", repr(e))
out("ready")
for line in sys.stdin:
    p = line.split()
    if not p:
        continue
    try:
        if p[0] == "quit":
            break
        elif p[0] == "counter":
            objs[p[1]] = zk.Counter(p[2], default=(0.0 if p[3] == "float" else 0))
            out("ok", p[1])
        elif p[0] == "add":
            c = objs[p[1]]
            c += type(c.default)(p[2])
            out("added", p[1], repr(c.pre_value), repr(c.post_value))
        elif p[0] == "value":
            out("value", p[1], repr(objs[p[1]].value))
        elif p[0] == "incr":
            threading.Thread(target=incr, args=(p[1], int(p[2])), daemon=True).start()
        else:
            out("error", "unknown", p[0])
    except Exception as e:
        out("error", p[0], repr(e))
zk.stop()
zk.close()
`

func TestKazooCounter(t *testing.T) { interop.EachKazoo(t, testKazooCounter) }

func testKazooCounter(t *testing.T, kazoo interop.Peer) {
	ctx := testCtx(t)
	c := srv.Client(t)
	k := kazoo.Script(t, "counters", kazooCounters, srv.Servers()+c.Chroot())
	k.Send(t, "counter i /cnt int")
	k.Await(t, "ok i")
	k.Send(t, "counter f /cntf float")
	k.Await(t, "ok f")

	// Int: Keeper then Kazoo then Keeper, each sees the others.
	mine := New[int64](c, "/cnt", 0)
	defer mine.Close(ctx)
	if _, err := mine.Add(ctx, 5); err != nil {
		t.Fatal(err)
	}
	k.Send(t, "add i 3")
	if l := k.Await(t, "added i "); l != "added i 5 8" {
		t.Fatalf("Kazoo: %q, want pre 5 post 8", l)
	}
	if v, err := mine.Add(ctx, -10); v != -2 || err != nil {
		t.Fatalf("Add after Kazoo's = %v, %v", v, err)
	}
	k.Send(t, "value i")
	if l := k.Await(t, "value i "); l != "value i -2" {
		t.Fatalf("Kazoo reads %q", l)
	}

	// Float, with Python's repr both ways.
	fl := New[float64](c, "/cntf", 0)
	defer fl.Close(ctx)
	k.Send(t, "add f 2.5")
	k.Await(t, "added f 0.0 2.5")
	if v, err := fl.Add(ctx, 0.25); v != 2.75 || err != nil {
		t.Fatalf("float Add = %v, %v", v, err)
	}
	if _, err := fl.Add(ctx, 1e16); err != nil {
		t.Fatal(err)
	}
	k.Send(t, "value f")
	want := "value f " + pyFloat(2.75+1e16)
	if l := k.Await(t, "value f "); l != want {
		t.Fatalf("Kazoo reads %q, want %q", l, want)
	}

	// Concurrent increments from both sides: the total is exact.
	const each = 100
	k.Send(t, "incr i %d", each)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each / 4 {
				if _, err := mine.Add(ctx, 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	k.Await(t, "incred i")
	if v, err := mine.Value(ctx); v != -2+2*each || err != nil {
		t.Fatalf("after concurrent increments: %v, %v; want %d", v, err, -2+2*each)
	}
}

// curatorCounters drives Curator's SharedCount and DistributedAtomicLong.
const curatorCounters = `
import java.io.*;
import java.util.*;
import java.util.concurrent.*;
import org.apache.curator.framework.*;
import org.apache.curator.framework.recipes.shared.*;
import org.apache.curator.framework.recipes.atomic.*;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.*;

public class Counters {
    static synchronized void out(String s) { System.out.println(s); System.out.flush(); }
    public static void main(String[] args) throws Exception {
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder().connectString(args[0])
            .sessionTimeoutMs(10000).connectionTimeoutMs(15000).retryPolicy(new ExponentialBackoffRetry(100, 10));
        if (args.length > 1 && !args[1].isEmpty()) b = b.namespace(args[1]);
        CuratorFramework c = b.build();
        c.start();
        c.blockUntilConnected(30, TimeUnit.SECONDS);
        Map<String, SharedCount> counts = new HashMap<>();
        Map<String, DistributedAtomicLong> longs = new HashMap<>();
        out("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            String[] p = line.trim().split("\\s+");
            try {
                if (p[0].equals("quit")) break;
                switch (p[0]) {
                case "sc": {
                    SharedCount s = new SharedCount(c, p[2], Integer.parseInt(p[3]));
                    String name = p[1];
                    s.addListener(new SharedCountListener() {
                        public void countHasChanged(SharedCountReader r, int n) { out("changed " + name + " " + n); }
                        public void stateChanged(CuratorFramework f, ConnectionState st) {}
                    });
                    s.start();
                    counts.put(name, s);
                    out("ok " + name + " " + s.getCount());
                    break;
                }
                case "scset": counts.get(p[1]).setCount(Integer.parseInt(p[2])); out("set " + p[1]); break;
                case "sccount": out("count " + p[1] + " " + counts.get(p[1]).getCount()); break;
                case "dal": longs.put(p[1], new DistributedAtomicLong(c, p[2], new RetryNTimes(1000, 1))); out("ok " + p[1]); break;
                case "dalincr": {
                    DistributedAtomicLong d = longs.get(p[1]);
                    int n = Integer.parseInt(p[2]);
                    String name = p[1];
                    new Thread(() -> {
                        try {
                            for (int i = 0; i < n; i++) {
                                while (!d.increment().succeeded()) {}
                            }
                            out("incred " + name);
                        } catch (Exception e) { out("error incr " + e); }
                    }).start();
                    break;
                }
                case "dalget": out("long " + p[1] + " " + longs.get(p[1]).get().postValue()); break;
                default: out("error unknown " + p[0]);
                }
            } catch (Exception e) { out("error " + p[0] + " " + e.toString().replace('\n', ' ')); }
        }
        for (SharedCount s : counts.values()) s.close();
        c.close();
    }
}
`

func TestCuratorCounters(t *testing.T) { interop.EachCurator(t, testCuratorCounters) }

func testCuratorCounters(t *testing.T, curator interop.Peer) {
	ctx := testCtx(t)
	c := srv.Client(t)
	servers, ns := interop.SplitChroot(srv.Servers() + c.Chroot())
	j := curator.Java(t, "Counters", curatorCounters, servers, ns)

	// SharedCount: Java seeds, Keeper sees the seed; a Java listener sees
	// Keeper's change, and Keeper's channel sees Java's.
	j.Send(t, "sc s /sc 7")
	j.Await(t, "ok s 7")
	sc := NewSharedCount(c, "/sc", 99)
	if err := sc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	if sc.Count() != 7 {
		t.Fatalf("Keeper reads %d after Curator's seed 7", sc.Count())
	}
	if ok, err := sc.TrySetCount(ctx, 42, sc.Version()); !ok || err != nil {
		t.Fatalf("TrySetCount = %v, %v", ok, err)
	}
	j.Await(t, "changed s 42")
	j.Send(t, "scset s -5")
	j.Await(t, "set s")
	for {
		select {
		case ch := <-sc.Changes():
			if ch.Count != -5 {
				continue
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Curator's setCount not seen")
		}
		break
	}

	// DistributedAtomicLong: Java and Go increment one value at once.
	const each = 150
	j.Send(t, "dal a /al")
	j.Await(t, "ok a")
	a := NewAtomicLong(c, "/al", WithTries(1000))
	defer a.Close(ctx)
	j.Send(t, "dalincr a %d", each)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each / 3 {
				r, err := a.Increment(ctx)
				if err != nil || !r.Succeeded {
					t.Errorf("Increment = %+v, %v", r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	j.Await(t, "incred a")
	if r, err := a.Get(ctx); r.PostValue != 2*each || err != nil {
		t.Fatalf("total %+v, %v; want %d", r, err, 2*each)
	}
	j.Send(t, "dalget a")
	if l := j.Await(t, "long a "); l != "long a "+strconv.Itoa(2*each) {
		t.Fatalf("Curator reads %q", l)
	}
}
