package election_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/election"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

// kazooElectionSource is a Python program that runs Kazoo's Election,
// driven by commands on stdin: "election NAME PATH ID"; "run NAME", which
// runs for the election in a thread and answers "leading NAME" once elected
// and "ran NAME" when run returns; "release NAME", which makes the leader's
// function return; "contenders NAME"; "quit".
const kazooElectionSource = `
import json, sys, threading
from kazoo.client import KazooClient

zk = KazooClient(hosts=sys.argv[1], timeout=10.0)
zk.start(timeout=30)
mu = threading.Lock()
elections, releases = {}, {}

def out(*words):
    with mu:
        sys.stdout.write(" ".join(words) + "\n")
        sys.stdout.flush()

def runner(name, ev):
    def lead():
        out("leading", name)
        ev.wait()
    try:
        elections[name].run(lead)
        out("ran", name)
    except Exception as e:
        out("error", repr(e))

out("ready")
for line in sys.stdin:
    f = line.split()
    if not f:
        continue
    try:
        if f[0] == "election":
            elections[f[1]] = zk.Election(f[2], f[3])
        elif f[0] == "run":
            releases[f[1]] = threading.Event()
            threading.Thread(target=runner, args=(f[1], releases[f[1]]), daemon=True).start()
        elif f[0] == "release":
            releases[f[1]].set()
        elif f[0] == "contenders":
            out("contenders", f[1], json.dumps(elections[f[1]].contenders()))
        elif f[0] == "quit":
            break
        else:
            out("error unknown command", f[0])
    except Exception as e:
        out("error", repr(e))
zk.stop()
zk.close()
`

// startKazoo runs kazooElectionSource against hosts (servers and chroot)
// with the peer's Python, for which its Kazoo is installed.
func startKazoo(t *testing.T, peer interop.Peer, hosts string) *proc {
	t.Helper()
	script := filepath.Join(t.TempDir(), "kazoo_election.py")
	if err := os.WriteFile(script, []byte(kazooElectionSource), 0o600); err != nil {
		t.Fatal(err)
	}
	return startProc(t, "Kazoo driver", exec.Command(peer.Python, script, hosts))
}

// TestKazooElection runs a Keeper Election against Kazoo's Election on the
// same path: each excludes the other, and both list the same contenders.
func TestKazooElection(t *testing.T) {
	t.Parallel()
	interop.EachKazoo(t, testKazooElection)
}

func testKazooElection(t *testing.T, kazoo interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := startKazoo(t, kazoo, srv.Servers()+c.Chroot())
	kazooContenders := func() []string {
		k.send(t, "contenders py")
		line := k.await(t, "contenders py ")
		var ids []string
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "contenders py ")), &ids); err != nil {
			t.Fatalf("contenders reply %q: %v", line, err)
		}
		return ids
	}

	// Kazoo leads first; ours waits.
	k.send(t, "election py /elect py")
	k.send(t, "run py")
	k.await(t, "leading py")
	e := election.New(c, "/elect", "go")
	leads := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- e.Run(ctx, func(ctx context.Context) error {
			close(leads)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	testutil.WaitFor(t, 30*time.Second, "ours queued behind Kazoo", func() bool {
		ids, err := e.Contenders(ctx)
		return err == nil && slices.Equal(ids, []string{"py", "go"})
	})
	if ids := kazooContenders(); !slices.Equal(ids, []string{"py", "go"}) {
		t.Fatalf("Kazoo sees contenders %q", ids)
	}
	testutil.WaitFor(t, 30*time.Second, "ours watching Kazoo's node", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c)) > 0 })
	select {
	case <-leads:
		t.Fatal("ours leads while Kazoo does")
	default:
	}

	// Kazoo's function returns: ours leads, and Kazoo's next run waits.
	k.send(t, "release py")
	k.await(t, "ran py")
	<-leads
	k.send(t, "run py")
	testutil.WaitFor(t, 30*time.Second, "Kazoo queued behind ours", func() bool {
		ids, err := e.Contenders(ctx)
		return err == nil && slices.Equal(ids, []string{"go", "py"})
	})
	if ids := kazooContenders(); !slices.Equal(ids, []string{"go", "py"}) {
		t.Fatalf("Kazoo sees contenders %q", ids)
	}
	if k.seen("leading py") {
		t.Fatal("Kazoo leads while ours does")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	k.await(t, "leading py")
	k.send(t, "release py")
	k.await(t, "ran py")
	testutil.AssertClean(t, srv, "/elect", c)
}

// curatorLatchSource is a Java program that runs one Curator LeaderLatch,
// driven by commands on stdin: "start PATH ID", "status", "close", "quit".
// It prints "leader" and "notleader" from the latch's listener.
const curatorLatchSource = `
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class LatchDriver {
    static synchronized void out(String s) {
        System.out.println(s);
        System.out.flush();
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
            out("error not connected");
            return;
        }
        out("ready");
        LeaderLatch latch = null;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                case "start":
                    latch = new LeaderLatch(c, f[1], f[2]);
                    latch.addListener(new LeaderLatchListener() {
                        public void isLeader() { out("leader"); }
                        public void notLeader() { out("notleader"); }
                    });
                    latch.start();
                    out("started");
                    break;
                case "status":
                    out("status " + latch.hasLeadership() + " " + latch.getOurPath());
                    break;
                case "close":
                    latch.close();
                    out("closed");
                    break;
                case "quit":
                    c.close();
                    out("bye");
                    return;
                default:
                    out("error unknown command " + f[0]);
                }
            } catch (Exception e) {
                out("error " + e);
            }
        }
    }
}
`

// proc is a driver process that obeys commands on its stdin and answers
// with lines on its stdout.
type proc struct {
	name   string
	stdin  io.WriteCloser
	lines  chan string
	mu     sync.Mutex
	stderr bytes.Buffer
	kept   []string // lines read but not awaited yet
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

// startProc starts cmd, stops it at the end of the test (logging its
// stderr if the test failed) and waits for its "ready" line.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, lines: make(chan string, 256)}
	cmd.Stderr = p
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_, _ = io.WriteString(p.stdin, "quit\n")
		p.stdin.Close()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
			p.mu.Unlock()
		}
	})
	p.await(t, "ready")
	return p
}

func (p *proc) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: send %q: %v", p.name, line, err)
	}
}

// await waits for a line starting with prefix; other lines are kept for
// later calls. A line starting with "error" fails the test.
func (p *proc) await(t *testing.T, prefix string) string {
	t.Helper()
	for i, l := range p.kept {
		if strings.HasPrefix(l, prefix) {
			p.kept = slices.Delete(p.kept, i, i+1)
			return l
		}
	}
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited while waiting for %q", p.name, prefix)
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("%s: %s", p.name, l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
			p.kept = append(p.kept, l)
		case <-timeout.C:
			t.Fatalf("%s: no %q after 60s", p.name, prefix)
		}
	}
}

// seen reports whether a line starting with prefix has arrived (and not
// been awaited), without waiting.
func (p *proc) seen(prefix string) bool {
	for drained := false; !drained; {
		select {
		case l, ok := <-p.lines:
			if !ok {
				drained = true
				break
			}
			p.kept = append(p.kept, l)
		default:
			drained = true
		}
	}
	return slices.ContainsFunc(p.kept, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// startCurator compiles the driver with javac and runs it against hosts
// (servers and a chroot, which Curator takes as its namespace) with the
// peer's jars; a missing tool fails the test.
func startCurator(t *testing.T, peer interop.Peer, hosts string) *proc {
	t.Helper()
	return startJava(t, peer, hosts, "LatchDriver", curatorLatchSource)
}

// startJava compiles and runs the Java program src, whose class is
// class, against hosts, with the peer's jars (see startCurator).
func startJava(t *testing.T, peer interop.Peer, hosts, class, src string) *proc {
	t.Helper()
	dir, err := interop.CompileJava(t, peer, class, src)
	if err != nil {
		t.Fatal(err)
	}
	connect, ns, _ := strings.Cut(hosts, "/")
	return startProc(t, "Curator driver", interop.JavaCommand(t, peer, dir, class, connect, ns))
}

func TestCuratorLeaderLatch(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorLeaderLatch)
}

func testCuratorLeaderLatch(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	j := startCurator(t, curator, srv.Servers()+c.Chroot())

	// Ours leads first; Curator's latch waits behind it.
	a := election.NewLeaderLatch(c, "/latch", "go-a")
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Await(ctx); err != nil {
		t.Fatal(err)
	}
	j.send(t, "start /latch java")
	j.await(t, "started")
	testutil.WaitFor(t, 30*time.Second, "Curator's latch queued", func() bool {
		ids, err := a.Participants(ctx)
		return err == nil && slices.Equal(ids, []string{"go-a", "java"})
	})
	// Curator learns its node's name in a callback: ask until it has it.
	var st string
	testutil.WaitFor(t, 30*time.Second, "Curator's latch to know its node", func() bool {
		j.send(t, "status")
		st = j.await(t, "status ")
		return !strings.HasSuffix(st, " null")
	})
	if !strings.HasPrefix(st, "status false ") || !strings.Contains(st, "/latch/_c_") || !strings.Contains(st, "-latch-") {
		t.Fatalf("Curator's latch while ours leads: %q", st)
	}

	// Closing ours hands leadership to Curator's.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	j.await(t, "leader")

	// A new latch of ours waits while Curator's leads...
	b := election.NewLeaderLatch(c, "/latch", "go-b")
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "ours queued behind Curator's", func() bool {
		ids, err := b.Participants(ctx)
		return err == nil && slices.Equal(ids, []string{"java", "go-b"})
	})
	testutil.WaitFor(t, 30*time.Second, "ours watching Curator's node", func() bool { return len(testutil.ChrootWatches(ctx, t, srv.Addr(0), c)) > 0 })
	if b.HasLeadership() {
		t.Fatal("ours leads while Curator's does")
	}
	j.send(t, "status")
	if st := j.await(t, "status "); !strings.HasPrefix(st, "status true ") {
		t.Fatalf("Curator's latch: %q", st)
	}
	// ... and leads once Curator's is closed.
	j.send(t, "close")
	j.await(t, "closed")
	if err := b.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if j.seen("leader") {
		t.Fatal("Curator's latch led twice")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/latch", c)
}
