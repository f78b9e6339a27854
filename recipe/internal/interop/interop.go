// Package interop drives Kazoo (Python) and Apache Curator (Java) from Go
// tests, so that the recipes can be tested against the implementations they
// must interoperate with.
//
// Each helper starts one process per test that connects to the given
// connect string and then obeys commands, one per line on its stdin, and
// answers with lines on its stdout. Objects (locks, semaphores) are created
// by name and then acquired and released by name; blocking acquires run in
// the background and answer "acquired <name>" when done:
//
//	k := interop.Kazoo(t, srv.Servers()+c.Chroot())
//	k.Send(t, "lock a lock /l kazoo-a")
//	k.Send(t, "acquire a")
//	k.Await(t, "acquired a")
//
// A missing Python, Kazoo, javac or Curator jar fails the test with an
// install hint (scripts/install-zookeeper installs them); it never skips.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Python is Debian's interpreter, for which the python3-kazoo package is
// installed; the first python3 on PATH may be another one.
const Python = "/usr/bin/python3"

// JavaDir is where Debian installs the Curator and ZooKeeper jars.
const JavaDir = "/usr/share/java"

const installHint = "install it with scripts/install-zookeeper (Debian packages python3-kazoo, libcurator-recipes-java, default-jdk-headless)"

// Proc is a running helper process.
type Proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string

	mu      sync.Mutex
	backlog []string // lines read but not yet awaited
	stderr  bytes.Buffer
	done    chan struct{}
}

// start runs the command and waits for its "ready" line.
func start(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{name: name, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start %s: %v; %s", name, err, installHint)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Close() })
	p.Await(t, "ready")
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Stderr returns what the process wrote to its stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Send writes one command line.
func (p *Proc) Send(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("interop: %s: send %q: %v\nstderr:\n%s", p.name, line, err, p.Stderr())
	}
}

// Await waits (up to 60s) for a line that starts with prefix and returns
// it; lines that do not match are kept for later calls. A line starting
// with "error" fails the test.
func (p *Proc) Await(t testing.TB, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	line, err := p.AwaitCtx(ctx, prefix)
	if err != nil {
		t.Fatalf("interop: %s: %v\nstderr:\n%s", p.name, err, p.Stderr())
	}
	return line
}

// AwaitCtx is Await bounded by ctx, returning errors instead of failing.
func (p *Proc) AwaitCtx(ctx context.Context, prefix string) (string, error) {
	if l, ok := p.take(prefix); ok {
		return l, nil
	}
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("exited while waiting for %q", prefix)
			}
			if strings.HasPrefix(l, "error") {
				return "", fmt.Errorf("reported %q while waiting for %q", l, prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
			p.mu.Lock()
			p.backlog = append(p.backlog, l)
			p.mu.Unlock()
		case <-ctx.Done():
			return "", fmt.Errorf("no %q line: %w (unmatched lines %q)", prefix, ctx.Err(), p.pending())
		}
	}
}

// Seen reports, without waiting, whether a line starting with prefix has
// arrived (and not been awaited yet).
func (p *Proc) Seen(prefix string) bool {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return p.has(prefix)
			}
			p.mu.Lock()
			p.backlog = append(p.backlog, l)
			p.mu.Unlock()
			continue
		default:
		}
		return p.has(prefix)
	}
}

func (p *Proc) has(prefix string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.backlog {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func (p *Proc) take(prefix string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, l := range p.backlog {
		if strings.HasPrefix(l, prefix) {
			p.backlog = append(p.backlog[:i], p.backlog[i+1:]...)
			return l, true
		}
	}
	return "", false
}

func (p *Proc) pending() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.backlog...)
}

// Close asks the process to quit, and kills it when it has not exited
// after 10s.
func (p *Proc) Close() {
	_, _ = io.WriteString(p.stdin, "quit\n")
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kazoo starts a Python process that connects Kazoo's KazooClient to hosts
// (a connect string, with a chroot if wanted). Commands:
//
//	lock NAME KIND PATH ID     create a Lock (KIND lock), ReadLock (rlock) or WriteLock (wlock)
//	sem NAME PATH ID MAX       create a Semaphore
//	acquire NAME               blocking acquire in the background: "acquired NAME"
//	try NAME                   acquire(blocking=False): "try NAME True|False"
//	release NAME               "released NAME True|False"
//	contenders NAME            "contenders NAME <json list>"
//	holders NAME               "holders NAME <sorted json list>"
//	lease PATH SECONDS ID      NonBlockingLease: "lease True|False"
//	mlease COUNT PATH SECONDS ID  MultiNonBlockingLease: "mlease True|False"
//	children PATH              "children <sorted json list>"
//	get PATH                   "get <json string of the data>"
func Kazoo(t testing.TB, hosts string) *Proc {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Fatalf("interop: %s is missing: %v; %s", Python, err, installHint)
	}
	if out, err := exec.Command(Python, "-c", "import kazoo").CombinedOutput(); err != nil {
		t.Fatalf("interop: %s cannot import kazoo: %v\n%s\n%s", Python, err, out, installHint)
	}
	script := filepath.Join(t.TempDir(), "kazoo_driver.py")
	if err := os.WriteFile(script, []byte(kazooScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, "kazoo", exec.Command(Python, "-u", script, hosts))
}

const kazooScript = `
import datetime, json, logging, sys, threading
from kazoo.client import KazooClient
from kazoo.recipe.lease import NonBlockingLease, MultiNonBlockingLease

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=30)
objs = {}
out_mu = threading.Lock()

def out(*words):
    with out_mu:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()

def background(name):
    try:
        objs[name].acquire()
        out("acquired", name)
    except Exception as e:
        out("error", "acquire", name, repr(e))

out("ready")
for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    cmd, args = parts[0], parts[1:]
    try:
        if cmd == "quit":
            break
        elif cmd == "lock":
            name, kind, path, ident = args
            cls = {"lock": zk.Lock, "rlock": zk.ReadLock, "wlock": zk.WriteLock}[kind]
            objs[name] = cls(path, ident)
            out("ok", name)
        elif cmd == "sem":
            name, path, ident, n = args
            objs[name] = zk.Semaphore(path, ident, max_leases=int(n))
            out("ok", name)
        elif cmd == "acquire":
            threading.Thread(target=background, args=(args[0],), daemon=True).start()
        elif cmd == "try":
            out("try", args[0], objs[args[0]].acquire(blocking=False))
        elif cmd == "release":
            out("released", args[0], objs[args[0]].release())
        elif cmd == "contenders":
            out("contenders", args[0], json.dumps(objs[args[0]].contenders()))
        elif cmd == "holders":
            out("holders", args[0], json.dumps(sorted(objs[args[0]].lease_holders())))
        elif cmd == "lease":
            path, secs, ident = args
            l = NonBlockingLease(zk, path, datetime.timedelta(seconds=float(secs)), identifier=ident)
            out("lease", bool(l))
        elif cmd == "mlease":
            count, path, secs, ident = args
            l = MultiNonBlockingLease(zk, int(count), path, datetime.timedelta(seconds=float(secs)), identifier=ident)
            out("mlease", bool(l))
        elif cmd == "children":
            out("children", json.dumps(sorted(zk.get_children(args[0]))))
        elif cmd == "get":
            data, _ = zk.get(args[0])
            out("get", json.dumps(data.decode("utf-8")))
        else:
            out("error", "unknown command", cmd)
    except Exception as e:
        out("error", cmd, repr(e))
zk.stop()
zk.close()
`

// curatorJars are the jars the Curator driver compiles and runs with; their
// manifests pull in guava, slf4j-api and ZooKeeper's own dependencies.
var curatorJars = []string{"curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar", "slf4j-nop.jar"}

// Curator compiles (with javac, into a temporary directory) and starts a
// Java program that connects a CuratorFramework to hosts (a connect string;
// a chroot is given as Curator's namespace). Commands:
//
//	mutex NAME PATH            create an InterProcessMutex
//	acquire NAME               blocking acquire on the mutex's own thread: "acquired NAME"
//	try NAME                   acquire(0 ms): "try NAME true|false"
//	release NAME               "released NAME"
//	nodes NAME                 "nodes NAME <participant node names, comma-separated>"
//	children PATH              "children <sorted names, comma-separated>"
func Curator(t testing.TB, hosts string) *Proc {
	t.Helper()
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("interop: javac not found: %v; %s", err, installHint)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("interop: java not found: %v; %s", err, installHint)
	}
	var cp []string
	for _, j := range curatorJars {
		p := filepath.Join(JavaDir, j)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("interop: %s is missing: %v; %s", p, err, installHint)
		}
		cp = append(cp, p)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "CuratorDriver.java")
	if err := os.WriteFile(src, []byte(curatorSource), 0o644); err != nil {
		t.Fatal(err)
	}
	classpath := strings.Join(cp, string(os.PathListSeparator))
	if out, err := exec.Command(javac, "-nowarn", "-cp", classpath, "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("interop: javac: %v\n%s", err, out)
	}
	connect, ns := hosts, ""
	if i := strings.IndexByte(hosts, '/'); i >= 0 {
		connect, ns = hosts[:i], strings.TrimPrefix(hosts[i:], "/")
	}
	cmd := exec.Command(java, "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", dir+string(os.PathListSeparator)+classpath, "CuratorDriver", connect, ns)
	return start(t, "curator", cmd)
}

const curatorSource = `
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.*;
import java.util.concurrent.*;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorDriver {
    static synchronized void out(String s) {
        System.out.println(s);
        System.out.flush();
    }

    static class Mutex {
        final InterProcessMutex m;
        // InterProcessMutex belongs to the thread that acquired it.
        final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        Mutex(CuratorFramework c, String path) { m = new InterProcessMutex(c, path); }
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
        Map<String, Mutex> objs = new ConcurrentHashMap<>();
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
                case "mutex":
                    objs.put(p[1], new Mutex(c, p[2]));
                    out("ok " + p[1]);
                    break;
                case "acquire": {
                    Mutex m = objs.get(p[1]);
                    String name = p[1];
                    m.thread.submit(() -> {
                        try { m.m.acquire(); out("acquired " + name); }
                        catch (Exception e) { out("error acquire " + name + " " + e); }
                    });
                    break;
                }
                case "try": {
                    Mutex m = objs.get(p[1]);
                    boolean ok = m.thread.submit(() -> m.m.acquire(0, TimeUnit.MILLISECONDS)).get();
                    out("try " + p[1] + " " + ok);
                    break;
                }
                case "release": {
                    Mutex m = objs.get(p[1]);
                    m.thread.submit(() -> { m.m.release(); return null; }).get();
                    out("released " + p[1]);
                    break;
                }
                case "nodes": {
                    List<String> names = new ArrayList<>();
                    for (String n : objs.get(p[1]).m.getParticipantNodes()) {
                        names.add(n.substring(n.lastIndexOf('/') + 1));
                    }
                    out("nodes " + p[1] + " " + String.join(",", names));
                    break;
                }
                case "children": {
                    List<String> kids = new ArrayList<>(c.getChildren().forPath(p[1]));
                    Collections.sort(kids);
                    out("children " + String.join(",", kids));
                    break;
                }
                default:
                    out("error unknown command " + cmd);
                }
            } catch (Exception e) {
                out("error " + cmd + " " + e.toString().replace('\n', ' '));
            }
        }
        c.close();
    }
}
`
