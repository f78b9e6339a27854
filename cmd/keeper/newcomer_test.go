package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keeper-go/keeper"
)

// TestConnectErrorsShowCause: a failed connection says why (the last
// attempt's error), and a server that refuses connections fails at once
// instead of after --timeout (2m here: the run would be killed after 60s).
func TestConnectErrorsShowCause(t *testing.T) {
	t.Parallel()
	k := newCLI(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	r := k.exec("", "--server", refused, "--timeout", "2m", "ls", "/")
	k.checkFail(r, 1, []string{"connect " + refused, "no server reachable", "connection refused"}, []string{"ls"})

	// One refusing server among live ones is no reason to give up.
	k.ok("create", "/n")
	r = k.exec("", "--server", refused+","+k.servers, "--timeout", "2m", "ls", "/")
	if r.code != 0 || r.stdout != "n\n" {
		t.Fatalf("a refusing server beside a live one: %v", r)
	}

	// A server that accepts and never answers: the timeout, with the last
	// attempt's failure.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r = k.exec("", "--server", silent.Addr().String(), "--timeout", "2s", "ls", "/")
	k.checkFail(r, 1, []string{"no session within 2s (last attempt: "}, []string{"ls"})

	// A dns-srv:// name that does not resolve names the lookup.
	r = k.exec("", "--server", "dns-srv://_zookeeper._tcp.keeper-test.invalid/app", "--timeout", "5s", "ls", "/")
	k.checkFail(r, 1, []string{"dns-srv lookup of _zookeeper._tcp.keeper-test.invalid"}, []string{"ls"})
}

// TestRejectedAuthAtConnect: a mistyped scheme is an error at connect time,
// not a silent NoAuth later.
func TestRejectedAuthAtConnect(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	r := k.run("--auth", "digset:bob:secret", "ls", "/")
	k.checkFail(r, 1, []string{"rejected the credentials", "digset", "(AuthFailed)"}, []string{"ls"})
	if !strings.Contains(k.ok("--auth", "digest:bob:secret", "whoami"), "bob") {
		t.Fatal("whoami does not show the digest user")
	}
}

// TestScriptingConventions: exit statuses and flags as Unix tools have
// them (diff, rm -f, mkdir -p), and watch ending by itself.
func TestScriptingConventions(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)

	// diff: 0 same, 1 different, 2 trouble.
	k.ok("create", "-p", "/l/x", "1")
	k.ok("create", "-p", "/r/x", "1")
	k.ok("diff", "/l", "/r")
	k.ok("set", "/r/x", "2")
	if r := k.run("diff", "/l", "/r"); r.code != 1 || r.stdout != "~ /x\n" {
		t.Fatalf("diff of different trees: %v", r)
	}
	if r := k.run("diff", "--json", "/l", "/r"); r.code != 1 || !strings.Contains(r.stdout, `"change": "data"`) {
		t.Fatalf("diff --json of different trees: %v", r)
	}
	k.fails(2, []string{"(NoNode)"}, "diff", "/l", "/missing")

	// rm -f skips missing nodes; rm without it stops at the first.
	k.ok("create", "/d1")
	k.ok("create", "/d2")
	k.fails(1, []string{"(NoNode)"}, "rm", "/missing", "/d1")
	if st, _ := k.c.Exists(ctx, "/d1"); st == nil {
		t.Fatal("rm went on after a missing node")
	}
	k.ok("rm", "-f", "/missing", "/d1", "/d2")
	k.ok("rm", "-rf", "/missing")
	for _, p := range []string{"/d1", "/d2"} {
		if st, _ := k.c.Exists(ctx, p); st != nil {
			t.Fatalf("rm -f left %s", p)
		}
	}

	// create -p of an existing node is no error and keeps its data.
	if out := k.ok("create", "-p", "/l/x", "other"); out != "/l/x\n" {
		t.Fatalf("create -p of an existing node printed %q", out)
	}
	if out := k.ok("get", "/l/x"); out != "1" {
		t.Fatalf("create -p changed the data to %q", out)
	}
	k.fails(1, []string{"(NodeExists)"}, "create", "/l/x")

	// watch --count ends after n events, --for after a while.
	p := k.start("watch", "--count", "1", "/l/x")
	p.waitStderr("watching node /l/x")
	if _, err := k.c.Set(ctx, "/l/x", []byte("3"), -1); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(); r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, "NodeDataChanged /l/x") {
		t.Fatalf("watch --count 1: %v", r)
	}
	if r := k.run("watch", "--for", "200ms", "/l/x"); r.code != 0 || r.stdout != "" {
		t.Fatalf("watch --for: %v", r)
	}
	r := k.run("watch", "--count", "2", "--for", "200ms", "/l/x")
	if r.code != 1 || !strings.HasSuffix(r.stderr, "keeper: watch /l/x: 0 of 2 events within 200ms\n") {
		t.Fatalf("watch --count 2 --for 200ms without events: %v", r)
	}

	// watch --json: a zxid (when the server gives one) as a hex string, as
	// everywhere else.
	p = k.start("watch", "--json", "--count", "1", "/l/x")
	p.waitStderr("watching node /l/x")
	if _, err := k.c.Set(ctx, "/l/x", []byte("4"), -1); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(); r.code != 0 || !strings.Contains(r.stdout, `"type":"NodeDataChanged"`) ||
		(strings.Contains(r.stdout, `"zxid":`) && !strings.Contains(r.stdout, `"zxid":"0x`)) {
		t.Fatalf("watch --json: %v", r)
	}

	// top --json without --once: one JSON line per refresh.
	p = k.start("top", "--json", "--interval", "100ms")
	p.waitFor("two JSON frames", func(o, _ string) bool { return strings.Count(o, "\n") >= 2 })
	o, _ := p.output()
	var frame []topRow
	if err := json.Unmarshal([]byte(strings.SplitN(o, "\n", 2)[0]), &frame); err != nil || len(frame) != 1 || frame[0].Znodes < 1 {
		t.Fatalf("top --json frame %q: %v", o, err)
	}
	if r := p.interrupt(); r.code != 0 {
		t.Fatalf("top --json after SIGINT: %v", r)
	}
}

// TestJSONShapes: a Stat is nested under "stat" with hex zxids in every
// command, and every refusing server is reported as an "error" member.
func TestJSONShapes(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/n", "data")
	type withStat struct {
		Stat *statJSON `json:"stat"`
	}
	for _, args := range [][]string{{"stat", "--json", "/n"}, {"get", "--json", "/n"}, {"acl", "get", "--json", "/n"}} {
		var v withStat
		out := k.ok(args...)
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Stat == nil || !strings.HasPrefix(v.Stat.Czxid, "0x") || v.Stat.DataLength != 4 {
			t.Fatalf("%v: %s (%v)", args, out, err)
		}
	}
	var ls []struct {
		Stat *statJSON `json:"stat"`
	}
	if err := json.Unmarshal([]byte(k.ok("ls", "-l", "--json", "/")), &ls); err != nil || len(ls) != 1 || !strings.HasPrefix(ls[0].Stat.Czxid, "0x") {
		t.Fatalf("ls -l --json: %v %v", ls, err)
	}

	// A refusing server among the servers: the same error member everywhere.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	servers := srv.Addr(0) + "," + down
	var srvr []serverStatsJSON
	r := k.exec("", "--server", servers, "srvr", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &srvr); err != nil || r.code != 1 || len(srvr) != 2 {
		t.Fatalf("srvr --json: %v (%v)", r, err)
	}
	want := srvr[1].Error
	if !strings.Contains(want, down) || !strings.Contains(want, "connection refused") || strings.HasPrefix(want, "keeper:") {
		t.Fatalf("srvr --json error member: %q", want)
	}
	for _, word := range []string{"mntr", "conf", "ruok"} {
		var m map[string]map[string]any
		r := k.exec("", "--server", servers, "4lw", "--json", word)
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || r.code != 1 {
			t.Fatalf("4lw --json %s: %v (%v)", word, r, err)
		}
		if got, _ := m[down]["error"].(string); !strings.Contains(got, down) || !strings.Contains(got, "connection refused") {
			t.Fatalf("4lw --json %s: error member %q", word, got)
		}
		if len(m[srv.Addr(0)]) == 0 || m[srv.Addr(0)]["error"] != nil {
			t.Fatalf("4lw --json %s: the live server's entry is %v", word, m[srv.Addr(0)])
		}
	}
	var cons []map[string]any
	r = k.exec("", "--server", servers, "cons", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &cons); err != nil || r.code != 1 {
		t.Fatalf("cons --json: %v (%v)", r, err)
	}
	found := false
	for _, c := range cons {
		if c["server"] == down {
			found = strings.Contains(c["error"].(string), "connection refused")
		}
	}
	if !found {
		t.Fatalf("cons --json has no error entry for %s: %v", down, cons)
	}
}

// TestPolish: "1 node", and a SIGTERM said as such.
func TestPolish(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/one")
	if out := k.ok("tree", "/one"); !strings.Contains(out, "\n1 node, 0 B of data\n") {
		t.Fatalf("tree of one node: %q", out)
	}
	k.ok("create", "/one/two")
	if out := k.ok("tree", "/one"); !strings.Contains(out, "\n2 nodes, 0 B of data\n") {
		t.Fatalf("tree of two nodes: %q", out)
	}
	p := k.start("watch", "/one")
	p.waitStderr("watching node /one")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if r := p.wait(); r.code != 1 || !strings.HasSuffix(r.stderr, "keeper: stopped by SIGTERM\n") {
		t.Fatalf("watch after SIGTERM: %v", r)
	}
}

// TestSandboxPort: --port puts the sandbox on a fixed port, and the sandbox
// prints the export line other terminals need; a taken port is an error.
func TestSandboxPort(t *testing.T) {
	t.Parallel()
	k := &cli{t: t, home: t.TempDir()}
	port, err := freeClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	r := k.exec("get /zookeeper\n", "sandbox", "--port", port)
	if r.code != 0 {
		t.Fatal(r)
	}
	if got := sandboxAddr(t, r.stdout); got != "127.0.0.1:"+port {
		t.Fatalf("sandbox --port %s runs at %s", port, got)
	}
	if !strings.Contains(r.stdout, "export ZK_SERVERS=127.0.0.1:"+port+"\n") {
		t.Fatalf("no export line:\n%s", r.stdout)
	}
	// The port is taken now: an error at once, not another port.
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Skipf("port %s was taken by another process meanwhile: %v", port, err)
	}
	defer ln.Close()
	r = k.exec("", "sandbox", "--port", port)
	if r.code != 1 || !strings.Contains(r.stderr, "client port "+port) {
		t.Fatalf("sandbox on a taken port: %v", r)
	}
	k.fails(2, []string{"--port"}, "sandbox", "--port", "-1")
}

// TestRequestTooLarge: a node over the servers' limit fails before anything
// is sent, with the size and the limit, not with "connection lost".
func TestRequestTooLarge(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/big")
	big := strings.Repeat("x", 1<<20)
	r := k.runIn(big, "set", "/big", "-")
	k.checkFail(r, 1, []string{"request too large", "over the limit of 1048575", "--max-request-size"}, []string{"set"})
	if strings.Contains(r.stderr, "connection lost") {
		t.Fatalf("stderr: %q", r.stderr)
	}
	k.ok("set", "/big", strings.Repeat("y", 1000))
}

// TestShellCommandsOfOtherTools: the commands zkCli and zk-shell users
// expect, in the shell (a script on standard input) and outside it.
func TestShellCommandsOfOtherTools(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)

	// In the shell: session, ephemerals, inline txn, addauth, whoami,
	// disconnect and connect.
	script := strings.Join([]string{
		"session",
		"create -e /e1",
		"create -e /e2",
		"ephemerals",
		"txn 'create /t1 one' 'create /t2 two' 'delete /t1'",
		"addauth digest:alice:pw",
		"whoami",
		"disconnect",
		"ls /",
		"connect " + k.servers,
		"ls /",
		"ephemerals",
	}, "\n") + "\n"
	r := k.runIn(script, "shell")
	for _, want := range []string{"session ", "CONNECTED\n", "timeout ", "server version ", "/e1\n/e2\n", "create /t1\ncreate /t2\ndelete /t1\n",
		"alice", "keeper: not connected (use connect)", "connected to " + k.servers} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Fatalf("shell script: %q missing\n%v", want, r)
		}
	}
	if r.code != 1 || strings.Count(r.stderr, "keeper:") != 1 {
		t.Fatalf("shell script: want one failure (ls after disconnect): %v", r)
	}
	if strings.HasSuffix(r.stdout, "/e1\n/e2\n") {
		t.Fatalf("the new session still owns the old ephemerals: %v", r)
	}
	if data, _, err := k.c.Get(ctx, "/t2"); err != nil || string(data) != "two" {
		t.Fatalf("inline txn: %q %v", data, err)
	}

	// edit: $EDITOR changes the file, the data is saved.
	k.ok("create", "/cfg", "port=1")
	r = k.execEnv([]string{"EDITOR=sed -i s/1/2/"}, "", "--server", k.servers, "edit", "/cfg")
	if r.code != 0 {
		t.Fatalf("edit: %v", r)
	}
	if out := k.ok("get", "/cfg"); out != "port=2" {
		t.Fatalf("after edit: %q", out)
	}
	// An editor that changes nothing saves nothing; a failing one neither.
	if r := k.execEnv([]string{"EDITOR=true"}, "", "--server", k.servers, "edit", "/cfg"); r.code != 0 || !strings.Contains(r.stderr, "no change") {
		t.Fatalf("edit without change: %v", r)
	}
	r = k.execEnv([]string{"EDITOR=false"}, "", "--server", k.servers, "edit", "/cfg")
	k.checkFail(r, 1, []string{"nothing saved"}, []string{"edit"})

	// acl set -R: every node of the subtree.
	k.ok("create", "-p", "/sec/a/b")
	k.ok("acl", "set", "-R", "/sec", "world:anyone:cdrw")
	for _, p := range []string{"/sec", "/sec/a", "/sec/a/b"} {
		acl, _, err := k.c.ACL(ctx, p)
		if err != nil || len(acl) != 1 || acl[0].Perms != keeper.PermAll&^keeper.PermAdmin {
			t.Fatalf("ACL of %s after acl set -R: %v %v", p, acl, err)
		}
	}

	// get -w: the data, then the next change.
	p := k.start("get", "-w", "/cfg")
	p.waitStdout("port=2\n")
	if _, err := k.c.Set(ctx, "/cfg", []byte("port=3"), -1); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(); r.code != 0 || !strings.HasPrefix(r.stdout, "port=2\nNodeDataChanged /cfg") || strings.Count(r.stdout, "\n") != 2 {
		t.Fatalf("get -w: %v", r)
	}

	// Quotas, as zkCli's.
	k.ok("create", "-p", "/q/a", "12345")
	k.ok("setquota", "-n", "10", "/q")
	k.ok("setquota", "-b", "100", "/q")
	out := k.ok("listquota", "/q")
	if !strings.Contains(out, "quota for /q: count=10,bytes=100") {
		t.Fatalf("listquota: %q", out)
	}
	var q struct {
		Limits map[string]int64 `json:"limits"`
	}
	if err := json.Unmarshal([]byte(k.ok("listquota", "--json", "/q")), &q); err != nil || q.Limits["count"] != 10 || q.Limits["bytes"] != 100 {
		t.Fatalf("listquota --json: %+v %v", q, err)
	}
	k.fails(1, []string{"already has a quota"}, "setquota", "-n", "5", "/q/a")
	k.ok("delquota", "-b", "/q")
	if out := k.ok("listquota", "/q"); !strings.Contains(out, "count=10,bytes=-1") {
		t.Fatalf("after delquota -b: %q", out)
	}
	k.ok("delquota", "/q")
	k.fails(1, []string{"no quota"}, "listquota", "/q")
	k.fails(2, []string{"one of -n and -b"}, "setquota", "/q")

	// reconfig: a standalone server refuses, and the error says so.
	r = k.run("reconfig", "--remove", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "keeper: ") {
		t.Fatalf("reconfig on a standalone server: %v", r)
	}
	k.fails(2, []string{"--add, --remove or --members"}, "reconfig")
}

// TestTLSOnPlainPortSaysWhy: a TLS client on a plain port fails after
// --timeout with the TLS handshake's error, not a bare timeout.
func TestTLSOnPlainPortSaysWhy(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	_, caPEM := newAuthority(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	r := k.run("--tls-ca", ca, "--timeout", "3s", "ls", "/")
	k.checkFail(r, 1, []string{"no session within 3s (last attempt: ", "tls"}, []string{"ls"})
}
