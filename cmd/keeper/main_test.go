package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

var (
	// srv is the standalone server shared by the package's tests; each test
	// works under its own chroot.
	srv *zktest.Cluster
	// bin is the keeper binary built for the tests.
	bin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keeper-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "keeper")
	var buildErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	srv, err = zktest.New()
	wg.Wait()
	code := 1
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "starting ZooKeeper:", err)
	case buildErr != nil:
		fmt.Fprintln(os.Stderr, buildErr)
	default:
		code = m.Run()
	}
	if srv != nil {
		srv.Close()
	}
	os.RemoveAll(dir)
	if code == 0 {
		if leaked := testutil.LeakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintln(os.Stderr, "goroutines left after the tests:\n"+leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// cli runs the keeper binary against the test's own chroot.
type cli struct {
	t       *testing.T
	c       *keeper.Client // a client on the same chroot
	servers string         // connect string with the chroot
	home    string         // $HOME of the runs
}

// newCLI returns a runner whose commands work under a fresh chroot.
func newCLI(t *testing.T) *cli {
	t.Helper()
	c := srv.Client(t)
	return &cli{t: t, c: c, servers: srv.Servers() + c.Chroot(), home: t.TempDir()}
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
}

// run runs keeper --server <chroot> args... with no standard input.
func (k *cli) run(args ...string) result {
	k.t.Helper()
	return k.runIn("", args...)
}

// runIn runs keeper with stdin as its standard input.
func (k *cli) runIn(stdin string, args ...string) result {
	k.t.Helper()
	return k.exec(stdin, append([]string{"--server", k.servers}, args...)...)
}

// exec runs the binary with exactly args.
func (k *cli) exec(stdin string, args ...string) result {
	k.t.Helper()
	return k.execEnv(nil, stdin, args...)
}

// env returns the environment of a run: $HOME is the test's, ZK_SERVERS
// is empty unless extra sets it, and KEEPER_CACHE keeps naming the cache of
// the real $HOME (where the sandbox finds its ZooKeeper).
// A race-enabled binary does not sleep its default second at exit.
func (k *cli) env(extra ...string) []string {
	cache, _ := zktest.CacheDir()
	return append(append(os.Environ(), "HOME="+k.home, "KEEPER_CACHE="+cache, "ZK_SERVERS=", "GORACE=atexit_sleep_ms=0"), extra...)
}

// execEnv runs the binary with args and extra environment variables.
func (k *cli) execEnv(extra []string, stdin string, args ...string) result {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = k.env(extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		k.t.Fatalf("keeper %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		k.t.Fatalf("keeper %s: did not finish within 60s\n%v", strings.Join(args, " "), r)
	}
	return r
}

// ok runs a command that must succeed and returns its standard output.
func (k *cli) ok(args ...string) string {
	k.t.Helper()
	r := k.run(args...)
	if r.code != 0 {
		k.t.Fatalf("keeper %s: %v", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs a command that must fail with code, with one line on stderr
// that contains each of want.
func (k *cli) fails(code int, want []string, args ...string) result {
	k.t.Helper()
	r := k.run(args...)
	k.checkFail(r, code, want, args)
	return r
}

func (k *cli) checkFail(r result, code int, want, args []string) {
	k.t.Helper()
	if r.code != code {
		k.t.Fatalf("keeper %s: want exit %d, got %v", strings.Join(args, " "), code, r)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "keeper: ") {
		k.t.Fatalf("keeper %s: want one error line on stderr starting with keeper:, got %q", strings.Join(args, " "), r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			k.t.Fatalf("keeper %s: stderr %q lacks %q", strings.Join(args, " "), r.stderr, w)
		}
	}
}

// ctx returns a context for the test's own requests.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proc is a keeper process running in the background.
type proc struct {
	t         *testing.T
	cmd       *exec.Cmd
	mu        sync.Mutex
	out, errb bytes.Buffer
	done      chan struct{}
	waitErr   error
}

// lockedWriter appends to a buffer under the process's mutex.
type lockedWriter struct {
	p *proc
	b *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.b.Write(b)
}

// start runs keeper --server <chroot> args... in the background; it is
// killed at the end of the test if still running.
func (k *cli) start(args ...string) *proc {
	k.t.Helper()
	return k.spawn(nil, append([]string{"--server", k.servers}, args...)...)
}

// spawn runs keeper with exactly args in the background, with stdin as its
// standard input (nil for none).
func (k *cli) spawn(stdin io.Reader, args ...string) *proc {
	k.t.Helper()
	p := &proc{t: k.t, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdin = stdin
	p.cmd.Env = k.env()
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p, &p.out}, lockedWriter{p, &p.errb}
	if err := p.cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	k.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// output returns what the process printed so far.
func (p *proc) output() (stdout, stderr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String(), p.errb.String()
}

func (p *proc) waitFor(what string, cond func(stdout, stderr string) bool) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		o, e := p.output()
		if cond(o, e) {
			return
		}
		select {
		case <-p.done:
			o, e = p.output()
			if cond(o, e) {
				return
			}
			p.t.Fatalf("the process exited (%v) before %s\nstdout: %q\nstderr: %q", p.waitErr, what, o, e)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s\nstdout: %q\nstderr: %q", what, o, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStdout waits until standard output holds every one of want.
func (p *proc) waitStdout(want ...string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("stdout %q", want), func(o, _ string) bool {
		for _, w := range want {
			if !strings.Contains(o, w) {
				return false
			}
		}
		return true
	})
}

// waitStderr waits until standard error holds want.
func (p *proc) waitStderr(want string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("stderr %q", want), func(_, e string) bool { return strings.Contains(e, want) })
}

// interrupt sends SIGINT and waits for the process to exit.
func (p *proc) interrupt() result {
	p.t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	return p.wait()
}

// wait waits for the process to exit.
func (p *proc) wait() result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatal("the process did not exit within 30s")
	}
	o, e := p.output()
	r := result{stdout: o, stderr: e}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		r.code = ee.ExitCode()
	} else if p.waitErr != nil {
		p.t.Fatal(p.waitErr)
	}
	return r
}
