//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/keeper-go/keeper/zktest"
)

// openPTY opens a pseudo-terminal pair with the standard library: the
// master from /dev/ptmx, unlocked (TIOCSPTLCK), and the slave it names
// (TIOCGPTN), 120 columns wide.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	var ioctlErr error
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	err = rc.Control(func(fd uintptr) {
		var unlock int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
			ioctlErr = e
			return
		}
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
			ioctlErr = e
		}
	})
	if err == nil {
		err = ioctlErr
	}
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	ws := struct{ rows, cols, x, y uint16 }{40, 120, 0, 0}
	rc, _ = s.SyscallConn()
	rc.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws)))
	})
	return m, s
}

// terminal is a keeper process on a pseudo-terminal.
type terminal struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	done   chan struct{}
	err    error
}

// startTerminal runs keeper --server <chroot> args... on a new pseudo-terminal.
func (k *cli) startTerminal(args ...string) *terminal {
	k.t.Helper()
	master, slave := openPTY(k.t)
	tm := &terminal{t: k.t, master: master, done: make(chan struct{})}
	tm.cmd = exec.Command(bin, append([]string{"--server", k.servers}, args...)...)
	tm.cmd.Env = append(k.env(), "TERM=xterm")
	tm.cmd.Stdin, tm.cmd.Stdout, tm.cmd.Stderr = slave, slave, slave
	tm.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := tm.cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	slave.Close()
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			tm.mu.Lock()
			tm.out.Write(b[:n])
			tm.mu.Unlock()
			if err != nil {
				break
			}
		}
	}()
	go func() {
		tm.err = tm.cmd.Wait()
		close(tm.done)
	}()
	k.t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			tm.cmd.Process.Kill()
			<-tm.done
		}
		master.Close()
	})
	return tm
}

// output returns everything the terminal showed so far.
func (tm *terminal) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// typeKeys types s.
func (tm *terminal) typeKeys(s string) {
	tm.t.Helper()
	if _, err := tm.master.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

// waitCount waits until the output holds want at least n times.
func (tm *terminal) waitCount(want string, n int) {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(tm.output(), want) < n {
		select {
		case <-tm.done:
			if strings.Count(tm.output(), want) >= n {
				return
			}
			tm.t.Fatalf("keeper exited (%v) before showing %q %d times; the terminal shows:\n%q", tm.err, want, n, tm.output())
		default:
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out waiting for %q (%d times); the terminal shows:\n%q", want, n, tm.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for keeper to exit and returns its status.
func (tm *terminal) wait() int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(30 * time.Second):
		tm.t.Fatalf("keeper did not exit; the terminal shows:\n%q", tm.output())
	}
	var ee *exec.ExitError
	if errors.As(tm.err, &ee) {
		return ee.ExitCode()
	}
	if tm.err != nil {
		tm.t.Fatal(tm.err)
	}
	return 0
}

func TestShellTerminal(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "-p", "/alpha/beta", "hello")
	k.ok("create", "/alps")
	tm := k.startTerminal("shell")
	tm.waitCount("(CONNECTED) /> ", 1)

	// A typed command.
	tm.typeKeys("create /gamma 'typed data'\r")
	tm.waitCount("/gamma\r\n", 1)
	if out := k.ok("get", "/gamma"); out != "typed data" {
		t.Fatalf("the shell created %q", out)
	}

	// Tab completes a unique path: a node with children gets a "/".
	tm.typeKeys("get /alpha/b\t")
	tm.waitCount("get /alpha/beta ", 1)
	tm.typeKeys("\r")
	tm.waitCount("hello\r\n", 1)
	tm.typeKeys("cd /alp\t")
	tm.waitCount("cd /alp", 1)
	// Two candidates (alpha, alps): a second Tab lists them.
	tm.typeKeys("\t")
	tm.waitCount("alpha  alps", 1)
	tm.typeKeys("ha\r")
	tm.waitCount("(CONNECTED) /alpha> ", 1)

	// Relative completion and command-name completion.
	tm.typeKeys("ge\tbe\t\r")
	tm.waitCount("hello\r\n", 2)
	tm.typeKeys("pw\t\r")
	tm.waitCount("\r\n/alpha\r\n", 1)

	// Up arrow recalls the previous command.
	tm.typeKeys("\x1b[A\x1b[A\r")
	tm.waitCount("hello\r\n", 3)

	// Ctrl-C clears the line; a failing command prints its error.
	tm.typeKeys("rm -r /\x03")
	tm.waitCount("^C", 1)
	tm.typeKeys("get nope\r")
	tm.waitCount("keeper: get /alpha/nope: node does not exist (NoNode)", 1)

	// Ctrl-C stops a running watch and returns to the prompt.
	tm.typeKeys("watch\r")
	tm.waitCount("watching node /alpha", 1)
	tm.typeKeys("\x03")
	tm.typeKeys("pwd\r")
	tm.waitCount("\r\n/alpha\r\n", 2)

	// Ctrl-D exits with status 0.
	tm.typeKeys("\x04")
	if code := tm.wait(); code != 0 {
		t.Fatalf("shell exited with %d after Ctrl-D; the terminal shows:\n%q", code, tm.output())
	}
	hist, err := os.ReadFile(filepath.Join(k.home, historyName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(hist), "cd /alpha\n") || !strings.Contains(string(hist), "get beta \n") {
		t.Fatalf("history file: %q", hist)
	}

	// The history is there in the next shell; --no-history ignores it.
	tm = k.startTerminal("shell")
	tm.waitCount("(CONNECTED) /> ", 1)
	tm.typeKeys("\x1b[A")
	tm.waitCount("(CONNECTED) /> pwd", 1)
	tm.typeKeys("\x05\x15exit\r")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit: status %d", code)
	}
}

func TestTopTerminal(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	tm := k.startTerminal("top", "--interval", "200ms")
	tm.waitCount("SOURCE", 2) // refreshed
	if !strings.Contains(tm.output(), "(q quits)") || !strings.Contains(tm.output(), "standalone") {
		t.Fatalf("top shows:\n%q", tm.output())
	}
	tm.typeKeys("q")
	if code := tm.wait(); code != 0 {
		t.Fatalf("top exited with %d", code)
	}
}

func TestShellPromptFollowsState(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	k.servers = p.Addr() + k.c.Chroot()
	tm := k.startTerminal("shell", "--no-history")
	tm.waitCount("(CONNECTED) /> ", 1)
	// Cut the connection and stall the next ones: the prompt is redrawn
	// as the state changes, without a key being pressed.
	p.Pause()
	p.Drop()
	tm.waitCount("(SUSPENDED) /> ", 1)
	n := strings.Count(tm.output(), "(CONNECTED) /> ")
	p.Resume()
	tm.waitCount("(CONNECTED) /> ", n+1)
	tm.typeKeys("exit\r")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit: status %d", code)
	}
}
