//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper/zktest"
)

// TestGetOnTerminal: on a terminal get ends data without a newline with one,
// so that the prompt does not follow it on the same line; piped output stays
// byte for byte.
func TestGetOnTerminal(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/n", "no newline")
	tm := k.startTerminal("get", "/n")
	if code := tm.wait(); code != 0 {
		t.Fatalf("get exited with %d", code)
	}
	if out := tm.output(); !strings.HasSuffix(out, "no newline\r\n") {
		t.Fatalf("get on a terminal showed %q", out)
	}
	if out := k.ok("get", "/n"); out != "no newline" {
		t.Fatalf("piped get printed %q", out)
	}
}

// TestShellStartsDisconnected: the shell starts while no server answers,
// says so, and connects once the server is back.
func TestShellStartsDisconnected(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/here")
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Pause()
	k.servers = p.Addr() + k.c.Chroot()
	tm := k.startTerminal("--timeout", "2s", "shell", "--no-history")
	tm.waitCount("Not connected yet", 1)
	tm.waitCount("(CONNECTING) /> ", 1)
	p.Resume()
	tm.waitCount("(CONNECTED) /> ", 1)
	tm.typeKeys("ls\r")
	tm.waitCount("here\r\n", 1)
	tm.typeKeys("exit\r")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit: status %d", code)
	}
}

// TestShellSaysSessionLost: when the session expires, the shell says at once
// that its ephemeral nodes are gone.
func TestShellSaysSessionLost(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	k.servers = p.Addr() + k.c.Chroot()
	tm := k.startTerminal("--session-timeout", "2s", "shell", "--no-history")
	tm.waitCount("(CONNECTED) /> ", 1)
	tm.typeKeys("create -e /eph\r")
	tm.waitCount("/eph\r\n", 1)
	p.Pause()
	p.Drop()
	tm.waitCount("(SUSPENDED) /> ", 1)
	waitFor(t, 60*time.Second, "the server to expire the session", func() bool {
		st, err := k.c.Exists(ctx, "/eph")
		return err == nil && st == nil
	})
	p.Resume()
	tm.waitCount("lost (", 1)
	tm.waitCount("its ephemeral nodes are gone", 1)
	tm.typeKeys("exit\r")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit: status %d", code)
	}
}

// TestShellCompletesQuotedNames: a name with a space is completed escaped,
// and completion works inside quotes.
func TestShellCompletesQuotedNames(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "-p", "/my dir/leaf", "found it")
	tm := k.startTerminal("shell", "--no-history")
	tm.waitCount("(CONNECTED) /> ", 1)
	tm.typeKeys("get /my\t")
	tm.waitCount(`get /my\ dir/`, 1)
	tm.typeKeys("\t\r")
	tm.waitCount("found it\r\n", 1)
	tm.typeKeys("get '/my\t")
	tm.waitCount(`get '/my dir/`, 1)
	tm.typeKeys("\t\r")
	tm.waitCount("found it\r\n", 2)
	tm.typeKeys("exit\r")
	if code := tm.wait(); code != 0 {
		t.Fatalf("exit: status %d", code)
	}
}
