package main

import (
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keeper-go/keeper/zktest"
)

// sandboxAddr returns the connect string a sandbox printed.
func sandboxAddr(t *testing.T, stdout string) string {
	t.Helper()
	m := regexp.MustCompile(`sandbox at (\S+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no connect string in %q", stdout)
	}
	return m[1]
}

// checkGone fails unless nothing listens at the sandbox's address any more.
func checkGone(t *testing.T, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		c.Close()
		t.Fatalf("the sandbox server at %s still runs", addr)
	}
}

func TestSandboxDemo(t *testing.T) {
	t.Parallel()
	k := &cli{t: t, home: t.TempDir()}
	r := k.exec("", "sandbox")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, w := range []string{
		"$ keeper create /demo 'hello, keeper'\n/demo\n",
		"$ keeper get /demo\nhello, keeper\n",
		"$ keeper set /demo 'hello again'\nwatch event: NodeDataChanged /demo\n",
		"$ keeper rm /demo\nwatch event: NodeDeleted /demo\n",
		"└── app (0 B)",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Fatalf("the demo lacks %q:\n%s", w, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "sandbox stopped and removed") {
		t.Fatalf("stderr: %q", r.stderr)
	}
	checkGone(t, sandboxAddr(t, r.stdout))
}

func TestSandboxCommands(t *testing.T) {
	t.Parallel()
	k := &cli{t: t, home: t.TempDir()}
	r := k.exec("create /x 'from stdin'\nget /x\nsrvr\n", "sandbox")
	if r.code != 0 || !strings.Contains(r.stdout, "/x\nfrom stdin\n") || !strings.Contains(r.stdout, "standalone") {
		t.Fatal(r)
	}
	checkGone(t, sandboxAddr(t, r.stdout))

	// SIGTERM while it waits for commands: the servers are removed too.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	p := k.spawn(pr, "sandbox")
	pr.Close()
	p.waitStdout("sandbox at ")
	o, _ := p.output()
	addr := sandboxAddr(t, o)
	pw.Write([]byte("create /y\n"))
	p.waitStdout("/y\n")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if r := p.wait(); r.code != 1 || !strings.Contains(r.stderr, "sandbox stopped and removed") {
		t.Fatalf("after SIGTERM: %v", r)
	}
	checkGone(t, addr)
	k.fails(2, []string{"--servers must be"}, "sandbox", "--servers", "0")
}

func TestTopAdminFallback(t *testing.T) {
	t.Parallel()
	zk := zktest.Start(t, zktest.Config("4lw.commands.whitelist", "srvr"), zktest.Config("admin.enableServer", "true"))
	_, adminPort, err := net.SplitHostPort(zk.AdminAddr(0))
	if err != nil {
		t.Fatal(err)
	}
	k := &cli{t: t, home: t.TempDir(), servers: zk.Servers()}
	var rows []topRow
	out := k.ok("top", "--once", "--json", "--admin-port", adminPort)
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Source != "admin" ||
		rows[0].Mode != "standalone" || rows[0].Watches < 0 || rows[0].Znodes < 1 {
		t.Fatalf("top through the AdminServer: %s %v", out, err)
	}
	if out := k.ok("top", "--once", "--admin-port", adminPort); !strings.Contains(out, "admin") {
		t.Fatalf("top does not say it used the AdminServer:\n%s", out)
	}
	// No AdminServer there either: srvr, without a watch count.
	closed, err := freeClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	out = k.ok("top", "--once", "--json", "--admin-port", closed)
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Source != "srvr" || rows[0].Watches != -1 {
		t.Fatalf("top through srvr: %s %v", out, err)
	}
	// The refusal is said once: no "mntr ...: mntr: ..." doubling.
	r := k.fails(1, []string{"not in the server's 4lw.commands.whitelist"}, "mntr")
	if n := strings.Count(r.stderr, "mntr"); n != 1 {
		t.Fatalf("mntr refusal names mntr %d times: %q", n, r.stderr)
	}
}
