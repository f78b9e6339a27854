package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/interop"
	"github.com/keeper-go/keeper/zktest"
)

// qDriverSource is a Java program that drives Curator's queues (items are
// strings as bytes), commands on stdin:
//
//	soffer PATH D...          SimpleDistributedQueue.offer each: "offered"
//	stake PATH N              take N: "took D,D,..."
//	put KIND PATH ARG D...    put each D (KIND plain, prio ARG, delay ARG epoch ms, id ARG), or
//	                          KIND multi: one putMulti of all: "put"
//	iremove PATH ID           DistributedIdQueue.remove: "removed N"
//	consume KIND PATH LOCK    start a consumer (LOCK "-": none); each item prints "got PATH D".
//	                          With a third argument (a direct connect string) an item is marked
//	                          consumed by the ephemeral node /active/D meanwhile: "overlap D"
//	                          when another holds it. Answers "consuming PATH"
//	stop                      close the consumers: "stopped"
const qDriverSource = `
import java.io.*;
import java.util.*;
import java.util.concurrent.*;
import org.apache.curator.framework.*;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.framework.recipes.queue.*;
import org.apache.zookeeper.*;

public class QDriver {
    static synchronized void out(String s) { System.out.println(s); System.out.flush(); }

    static final QueueSerializer<byte[]> SER = new QueueSerializer<byte[]>() {
        public byte[] serialize(byte[] b) { return b; }
        public byte[] deserialize(byte[] b) { return b; }
    };

    static CuratorFramework connect(String hosts, String ns) throws Exception {
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder().connectString(hosts)
            .sessionTimeoutMs(15000).connectionTimeoutMs(15000).retryPolicy(new ExponentialBackoffRetry(50, 20, 500));
        if (!ns.isEmpty()) b = b.namespace(ns);
        CuratorFramework c = b.build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) throw new Exception("no connection");
        return c;
    }

    static Map<String, Object> producers = new HashMap<>();
    static List<Closeable> consumers = new ArrayList<>();

    static QueueBuilder<byte[]> builder(CuratorFramework c, QueueConsumer<byte[]> cons, String path, String lock) {
        QueueBuilder<byte[]> b = QueueBuilder.builder(c, cons, SER, path).putInBackground(false);
        if (lock != null && !lock.equals("-")) b = b.lockPath(lock);
        return b;
    }

    static Object build(QueueBuilder<byte[]> b, String kind) throws Exception {
        switch (kind) {
        case "prio": { DistributedPriorityQueue<byte[]> q = b.buildPriorityQueue(0); q.start(); return q; }
        case "delay": { DistributedDelayQueue<byte[]> q = b.buildDelayQueue(); q.start(); return q; }
        case "id": { DistributedIdQueue<byte[]> q = b.buildIdQueue(); q.start(); return q; }
        default: { DistributedQueue<byte[]> q = b.buildQueue(); q.start(); return q; }
        }
    }

    public static void main(String[] args) throws Exception {
        CuratorFramework c = connect(args[0], args[1]);
        final CuratorFramework direct = args.length > 2 ? connect(args[2], args[1]) : null;
        out("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                case "quit":
                    for (Closeable q : consumers) q.close();
                    c.close();
                    if (direct != null) direct.close();
                    System.exit(0);
                case "soffer": {
                    SimpleDistributedQueue q = new SimpleDistributedQueue(c, f[1]);
                    for (int i = 2; i < f.length; i++) q.offer(f[i].getBytes("UTF-8"));
                    out("offered");
                    break;
                }
                case "stake": {
                    SimpleDistributedQueue q = new SimpleDistributedQueue(c, f[1]);
                    List<String> got = new ArrayList<>();
                    for (int i = 0; i < Integer.parseInt(f[2]); i++) got.add(new String(q.take(), "UTF-8"));
                    out("took " + String.join(",", got));
                    break;
                }
                case "put": {
                    String kind = f[1], path = f[2], arg = f[3];
                    String key = kind + " " + path;
                    Object q = producers.get(key);
                    if (q == null) {
                        q = build(builder(c, null, path, null), kind.equals("multi") ? "plain" : kind);
                        producers.put(key, q);
                    }
                    if (kind.equals("multi")) {
                        final Iterator<String> it = Arrays.asList(f).subList(4, f.length).iterator();
                        ((DistributedQueue<byte[]>) q).putMulti(new MultiItem<byte[]>() {
                            public byte[] nextItem() throws Exception { return it.hasNext() ? it.next().getBytes("UTF-8") : null; }
                        });
                    } else {
                        for (int i = 4; i < f.length; i++) {
                            byte[] d = f[i].getBytes("UTF-8");
                            switch (kind) {
                            case "prio": ((DistributedPriorityQueue<byte[]>) q).put(d, Integer.parseInt(arg)); break;
                            case "delay": ((DistributedDelayQueue<byte[]>) q).put(d, Long.parseLong(arg)); break;
                            case "id": ((DistributedIdQueue<byte[]>) q).put(d, arg); break;
                            default: ((DistributedQueue<byte[]>) q).put(d);
                            }
                        }
                    }
                    out("put");
                    break;
                }
                case "iremove": {
                    DistributedIdQueue<byte[]> q = (DistributedIdQueue<byte[]>) build(builder(c, null, f[1], null), "id");
                    out("removed " + q.remove(f[2]));
                    q.close();
                    break;
                }
                case "consume": {
                    final String path = f[2];
                    QueueConsumer<byte[]> cons = new QueueConsumer<byte[]>() {
                        public void consumeMessage(byte[] m) throws Exception {
                            String d = new String(m, "UTF-8");
                            if (direct != null) {
                                String mark = "/active/" + d;
                                try {
                                    direct.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(mark);
                                } catch (KeeperException.NodeExistsException e) {
                                    out("overlap " + d);
                                    return;
                                }
                                Thread.sleep(3);
                                direct.delete().forPath(mark);
                            }
                            out("got " + path + " " + d);
                        }
                        public void stateChanged(CuratorFramework cf, ConnectionState s) {}
                    };
                    consumers.add((Closeable) build(builder(c, cons, path, f[3]), f[1]));
                    out("consuming " + path);
                    break;
                }
                case "stop":
                    for (Closeable q : consumers) q.close();
                    consumers.clear();
                    out("stopped");
                    break;
                default:
                    out("error unknown command " + f[0]);
                }
            } catch (Exception e) {
                out("error " + f[0] + " " + e.toString().replace('\n', ' '));
            }
        }
    }
}
`

// awaitGot returns the items Java's consumer of path delivers, n of them,
// in order.
func awaitGot(t *testing.T, j *interop.Proc, path string, n int) []string {
	t.Helper()
	var got []string
	for range n {
		got = append(got, strings.TrimPrefix(j.Await(t, "got "+path+" "), "got "+path+" "))
	}
	return got
}

func expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: %q, want %q", what, got, want)
	}
}

// TestCuratorQueueInterop: Java's Curator offers and puts into every kind
// of queue and Keeper takes and consumes, then the reverse, one JVM for
// both; order is kept, multi-item messages and the node names are
// Curator's.
func TestCuratorQueueInterop(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorQueueInterop)
}

func testCuratorQueueInterop(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 3*time.Minute)
	c := srv.Client(t)
	servers, ns := interop.SplitChroot(srv.Servers() + c.Chroot())
	j := curator.Java(t, "QDriver", qDriverSource, servers, ns)
	defer j.Close()
	take := func(what string, n int, consume func(context.Context, ConsumeFunc) error) []string {
		t.Helper()
		return consumeN(t, ctx, n, consume, nil)
	}
	past1, past2 := time.UnixMilli(0x100000000), time.UnixMilli(0xFFFFFFFF) // string order is the reverse of time order
	soon := time.Now().Add(1500 * time.Millisecond)

	// Java to Keeper.
	j.Send(t, "soffer /sq s1 s2 s3")
	j.Await(t, "offered")
	j.Send(t, "put plain /dq - a b")
	j.Await(t, "put")
	j.Send(t, "put multi /dq - m1 m2 m3")
	j.Await(t, "put")
	for _, cmd := range []string{"prio /pq 5 p5", "prio /pq -3 pm3", "prio /pq 0 p0",
		fmt.Sprintf("delay /dlq %d c", soon.UnixMilli()), fmt.Sprintf("delay /dlq %d b", past1.UnixMilli()),
		fmt.Sprintf("delay /dlq %d a", past2.UnixMilli()), "id /iq x/1 i1", "id /iq y i2", "id /iq x/1 i3"} {
		j.Send(t, "put %s", cmd)
		j.Await(t, "put")
	}
	kids, _ := c.Children(ctx, "/pq")
	slices.Sort(kids)
	if len(kids) != 3 || !strings.HasPrefix(kids[0], priorityName(-3)) || !strings.HasPrefix(kids[2], priorityName(5)) {
		t.Fatalf("Java's priority nodes %q", kids)
	}
	kids, _ = c.Children(ctx, "/dlq")
	if !slices.ContainsFunc(kids, func(k string) bool { return strings.HasPrefix(k, delayName(soon)) }) {
		t.Fatalf("Java's delay nodes %q, want one starting %s", kids, delayName(soon))
	}
	sq := NewSimple(c, "/sq")
	defer sq.Close(ctx)
	var took []string
	for range 3 {
		d, err := sq.Take(ctx)
		if err != nil {
			t.Fatal(err)
		}
		took = append(took, string(d))
	}
	expect(t, "Keeper took from Java's SimpleDistributedQueue", took, "s1", "s2", "s3")
	dq := NewDistributed(c, "/dq")
	defer dq.Close(ctx)
	expect(t, "Keeper consumed Java's DistributedQueue", take("dq", 5, dq.Consume), "a", "b", "m1", "m2", "m3")
	pq := NewPriority(c, "/pq")
	defer pq.Close(ctx)
	expect(t, "Keeper consumed Java's priority queue", take("pq", 3, pq.Consume), "pm3", "p0", "p5")
	dl := NewDelay(c, "/dlq")
	defer dl.Close(ctx)
	expect(t, "Keeper consumed Java's delay queue", take("dlq", 3, dl.Consume), "a", "b", "c")
	if time.Now().Before(soon) {
		t.Fatalf("c consumed before it was due")
	}
	iq := NewID(c, "/iq")
	defer iq.Close(ctx)
	if n, err := iq.Remove(ctx, "x/1"); n != 2 || err != nil {
		t.Fatalf("Keeper removed %d of Java's items with id x/1: %v", n, err)
	}
	expect(t, "Keeper consumed Java's id queue", take("iq", 1, iq.Consume), "i2")

	// Keeper to Java.
	sq2 := NewSimple(c, "/sq2")
	defer sq2.Close(ctx)
	for _, s := range []string{"r1", "r2", "r3"} {
		if err := sq2.Offer(ctx, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	j.Send(t, "stake /sq2 3")
	if got := j.Await(t, "took"); got != "took r1,r2,r3" {
		t.Fatalf("Java %s", got)
	}
	dq2 := NewDistributed(c, "/dq2")
	defer dq2.Close(ctx)
	pq2 := NewPriority(c, "/pq2")
	defer pq2.Close(ctx)
	dl2 := NewDelay(c, "/dlq2")
	defer dl2.Close(ctx)
	iq2 := NewID(c, "/iq2")
	defer iq2.Close(ctx)
	soon = time.Now().Add(1500 * time.Millisecond)
	for _, err := range []error{
		dq2.Put(ctx, []byte("a")), dq2.PutMulti(ctx, [][]byte{[]byte("m1"), []byte("m2")}), dq2.Put(ctx, []byte("b")),
		pq2.Put(ctx, []byte("p5"), 5), pq2.Put(ctx, []byte("pm3"), -3), pq2.Put(ctx, []byte("p0"), 0),
		dl2.Put(ctx, []byte("c"), soon), dl2.Put(ctx, []byte("b"), past1), dl2.Put(ctx, []byte("a"), past2),
		iq2.Put(ctx, []byte("i1"), "x1"), iq2.Put(ctx, []byte("i2"), "y"), iq2.Put(ctx, []byte("i3"), "x1"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	// (Curator's remove compares the id as given with the replaced one in
	// the name, so it never finds an id with "/" or "|": x1 here.)
	j.Send(t, "iremove /iq2 x1")
	if got := j.Await(t, "removed"); got != "removed 2" {
		t.Fatalf("Java %s of Keeper's items with id x1", got)
	}
	for _, cmd := range []string{"plain /dq2 /dq2-lock", "prio /pq2 -", "delay /dlq2 -", "id /iq2 -"} {
		j.Send(t, "consume %s", cmd)
		j.Await(t, "consuming")
	}
	expect(t, "Java consumed Keeper's DistributedQueue", awaitGot(t, j, "/dq2", 4), "a", "m1", "m2", "b")
	expect(t, "Java consumed Keeper's priority queue", awaitGot(t, j, "/pq2", 3), "pm3", "p0", "p5")
	expect(t, "Java consumed Keeper's delay queue", awaitGot(t, j, "/dlq2", 3), "a", "b", "c")
	expect(t, "Java consumed Keeper's id queue", awaitGot(t, j, "/iq2", 1), "i2")
	j.Send(t, "stop")
	j.Await(t, "stopped")
}

// TestCuratorLockSafetyInterop: a Java consumer with lock safety and a
// Keeper one share a queue whose lockPath they agree on, both through
// proxies that drop their connections while items arrive. Each consumer
// marks an item it consumes with an ephemeral node (over a connection
// that is not dropped): no mark is ever found taken (none consumed twice
// at once), and every item is consumed.
func TestCuratorLockSafetyInterop(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorLockSafetyInterop)
}

func testCuratorLockSafetyInterop(t *testing.T, curator interop.Peer) {
	t.Parallel()
	const items = 150
	ctx := testutil.Ctx(t, 4*time.Minute)
	c, p := testutil.Proxied(t, srv)
	direct := testutil.Connect(t, srv, c)
	jp, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer jp.Close()
	servers, ns := interop.SplitChroot(srv.Servers() + c.Chroot())
	j := curator.Java(t, "QDriver", qDriverSource, jp.Addr(), ns, servers)
	defer j.Close()
	j.Send(t, "consume plain /work /work-lock")
	j.Await(t, "consuming")

	var mu sync.Mutex
	count := map[string]int{}
	var overlaps []string
	keeperGot := 0
	q := NewDistributed(c, "/work", WithLockPath("/work-lock"))
	defer q.Close(ctx)
	javaGot := 0
	var cancel context.CancelFunc
	consumed := make(chan error, 1)
	startKeeper := func() {
		var cctx context.Context
		cctx, cancel = context.WithCancel(ctx)
		go func() {
			consumed <- q.Consume(cctx, func(_ context.Context, item []byte) error {
				mark := "/active/" + string(item)
				if _, err := direct.Create(ctx, mark, nil, keeper.Ephemeral(), keeper.MakeParents()); err != nil {
					mu.Lock()
					overlaps = append(overlaps, fmt.Sprintf("%s (%v)", item, err))
					mu.Unlock()
					return nil
				}
				time.Sleep(15 * time.Millisecond) // hold the item a while, so that Java gets a share
				if err := direct.Delete(ctx, mark, keeper.AnyVersion); err != nil {
					return err
				}
				mu.Lock()
				count[string(item)]++
				keeperGot++
				mu.Unlock()
				return nil
			})
		}()

	}
	producer := NewDistributed(direct, "/work")
	defer producer.Close(ctx)
	for i := range items {
		if err := producer.Put(ctx, []byte(fmt.Sprintf("item%03d", i))); err != nil {
			t.Fatal(err)
		}
		if i%15 == 7 {
			p.Drop()
			jp.Drop()
		}
		if i == items/2 {
			// Java has the queue to itself until it consumes; then Keeper
			// joins, for the second half.
			l := j.Await(t, "got /work ")
			count[strings.TrimPrefix(l, "got /work ")]++
			javaGot++
			startKeeper()
		}
	}
	seen := func() int {
		for j.Seen("got ") {
			d := strings.TrimPrefix(j.Await(t, "got /work "), "got /work ")
			mu.Lock()
			count[d]++
			mu.Unlock()
			javaGot++
		}
		mu.Lock()
		defer mu.Unlock()
		return len(count)
	}
	// A Curator lock create whose reply was lost is retried, finds the
	// node and gives up on the item without deleting its own lock: the
	// item stays locked until Java's session ends. So when nothing moves
	// for a while, Java quits (it consumed what it printed).
	last, lastAt, quit := 0, time.Now(), false
	for n := seen(); n < items; n = seen() {
		if !quit && j.Seen("overlap") {
			t.Fatalf("Java found an item held by another: %s", j.Await(t, "overlap"))
		}
		switch {
		case n != last:
			last, lastAt = n, time.Now()
		case !quit && time.Since(lastAt) > 15*time.Second:
			t.Logf("no progress at %d of %d items: Java quits, so that its orphaned locks go", n, items)
			j.Close()
			seen()
			quit, lastAt = true, time.Now()
		case time.Since(lastAt) > 90*time.Second:
			t.Fatalf("%d of %d items consumed", n, items)
		}
		time.Sleep(50 * time.Millisecond) // polling
	}
	cancel()
	if err := <-consumed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Consume: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(overlaps) > 0 {
		t.Fatalf("Keeper found items held by another: %q", overlaps)
	}
	twice := 0
	for _, n := range count {
		twice += n - 1
	}
	t.Logf("%d items: Java consumed %d, Keeper %d, %d again (after a requeue on a lost session)", items, javaGot, keeperGot, twice)
	if javaGot == 0 || keeperGot == 0 {
		t.Fatalf("one consumer got nothing: Java %d, Keeper %d", javaGot, keeperGot)
	}
}
