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

	"github.com/keeper-go/keeper/recipe/election"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

// TestKazooElection runs a Keeper Election against Kazoo's. Kazoo's
// Election is its Lock (election.py holds a client.Lock and runs the
// function while holding it), so the shared driver's Kazoo lock stands for
// a Kazoo contender: "acquired" is Kazoo being elected, "release" its
// function returning.
func TestKazooElection(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	k := interop.Kazoo(t, srv.Servers()+c.Chroot())
	kazooContenders := func() []string {
		k.Send(t, "contenders py")
		line := k.Await(t, "contenders py ")
		var ids []string
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "contenders py ")), &ids); err != nil {
			t.Fatalf("contenders reply %q: %v", line, err)
		}
		return ids
	}

	// Kazoo leads first; ours waits.
	k.Send(t, "lock py lock /elect py")
	k.Send(t, "acquire py")
	k.Await(t, "acquired py")
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
	waitFor(t, 30*time.Second, "ours queued behind Kazoo", func() bool {
		ids, err := e.Contenders(ctx)
		return err == nil && slices.Equal(ids, []string{"py", "go"})
	})
	if ids := kazooContenders(); !slices.Equal(ids, []string{"py", "go"}) {
		t.Fatalf("Kazoo sees contenders %q", ids)
	}
	waitFor(t, 30*time.Second, "ours watching Kazoo's node", func() bool { return len(watches(ctx, t, c)) > 0 })
	select {
	case <-leads:
		t.Fatal("ours leads while Kazoo does")
	default:
	}

	// Kazoo's function returns: ours leads, and Kazoo's next run waits.
	k.Send(t, "release py")
	k.Await(t, "released py True")
	<-leads
	k.Send(t, "acquire py")
	waitFor(t, 30*time.Second, "Kazoo queued behind ours", func() bool {
		ids, err := e.Contenders(ctx)
		return err == nil && slices.Equal(ids, []string{"go", "py"})
	})
	if ids := kazooContenders(); !slices.Equal(ids, []string{"go", "py"}) {
		t.Fatalf("Kazoo sees contenders %q", ids)
	}
	if k.Seen("acquired py") {
		t.Fatal("Kazoo leads while ours does")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	k.Await(t, "acquired py")
	k.Send(t, "release py")
	k.Await(t, "released py True")
	assertClean(t, "/elect", c)
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

// javaProc is a running LatchDriver.
type javaProc struct {
	stdin  io.WriteCloser
	lines  chan string
	mu     sync.Mutex
	stderr bytes.Buffer
	kept   []string // lines read but not awaited yet
}

func (p *javaProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

// startCurator compiles the driver with javac and runs it against hosts
// (servers and a chroot, which Curator takes as its namespace), with
// Debian's Curator 5.4.0 jars; a missing tool fails the test.
func startCurator(t *testing.T, hosts string) *javaProc {
	t.Helper()
	const hint = "run scripts/install-zookeeper (Debian packages libcurator-recipes-java and default-jdk-headless)"
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("javac not found: %v; %s", err, hint)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found: %v; %s", err, hint)
	}
	var cp []string
	// The jars' manifests list what they need (guava, slf4j-api, jute...).
	for _, j := range []string{"curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar", "slf4j-simple.jar"} {
		p := filepath.Join("/usr/share/java", j)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: %v; %s", p, err, hint)
		}
		cp = append(cp, p)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "LatchDriver.java")
	if err := os.WriteFile(src, []byte(curatorLatchSource), 0o600); err != nil {
		t.Fatal(err)
	}
	classpath := strings.Join(cp, string(os.PathListSeparator))
	if out, err := exec.Command(javac, "-nowarn", "-cp", classpath, "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	connect, ns, _ := strings.Cut(hosts, "/")
	cmd := exec.Command(java, "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", dir+string(os.PathListSeparator)+classpath, "LatchDriver", connect, ns)
	p := &javaProc{lines: make(chan string, 256)}
	cmd.Stderr = p
	p.stdin, err = cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start java: %v; %s", err, hint)
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
			t.Logf("Curator driver stderr:\n%s", p.stderr.String())
			p.mu.Unlock()
		}
	})
	p.await(t, "ready")
	return p
}

func (p *javaProc) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("Curator driver: send %q: %v", line, err)
	}
}

// await waits for a line starting with prefix; other lines are kept.
func (p *javaProc) await(t *testing.T, prefix string) string {
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
				t.Fatalf("Curator driver exited while waiting for %q", prefix)
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("Curator driver: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
			p.kept = append(p.kept, l)
		case <-timeout.C:
			t.Fatalf("Curator driver: no %q after 60s", prefix)
		}
	}
}

// seen reports whether a line starting with prefix has arrived, without
// waiting.
func (p *javaProc) seen(prefix string) bool {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return false
			}
			p.kept = append(p.kept, l)
			continue
		default:
		}
		break
	}
	return slices.ContainsFunc(p.kept, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

func TestCuratorLeaderLatch(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	j := startCurator(t, srv.Servers()+c.Chroot())

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
	waitFor(t, 30*time.Second, "Curator's latch queued", func() bool {
		ids, err := a.Participants(ctx)
		return err == nil && slices.Equal(ids, []string{"go-a", "java"})
	})
	j.send(t, "status")
	if st := j.await(t, "status "); !strings.HasPrefix(st, "status false ") || !strings.Contains(st, "/latch/_c_") || !strings.Contains(st, "-latch-") {
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
	waitFor(t, 30*time.Second, "ours queued behind Curator's", func() bool {
		ids, err := b.Participants(ctx)
		return err == nil && slices.Equal(ids, []string{"java", "go-b"})
	})
	waitFor(t, 30*time.Second, "ours watching Curator's node", func() bool { return len(watches(ctx, t, c)) > 0 })
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
	assertClean(t, "/latch", c)
}
