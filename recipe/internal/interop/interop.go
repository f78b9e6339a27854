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
// Every peer is tested at two versions: Debian's packages (Kazoo 2.8, Curator
// 5.4) and the current releases that scripts/install-zookeeper puts in the
// cache (Kazoo 2.11 in a virtual environment, Curator 5.9 from the Maven
// registry). [EachKazoo] and [EachCurator] run a test once per version, as
// subtests named by it:
//
//	func TestKazooLock(t *testing.T) { interop.EachKazoo(t, testKazooLock) }
//
//	func testKazooLock(t *testing.T, kazoo interop.Peer) {
//		k := kazoo.Start(t, srv.Servers()+c.Chroot())
//		...
//	}
//
// KEEPER_KAZOO and KEEPER_CURATOR, when set, name the one version to run
// (such as KEEPER_KAZOO=2.11.0).
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

	"github.com/keeper-go/keeper/zktest"
)

// Python is Debian's interpreter, for which the python3-kazoo package is
// installed; the first python3 on PATH may be another one.
const Python = "/usr/bin/python3"

// JavaDir is where Debian installs the Curator and ZooKeeper jars.
const JavaDir = "/usr/share/java"

const installHint = "install it with scripts/install-zookeeper (Debian packages python3-kazoo, libcurator-recipes-java, default-jdk-headless; Kazoo 2.11 and Curator 5.9 into the cache)"

// The peers' current releases, which scripts/install-zookeeper installs.
const (
	KazooRelease   = "2.11.0"
	CuratorRelease = "5.9.0"
)

// Peer is one installed version of Kazoo or Curator.
type Peer struct {
	// Kind is "kazoo" or "curator".
	Kind string
	// Version is the peer's release, such as "2.11.0".
	Version string
	// Python is Kazoo's interpreter; "" for Curator.
	Python string
	// Jars are Curator's classpath (with ZooKeeper's client and an SLF4J
	// binding); nil for Kazoo.
	Jars []string
	// missing, when not "", says why this peer cannot run.
	missing string
}

// String is the subtest name: "kazoo-2.11.0".
func (p Peer) String() string { return p.Kind + "-" + p.Version }

// Classpath is Jars joined for java's -cp.
func (p Peer) Classpath() string { return strings.Join(p.Jars, string(os.PathListSeparator)) }

// Check fails the test when the peer is not installed.
func (p Peer) Check(t testing.TB) {
	t.Helper()
	if p.missing != "" {
		t.Fatalf("interop: %s: %s; %s", p, p.missing, installHint)
	}
}

// Start runs the peer's driver (see [Kazoo] and [Curator]) against hosts.
func (p Peer) Start(t testing.TB, hosts string) *Proc {
	t.Helper()
	p.Check(t)
	if p.Kind == "kazoo" {
		return startKazoo(t, p, hosts)
	}
	return startCurator(t, p, hosts)
}

// Java compiles source, a Java program whose public class is class, against
// the peer's jars and starts it with args, as the package's [Java] does for
// Debian's jars; a compile error fails the test.
func (p Peer) Java(t testing.TB, class, source string, args ...string) *Proc {
	t.Helper()
	p.Check(t)
	dir, err := CompileJava(t, p, class, source)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, strings.ToLower(class)+"-"+p.Version, JavaCommand(t, p, dir, class, args...))
}

func cacheDir(kind, version string) string {
	dir, err := zktest.CacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, kind, version)
}

// KazooPeers returns Debian's Kazoo (under Python) and the current release
// (KazooRelease, in the cache's virtual environment), or the one
// KEEPER_KAZOO names.
func KazooPeers() []Peer {
	peers := []Peer{
		kazooPeer("2.8.0", Python),
		kazooPeer(KazooRelease, filepath.Join(cacheDir("kazoo", KazooRelease), "bin", "python")),
	}
	return only(peers, os.Getenv("KEEPER_KAZOO"))
}

func kazooPeer(version, python string) Peer {
	p := Peer{Kind: "kazoo", Version: version, Python: python}
	out, err := exec.Command(python, "-c", "import kazoo.version; print(kazoo.version.__version__)").CombinedOutput()
	switch got := strings.TrimSpace(string(out)); {
	case err != nil:
		p.missing = fmt.Sprintf("%s cannot import kazoo: %v: %s", python, err, got)
	case got != version:
		p.missing = fmt.Sprintf("%s has Kazoo %s, not %s", python, got, version)
	}
	return p
}

// CuratorPeers returns Debian's Curator (its jars in JavaDir) and the current
// release (CuratorRelease, from the cache), or the one KEEPER_CURATOR names.
func CuratorPeers() []Peer {
	debian := Peer{Kind: "curator", Version: "5.4.0"}
	for _, j := range curatorJars {
		p := filepath.Join(JavaDir, j)
		if _, err := os.Stat(p); err != nil && debian.missing == "" {
			debian.missing = err.Error()
		}
		debian.Jars = append(debian.Jars, p)
	}
	if _, err := os.Stat(filepath.Join(JavaDir, "curator-recipes-"+debian.Version+".jar")); err != nil && debian.missing == "" {
		debian.missing = "Debian's Curator is not " + debian.Version + ": " + err.Error()
	}
	current := Peer{Kind: "curator", Version: CuratorRelease}
	lib := filepath.Join(cacheDir("curator", CuratorRelease), "lib")
	current.Jars, _ = filepath.Glob(filepath.Join(lib, "*.jar"))
	if _, err := os.Stat(filepath.Join(lib, "curator-recipes-"+CuratorRelease+".jar")); err != nil {
		current.missing = "Curator " + CuratorRelease + " is not in the cache: " + err.Error()
	}
	return only([]Peer{debian, current}, os.Getenv("KEEPER_CURATOR"))
}

// only keeps the peer of version want, or all when want is "". An unknown
// version gives a peer that fails its tests.
func only(peers []Peer, want string) []Peer {
	if want == "" {
		return peers
	}
	for _, p := range peers {
		if p.Version == want {
			return []Peer{p}
		}
	}
	var have []string
	for _, p := range peers {
		have = append(have, p.Version)
	}
	return []Peer{{Kind: peers[0].Kind, Version: want, missing: fmt.Sprintf("no %s %s here (have %s)", peers[0].Kind, want, strings.Join(have, ", "))}}
}

// EachKazoo runs f as a subtest for each of [KazooPeers], named by the peer
// ("kazoo-2.8.0"). A peer that is not installed fails its subtest.
func EachKazoo(t *testing.T, f func(t *testing.T, kazoo Peer)) { each(t, KazooPeers(), f) }

// EachCurator is [EachKazoo] for [CuratorPeers].
func EachCurator(t *testing.T, f func(t *testing.T, curator Peer)) { each(t, CuratorPeers(), f) }

func each(t *testing.T, peers []Peer, f func(*testing.T, Peer)) {
	t.Helper()
	for _, p := range peers {
		t.Run(p.String(), func(t *testing.T) {
			p.Check(t)
			f(t, p)
		})
	}
}

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

// Kazoo starts a Python process that connects the current release of
// Kazoo's KazooClient (see [KazooPeers]) to hosts (a connect string, with a
// chroot if wanted). [Peer.Start] starts another version. Commands:
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
	peers := KazooPeers()
	return peers[len(peers)-1].Start(t, hosts)
}

func startKazoo(t testing.TB, p Peer, hosts string) *Proc {
	t.Helper()
	script := filepath.Join(t.TempDir(), "kazoo_driver.py")
	if err := os.WriteFile(script, []byte(kazooScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, p.String(), exec.Command(p.Python, "-u", script, hosts))
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

// curatorJars are Debian's jars the Curator driver compiles and runs with;
// their manifests pull in guava, slf4j-api and ZooKeeper's own dependencies.
var curatorJars = []string{"curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "curator-x-discovery.jar", "zookeeper.jar",
	"jackson-databind.jar", "jackson-core.jar", "jackson-annotations.jar", "slf4j-nop.jar"}

// Curator compiles (with javac, into a temporary directory) and starts a
// Java program that connects a CuratorFramework of the current release (see
// [CuratorPeers]) to hosts (a connect string; a chroot is given as Curator's
// namespace). [Peer.Start] starts another version. Commands:
//
//	mutex NAME PATH            create an InterProcessMutex
//	acquire NAME               blocking acquire on the mutex's own thread: "acquired NAME"
//	try NAME                   acquire(0 ms): "try NAME true|false"
//	release NAME               "released NAME"
//	nodes NAME                 "nodes NAME <participant node names, comma-separated>"
//	children PATH              "children <sorted names, comma-separated>"
func Curator(t testing.TB, hosts string) *Proc {
	t.Helper()
	peers := CuratorPeers()
	return peers[len(peers)-1].Start(t, hosts)
}

func startCurator(t testing.TB, p Peer, hosts string) *Proc {
	t.Helper()
	dir, err := CompileJava(t, p, "CuratorDriver", curatorSource)
	if err != nil {
		t.Fatal(err)
	}
	connect, ns := hosts, ""
	if i := strings.IndexByte(hosts, '/'); i >= 0 {
		connect, ns = hosts[:i], strings.TrimPrefix(hosts[i:], "/")
	}
	return start(t, p.String(), JavaCommand(t, p, dir, "CuratorDriver", connect, ns))
}

// CompileJava compiles the class name from source against the peer's jars
// into a temporary directory, which it returns.
func CompileJava(t testing.TB, p Peer, name, source string) (string, error) {
	t.Helper()
	javac, err := exec.LookPath("javac")
	if err != nil {
		return "", fmt.Errorf("interop: javac not found: %v; %s", err, installHint)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, name+".java")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		return "", err
	}
	if out, err := exec.Command(javac, "-nowarn", "-cp", p.Classpath(), "-d", dir, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("interop: javac %s against %s: %v\n%s", name, p, err, out)
	}
	return dir, nil
}

// JavaCommand is the command that runs class main, compiled into dir by
// CompileJava, with the peer's jars and a small heap.
func JavaCommand(t testing.TB, p Peer, dir, main string, args ...string) *exec.Cmd {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("interop: java not found: %v; %s", err, installHint)
	}
	argv := []string{"-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", dir + string(os.PathListSeparator) + p.Classpath(), main}
	return exec.Command(java, append(argv, args...)...)
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
