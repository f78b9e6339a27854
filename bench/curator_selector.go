package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keeper-go/keeper/zktest"
)

// curatorJars are Debian's Curator 5.4 jars (libcurator-recipes-java);
// their manifests pull in guava and ZooKeeper's own dependencies.
var curatorJars = []string{"curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar", "slf4j-nop.jar"}

// selectorDriver is a Java program for the LeaderSelector failover beside
// Curator: args are the direct connect string and the session timeout in
// ms; commands on stdin: "first ADDR PATH" starts a selector on a new client
// connected to ADDR (a proxy) whose takeLeadership prints "leading first"
// and waits for "release"; "second PATH" starts one on the direct client
// that prints "leading second" and returns; "queued PATH" prints
// "queued N", the number of participants; "closefirst" closes the first's
// selector and client.
const selectorDriver = `
import java.io.*;
import java.util.concurrent.*;
import org.apache.curator.framework.*;
import org.apache.curator.framework.recipes.leader.*;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class SelectorBench {
    static synchronized void out(String s) { System.out.println(s); System.out.flush(); }
    static CuratorFramework client(String addr, int timeout) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(addr)
            .sessionTimeoutMs(timeout).connectionTimeoutMs(15000)
            .retryPolicy(new ExponentialBackoffRetry(50, 10)).build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) throw new Exception("not connected");
        return c;
    }
    public static void main(String[] args) throws Exception {
        int timeout = Integer.parseInt(args[1]);
        CuratorFramework direct = client(args[0], timeout);
        CuratorFramework firstClient = null;
        LeaderSelector first = null, second = null;
        final Semaphore release = new Semaphore(0);
        out("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                case "first":
                    firstClient = client(f[1], timeout);
                    first = new LeaderSelector(firstClient, f[2], new LeaderSelectorListenerAdapter() {
                        public void takeLeadership(CuratorFramework c) throws Exception {
                            out("leading first");
                            release.acquire();
                        }
                    });
                    first.start();
                    break;
                case "second":
                    if (second != null) second.close();
                    second = new LeaderSelector(direct, f[1], new LeaderSelectorListenerAdapter() {
                        public void takeLeadership(CuratorFramework c) { out("leading second"); }
                    });
                    second.start();
                    break;
                case "queued":
                    out("queued " + direct.getChildren().forPath(f[1]).size());
                    break;
                case "release":
                    release.release();
                    break;
                case "closefirst":
                    try { first.close(); } catch (Exception e) {}
                    firstClient.close();
                    out("closed");
                    break;
                case "quit":
                    if (second != null) second.close();
                    direct.close();
                    return;
                }
            } catch (Exception e) {
                out("error " + e.toString().replace('\n', ' '));
            }
        }
    }
}
`

// javaProc is the running driver.
type javaProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func (p *javaProc) send(format string, args ...any) error {
	_, err := fmt.Fprintf(p.stdin, format+"\n", args...)
	return err
}

// await returns the time the first line starting with prefix was read.
func (p *javaProc) await(ctx context.Context, prefix string) (string, time.Time, error) {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", time.Time{}, fmt.Errorf("driver exited waiting for %q", prefix)
			}
			if strings.HasPrefix(l, "error") {
				return "", time.Time{}, fmt.Errorf("driver: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l, time.Now(), nil
			}
		case <-ctx.Done():
			return "", time.Time{}, fmt.Errorf("waiting for %q: %w", prefix, ctx.Err())
		}
	}
}

func (p *javaProc) close() {
	_ = p.send("quit")
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// startSelectorDriver compiles and starts selectorDriver with Debian's
// Curator jars.
func startSelectorDriver(servers string) (*javaProc, error) {
	var cp []string
	for _, j := range curatorJars {
		p := filepath.Join("/usr/share/java", j)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w (Debian package libcurator-recipes-java)", err)
		}
		cp = append(cp, p)
	}
	dir, err := os.MkdirTemp("", "selector-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "SelectorBench.java")
	if err := os.WriteFile(src, []byte(selectorDriver), 0o644); err != nil {
		return nil, err
	}
	classpath := strings.Join(cp, string(os.PathListSeparator))
	if out, err := exec.Command("javac", "-nowarn", "-cp", classpath, "-d", dir, src).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("javac: %v\n%s", err, out)
	}
	jar := filepath.Join(os.TempDir(), fmt.Sprintf("selector-bench-%d", os.Getpid()))
	if err := os.MkdirAll(jar, 0o755); err != nil {
		return nil, err
	}
	classes, _ := filepath.Glob(filepath.Join(dir, "*.class"))
	for _, c := range classes {
		b, err := os.ReadFile(c)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(jar, filepath.Base(c)), b, 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command("java", "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", jar+string(os.PathListSeparator)+classpath, "SelectorBench", servers,
		fmt.Sprint(recoveryTimeout.Milliseconds()))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &javaProc{cmd: cmd, stdin: stdin, lines: make(chan string, 64)}
	go func() {
		defer close(p.lines)
		defer os.RemoveAll(jar)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, _, err := p.await(ctx, "ready"); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// curatorFailover measures Curator's LeaderSelector the way leaderFailover
// measures Keeper's: n terms each way, cut off and clean.
func (e *env) curatorFailover(ctx context.Context, n int) (cutoff, clean []time.Duration, err error) {
	j, err := startSelectorDriver(e.servers)
	if err != nil {
		return nil, nil, err
	}
	defer j.close()
	for i := range 2 * n {
		cut := i%2 == 0
		d, err := e.curatorTerm(ctx, j, cut)
		if err != nil {
			return nil, nil, err
		}
		if cut {
			cutoff = append(cutoff, d)
		} else {
			clean = append(clean, d)
		}
	}
	slices.Sort(cutoff)
	slices.Sort(clean)
	return cutoff, clean, nil
}

func (e *env) curatorTerm(ctx context.Context, j *javaProc, cut bool) (time.Duration, error) {
	p, err := zktest.NewProxy(e.addr)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	path := e.unique("cselector")
	tctx, cancel := context.WithTimeout(ctx, 10*recoveryTimeout+30*time.Second)
	defer cancel()
	if err := j.send("first %s %s", p.Addr(), path); err != nil {
		return 0, err
	}
	if _, _, err := j.await(tctx, "leading first"); err != nil {
		return 0, err
	}
	if err := j.send("second %s", path); err != nil {
		return 0, err
	}
	for {
		if err := j.send("queued %s", path); err != nil {
			return 0, err
		}
		l, _, err := j.await(tctx, "queued ")
		if err != nil {
			return 0, err
		}
		if l == "queued 2" {
			break
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-tctx.Done():
			return 0, tctx.Err()
		}
	}
	t0 := time.Now()
	if cut {
		p.Pause()
	} else if err := j.send("release"); err != nil {
		return 0, err
	}
	_, t1, err := j.await(tctx, "leading second")
	if err != nil {
		return 0, err
	}
	if err := j.send("closefirst"); err != nil {
		return 0, err
	}
	if _, _, err := j.await(tctx, "closed"); err != nil {
		return 0, err
	}
	return t1.Sub(t0), nil
}
