package lock

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

var curatorLease = regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lease-\d{10}$`)

// curatorLocksSource is a Java program that drives Curator's
// InterProcessReadWriteLock, InterProcessSemaphoreV2 and InterProcessMutex
// (with revocation), by commands on stdin:
//
//	rw NAME PATH            an InterProcessReadWriteLock: locks NAME.r and NAME.w
//	mutex NAME PATH         an InterProcessMutex, revocable ("revoked NAME" when asked)
//	sem NAME PATH MAX       an InterProcessSemaphoreV2 with MAX leases
//	semc NAME PATH COUNT    one whose maximum is the SharedCount at COUNT
//	acquire NAME            blocking, on the lock's own thread: "acquired NAME"
//	try NAME                "try NAME true|false" (no wait)
//	release NAME            "released NAME"
//	revoke PATH             Revoker.attemptRevoke: "revoke sent"
//	nodes NAME              the participant node names: "nodes NAME a,b"
const curatorLocksSource = `
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.*;
import java.util.concurrent.*;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.*;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class LocksDriver {
    static synchronized void out(String s) {
        System.out.println(s);
        System.out.flush();
    }

    // A lock and the thread it belongs to (Curator's mutexes are
    // thread-owned).
    static class Obj {
        InterProcessMutex mutex;
        InterProcessSemaphoreV2 sem;
        Lease lease;
        final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        boolean acquire(long ms) throws Exception {
            if (mutex != null) {
                if (ms < 0) { mutex.acquire(); return true; }
                return mutex.acquire(ms, TimeUnit.MILLISECONDS);
            }
            lease = ms < 0 ? sem.acquire() : sem.acquire(ms, TimeUnit.MILLISECONDS);
            return lease != null;
        }
        void release() throws Exception {
            if (mutex != null) { mutex.release(); return; }
            sem.returnLease(lease);
            lease = null;
        }
    }

    public static void main(String[] args) throws Exception {
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder()
            .connectString(args[0])
            .sessionTimeoutMs(10000)
            .connectionTimeoutMs(15000)
            .retryPolicy(new ExponentialBackoffRetry(100, 10));
        if (args.length > 1 && !args[1].isEmpty()) {
            b = b.namespace(args[1]);
        }
        CuratorFramework c = b.build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            out("error connect");
            return;
        }
        Map<String, Obj> objs = new ConcurrentHashMap<>();
        List<SharedCount> counts = new ArrayList<>();
        out("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            String[] p = line.trim().split("\\s+");
            if (p.length == 0 || p[0].isEmpty()) continue;
            String cmd = p[0];
            try {
                if (cmd.equals("quit")) break;
                switch (cmd) {
                case "rw": {
                    InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, p[2]);
                    Obj r = new Obj(); r.mutex = rw.readLock();
                    Obj w = new Obj(); w.mutex = rw.writeLock();
                    objs.put(p[1] + ".r", r);
                    objs.put(p[1] + ".w", w);
                    out("ok " + p[1]);
                    break;
                }
                case "mutex": {
                    Obj o = new Obj();
                    o.mutex = new InterProcessMutex(c, p[2]);
                    String name = p[1];
                    o.mutex.makeRevocable(l -> out("revoked " + name));
                    objs.put(p[1], o);
                    out("ok " + p[1]);
                    break;
                }
                case "sem": {
                    Obj o = new Obj();
                    o.sem = new InterProcessSemaphoreV2(c, p[2], Integer.parseInt(p[3]));
                    objs.put(p[1], o);
                    out("ok " + p[1]);
                    break;
                }
                case "semc": {
                    SharedCount sc = new SharedCount(c, p[3], 1);
                    sc.start();
                    counts.add(sc);
                    Obj o = new Obj();
                    o.sem = new InterProcessSemaphoreV2(c, p[2], sc);
                    objs.put(p[1], o);
                    out("ok " + p[1]);
                    break;
                }
                case "acquire": {
                    Obj o = objs.get(p[1]);
                    String name = p[1];
                    o.thread.submit(() -> {
                        try { o.acquire(-1); out("acquired " + name); }
                        catch (Exception e) { out("error acquire " + name + " " + e); }
                    });
                    break;
                }
                case "try": {
                    Obj o = objs.get(p[1]);
                    boolean ok = o.thread.submit(() -> o.acquire(0)).get();
                    out("try " + p[1] + " " + ok);
                    break;
                }
                case "release": {
                    Obj o = objs.get(p[1]);
                    o.thread.submit(() -> { o.release(); return null; }).get();
                    out("released " + p[1]);
                    break;
                }
                case "revoke":
                    Revoker.attemptRevoke(c, p[1]);
                    out("revoke sent");
                    break;
                case "nodes": {
                    Obj o = objs.get(p[1]);
                    Collection<String> ns = o.mutex != null ? o.mutex.getParticipantNodes() : o.sem.getParticipantNodes();
                    List<String> names = new ArrayList<>();
                    for (String n : ns) names.add(n.substring(n.lastIndexOf('/') + 1));
                    out("nodes " + p[1] + " " + String.join(",", names));
                    break;
                }
                default:
                    out("error unknown command " + cmd);
                }
            } catch (Exception e) {
                out("error " + cmd + " " + e.toString().replace('\n', ' '));
            }
        }
        for (SharedCount sc : counts) sc.close();
        c.close();
    }
}
`

// curatorLocks starts curatorLocksSource for the peer against hosts
// (servers and a chroot, Curator's namespace).
func curatorLocks(t *testing.T, peer interop.Peer, hosts string) *interop.Proc {
	t.Helper()
	connect, ns, _ := strings.Cut(hosts, "/")
	return peer.Java(t, "LocksDriver", curatorLocksSource, connect, ns)
}

// TestCuratorReadWriteLock: Keeper's ReadLock and WriteLock with the
// Curator layout and Curator's InterProcessReadWriteLock share a path:
// readers share it, writers exclude everyone, in both directions.
func TestCuratorReadWriteLock(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorReadWriteLock)
}

func testCuratorReadWriteLock(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	j := curatorLocks(t, curator, srv.Servers()+c.Chroot())
	j.Send(t, "rw j /rw")
	j.Await(t, "ok j")
	r := NewReadLock(c, "/rw", "keeper-r", WithCuratorLayout())
	w := NewWriteLock(c, "/rw", "keeper-w", WithCuratorLayout())

	// Curator reads: we read too, neither side writes.
	j.Send(t, "try j.r")
	j.Await(t, "try j.r true")
	if ok, err := r.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("reader beside Curator's reader = %v, %v", ok, err)
	}
	if ok, err := w.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("writer beside Curator's reader = %v, %v", ok, err)
	}
	j.Send(t, "try j.w")
	j.Await(t, "try j.w false")
	kids := children(t, c, "/rw")
	if len(kids) != 2 || !curatorRName.MatchString(kids[0]) || !curatorRName.MatchString(kids[1]) {
		t.Fatalf("children %q", kids)
	}

	// Curator's writer queues behind both readers, ours behind it.
	j.Send(t, "acquire j.w")
	testutil.WaitFor(t, 30*time.Second, "Curator's writer to queue", func() bool { return len(children(t, c, "/rw")) == 3 })
	got := make(chan error, 1)
	go func() { got <- w.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "our writer to queue", func() bool { return len(children(t, c, "/rw")) == 4 })
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}
	j.Send(t, "release j.r")
	j.Await(t, "released j.r")
	j.Await(t, "acquired j.w")
	select {
	case err := <-got:
		t.Fatalf("our writer got in beside Curator's: %v", err)
	default:
	}
	if ok, err := r.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("reader beside Curator's writer = %v, %v", ok, err)
	}
	j.Send(t, "release j.w")
	j.Await(t, "released j.w")
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	// We write: Curator can neither read nor write until we release.
	j.Send(t, "try j.r")
	j.Await(t, "try j.r false")
	j.Send(t, "try j.w")
	j.Await(t, "try j.w false")
	j.Send(t, "acquire j.r")
	testutil.WaitFor(t, 30*time.Second, "Curator's reader to queue", func() bool { return len(children(t, c, "/rw")) == 2 })
	if j.Seen("acquired j.r") {
		t.Fatal("Curator read beside our writer")
	}
	if err := w.Release(ctx); err != nil {
		t.Fatal(err)
	}
	j.Await(t, "acquired j.r")
	j.Send(t, "release j.r")
	j.Await(t, "released j.r")
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// TestCuratorSemaphoreV2: Keeper's Semaphore with the Curator layout and
// Curator's InterProcessSemaphoreV2 share leases, each waiting while
// holding the mutex; the maximum can come from Curator's SharedCount.
func TestCuratorSemaphoreV2(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorSemaphoreV2)
}

func testCuratorSemaphoreV2(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	j := curatorLocks(t, curator, srv.Servers()+c.Chroot())
	for _, cmd := range []string{"sem s1 /sem 2", "sem s2 /sem 2"} {
		j.Send(t, "%s", cmd)
		j.Await(t, "ok ")
	}
	a := NewSemaphore(c, "/sem", "keeper-a", 2, WithCuratorLayout())
	b := NewSemaphore(c, "/sem", "keeper-b", 2, WithCuratorLayout())
	j.Send(t, "acquire s1")
	j.Await(t, "acquired s1")
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// Two of two leases taken, one by each side.
	if ok, err := b.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("third lease = %v, %v", ok, err)
	}
	j.Send(t, "try s2")
	j.Await(t, "try s2 false")
	leases := children(t, c, "/sem/leases")
	if len(leases) != 2 || !curatorLease.MatchString(leases[0]) || !curatorLease.MatchString(leases[1]) {
		t.Fatalf("leases %q", leases)
	}
	if h, err := a.LeaseHolders(ctx); err != nil || len(h) != 2 {
		t.Fatalf("holders %q, %v", h, err)
	}

	// Our waiter holds the mutex while it waits; Curator's queues on it.
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "our waiter to hold the mutex", func() bool {
		return len(children(t, c, "/sem/locks")) == 1 && len(children(t, c, "/sem/leases")) == 3
	})
	j.Send(t, "acquire s2")
	testutil.WaitFor(t, 30*time.Second, "Curator's waiter to queue on the mutex", func() bool { return len(children(t, c, "/sem/locks")) == 2 })
	j.Send(t, "release s1")
	j.Await(t, "released s1")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Now Curator's waiter holds the mutex and waits for a lease.
	testutil.WaitFor(t, 30*time.Second, "Curator's waiter to count the leases", func() bool {
		return len(children(t, c, "/sem/locks")) == 1 && len(children(t, c, "/sem/leases")) == 3
	})
	if j.Seen("acquired s2") {
		t.Fatal("Curator took a third lease")
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	j.Await(t, "acquired s2")
	j.Send(t, "release s2")
	j.Await(t, "released s2")
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := children(t, c, "/sem/leases"); len(kids) != 0 {
		t.Fatalf("leases left %q", kids)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())

	// The maximum from Curator's SharedCount (seeded 1): raising it lets
	// our waiter in.
	j.Send(t, "semc sc /semc /count")
	j.Await(t, "ok sc")
	j.Send(t, "acquire sc")
	j.Await(t, "acquired sc")
	s := NewSemaphore(c, "/semc", "keeper", 0, WithCuratorLayout(), WithMaxLeasesFrom("/count"))
	if ok, err := s.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("lease beyond the count = %v, %v", ok, err)
	}
	go func() { got <- s.Acquire(ctx) }()
	testutil.WaitFor(t, 30*time.Second, "our waiter", func() bool { return len(children(t, c, "/semc/leases")) == 2 })
	if _, err := c.Set(ctx, "/count", []byte{0, 0, 0, 2}, keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx); err != nil {
		t.Fatal(err)
	}
	j.Send(t, "release sc")
	j.Await(t, "released sc")
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// TestCuratorRevoke: Revoke reaches Curator's revocable mutex, and
// Curator's Revoker reaches our Lock.
func TestCuratorRevoke(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorRevoke)
}

func testCuratorRevoke(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	j := curatorLocks(t, curator, srv.Servers()+c.Chroot())
	j.Send(t, "mutex m /rv")
	j.Await(t, "ok m")
	j.Send(t, "acquire m")
	j.Await(t, "acquired m")
	kids := children(t, c, "/rv")
	if len(kids) != 1 {
		t.Fatalf("children %q", kids)
	}
	if err := Revoke(ctx, c, "/rv/"+kids[0]); err != nil {
		t.Fatal(err)
	}
	j.Await(t, "revoked m")
	j.Send(t, "release m")
	j.Await(t, "released m")

	l := New(c, "/rv", "keeper", WithCuratorLayout())
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	j.Send(t, "revoke %s", l.Node())
	j.Await(t, "revoke sent")
	select {
	case <-l.Revoked():
	case <-ctx.Done():
		t.Fatal("Curator's revocation not seen")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
