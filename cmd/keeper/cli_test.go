package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

func TestCreateGetSet(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	if out := k.ok("create", "/a", "hello"); out != "/a\n" {
		t.Fatalf("create printed %q", out)
	}
	if out := k.ok("get", "/a"); out != "hello" {
		t.Fatalf("get printed %q, want the raw data", out)
	}
	if out := k.ok("get", "--format", "hex", "/a"); !strings.Contains(out, "68 65 6c 6c 6f") || !strings.Contains(out, "|hello|") {
		t.Fatalf("get --format hex printed %q", out)
	}
	var got struct {
		Path string `json:"path"`
		Data string `json:"data"`
		Text string `json:"text"`
		Stat struct {
			Version    int32 `json:"version"`
			DataLength int32 `json:"dataLength"`
		} `json:"stat"`
	}
	if err := json.Unmarshal([]byte(k.ok("get", "--json", "/a")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Path != "/a" || got.Data != "aGVsbG8=" || got.Text != "hello" || got.Stat.DataLength != 5 {
		t.Fatalf("get --json: %+v", got)
	}
	// Flags after the arguments work too.
	k.ok("set", "/a", "world", "-v", "0")
	if out := k.ok("get", "/a"); out != "world" {
		t.Fatalf("after set: %q", out)
	}
	k.fails(1, []string{"keeper: set /a: ", "(BadVersion)"}, "set", "-v", "0", "/a", "again")
	// Data from standard input, binary-safe.
	bin := "\x00\x01\xff\n"
	if r := k.runIn(bin, "set", "/a", "-"); r.code != 0 {
		t.Fatal(r)
	}
	if out := k.ok("get", "/a"); out != bin {
		t.Fatalf("binary data came back as %q", out)
	}
	stat := k.ok("stat", "/a")
	for _, w := range []string{"dataVersion", "2", "dataLength", "4", "ephemeralOwner", "0x0"} {
		if !strings.Contains(stat, w) {
			t.Fatalf("stat lacks %q:\n%s", w, stat)
		}
	}
	var st struct {
		Path string   `json:"path"`
		Stat statJSON `json:"stat"`
	}
	if err := json.Unmarshal([]byte(k.ok("stat", "--json", "/a")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Path != "/a" || st.Stat.Version != 2 || st.Stat.DataLength != 4 || !strings.HasPrefix(st.Stat.Mzxid, "0x") {
		t.Fatalf("stat --json: %+v", st)
	}
}

func TestCreateModes(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)
	if out := k.ok("create", "-p", "/x/y/z", "deep"); out != "/x/y/z\n" {
		t.Fatalf("create -p printed %q", out)
	}
	seq := strings.TrimSpace(k.ok("create", "-s", "/x/job-", "1"))
	if !strings.HasPrefix(seq, "/x/job-") || len(seq) != len("/x/job-")+10 {
		t.Fatalf("create -s printed %q", seq)
	}
	k.ok("create", "-c", "/container")
	k.ok("create", "--ttl", "1h", "/ttl")
	for _, p := range []string{"/container", "/ttl"} {
		if st, err := k.c.Exists(ctx, p); err != nil || st == nil {
			t.Fatalf("%s: %v %v", p, st, err)
		}
	}
	k.fails(1, []string{"(NodeExists)"}, "create", "/x")
	k.fails(1, []string{"(NoNode)"}, "create", "/missing/child")
	k.fails(2, []string{"exclude each other"}, "create", "-e", "-c", "/bad")
	// An ephemeral node lives as long as the session: within one shell
	// script it is visible, with its owner.
	r := k.runIn("create -e /eph\nstat --json /eph\n", "shell")
	if r.code != 0 || !strings.Contains(r.stdout, `"ephemeralOwner": "0x`) || strings.Contains(r.stdout, `"ephemeralOwner": "0x0"`) {
		t.Fatalf("ephemeral: %v", r)
	}
	if st, err := k.c.Exists(ctx, "/eph"); err != nil || st != nil {
		t.Fatalf("the ephemeral node outlived its session: %v %v", st, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.fails(1, []string{"keeper: get /nope: node does not exist (NoNode)"}, "get", "/nope")
	k.fails(1, []string{"(NoNode)"}, "rm", "/nope")
	k.fails(1, []string{"(NoNode)"}, "rm", "-r", "/nope")
	k.fails(2, []string{"invalid path", "empty component"}, "get", "/a//b")
	k.fails(2, []string{"invalid path", "control character"}, "create", "/bad\x01name")
	k.fails(2, []string{"unknown command"}, "frobnicate")
	k.fails(2, []string{"unknown flag -x", "usage: keeper ls"}, "ls", "-x")
	k.fails(2, []string{"missing argument"}, "get")
	k.fails(2, []string{"too many arguments"}, "get", "/a", "/b")
	k.fails(2, []string{"needs a value"}, "set", "/a", "x", "-v")
	k.checkFail(k.exec("", "--server", "host:notaport", "ls"), 2, []string{"bad connect string"}, nil)
	k.checkFail(k.exec("", "--server", "127.0.0.1:2181", "--timeout", "0s", "ls"), 2, []string{"--timeout"}, nil)
	// A refusing server fails at once (TestConnectErrorsShowCause has more).
	port, err := freeClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	r := k.exec("", "--server", "127.0.0.1:"+port, "--timeout", "1s", "ls", "/")
	k.checkFail(r, 1, []string{"connect 127.0.0.1:" + port, "connection refused"}, nil)
	// No command: usage on stderr, status 2.
	if r := k.exec(""); r.code != 2 || !strings.Contains(r.stderr, "commands:") {
		t.Fatalf("no command: %v", r)
	}
	if r := k.exec("", "help", "get"); r.code != 0 || !strings.Contains(r.stdout, "usage: keeper get") ||
		!strings.Contains(r.stdout, "--format") {
		t.Fatalf("help get: %v", r)
	}
	if r := k.exec("", "ls", "--help"); r.code != 0 || !strings.Contains(r.stdout, "usage: keeper ls") {
		t.Fatalf("ls --help: %v", r)
	}
}

// freeClosedPort returns a port nothing listens on.
func freeClosedPort() (string, error) {
	p, err := zktest.FreePort()
	return strconv.Itoa(p), err
}

func TestServerFromEnvironment(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/env", "x")
	r := k.execEnv([]string{"ZK_SERVERS=" + k.servers}, "", "ls", "/")
	if r.code != 0 || r.stdout != "env\n" {
		t.Fatalf("ls with ZK_SERVERS: %v", r)
	}
	// --server wins over ZK_SERVERS.
	r = k.execEnv([]string{"ZK_SERVERS=127.0.0.1:1"}, "", "--server", k.servers, "ls", "/")
	if r.code != 0 || r.stdout != "env\n" {
		t.Fatalf("ls with ZK_SERVERS and --server: %v", r)
	}
}

func TestRm(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "-p", "/r/a/b")
	k.ok("create", "/r/c", "x")
	k.fails(1, []string{"(NotEmpty)"}, "rm", "/r")
	k.fails(1, []string{"(BadVersion)"}, "rm", "-v", "3", "/r/c")
	k.ok("rm", "-v", "0", "/r/c")
	k.ok("rm", "-r", "/r")
	if out := k.ok("ls", "/"); out != "" {
		t.Fatalf("after rm -r: %q", out)
	}
}

func TestListings(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "-p", "/app/config/db", "host=db1\nport=5432")
	k.ok("create", "/app/config/cache", "host=cache1")
	k.ok("create", "/app/lock-1", "")
	if r := k.runIn("\x00\xffpassword=x", "create", "/app/bin", "-"); r.code != 0 {
		t.Fatal(r)
	}
	if out := k.ok("ls", "/app"); out != "bin\nconfig\nlock-1\n" {
		t.Fatalf("ls: %q", out)
	}
	var names []string
	if err := json.Unmarshal([]byte(k.ok("ls", "--json", "/app")), &names); err != nil || !slices.Equal(names, []string{"bin", "config", "lock-1"}) {
		t.Fatalf("ls --json: %v %v", names, err)
	}
	long := k.ok("ls", "-l", "/app")
	if !strings.Contains(long, "TYPE") || !strings.Contains(long, "persistent") || !strings.Contains(long, "config") {
		t.Fatalf("ls -l:\n%s", long)
	}
	rec := k.ok("ls", "-R", "/app")
	if rec != "/app/bin\n/app/config\n/app/config/cache\n/app/config/db\n/app/lock-1\n" {
		t.Fatalf("ls -R: %q", rec)
	}
	tree := k.ok("tree", "/app")
	for _, w := range []string{"/app (0 B)", "├── bin (12 B)", "├── config (0 B)", "│   ├── cache (11 B)", "│   └── db (18 B)", "└── lock-1 (0 B)", "6 nodes, 41 B of data"} {
		if !strings.Contains(tree, w) {
			t.Fatalf("tree lacks %q:\n%s", w, tree)
		}
	}
	if tree := k.ok("tree", "--depth", "1", "/app"); strings.Contains(tree, "cache") || !strings.Contains(tree, "[2 children not shown]") {
		t.Fatalf("tree --depth 1:\n%s", tree)
	}
	if du := k.ok("du", "/app"); !strings.Contains(du, "BYTES  NODES  PATH\n") || !strings.Contains(du, "29     3      /app/config\n") ||
		!strings.Contains(du, "41     6      /app\n") {
		t.Fatalf("du:\n%s", du)
	}
	var usage struct {
		Bytes    int64 `json:"bytes"`
		Nodes    int64 `json:"nodes"`
		Children []struct {
			Path  string `json:"path"`
			Bytes int64  `json:"bytes"`
			Nodes int64  `json:"nodes"`
		} `json:"children"`
	}
	if err := json.Unmarshal([]byte(k.ok("du", "--json", "/app")), &usage); err != nil {
		t.Fatal(err)
	}
	if usage.Bytes != 41 || usage.Nodes != 6 || len(usage.Children) != 3 || usage.Children[1].Path != "/app/config" ||
		usage.Children[1].Bytes != 29 || usage.Children[1].Nodes != 3 {
		t.Fatalf("du --json: %+v", usage)
	}
	if out := k.ok("find", "/app", "c*"); out != "/app/config\n/app/config/cache\n" {
		t.Fatalf("find: %q", out)
	}
	if out := k.ok("find", "/", "lock-?"); out != "/app/lock-1\n" {
		t.Fatalf("find lock-?: %q", out)
	}
	if out := k.ok("grep", "host=", "/app"); out != "/app/config/cache:host=cache1\n/app/config/db:host=db1\n" {
		t.Fatalf("grep: %q", out)
	}
	if out := k.ok("grep", "-i", "-l", "PASSWORD"); out != "/app/bin\n" {
		t.Fatalf("grep -i -l: %q", out)
	}
	if out := k.ok("grep", "-F", "password=x"); out != "/app/bin:\\x00\\xffpassword=x\n" {
		t.Fatalf("grep -F on binary data: %q", out)
	}
	k.fails(2, []string{"bad pattern"}, "grep", "(", "/app")
}

func TestWatch(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)
	k.ok("create", "/w")
	p := k.start("watch", "--recursive", "/w")
	p.waitStderr("watching subtree /w")
	if _, err := k.c.Create(ctx, "/w/child", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.c.Set(ctx, "/w/child", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	if err := k.c.Delete(ctx, "/w/child", -1); err != nil {
		t.Fatal(err)
	}
	p.waitStdout("NodeCreated /w/child", "NodeDataChanged /w/child", "NodeDeleted /w/child")
	if r := p.interrupt(); r.code != 0 {
		t.Fatalf("watch after SIGINT: %v", r)
	}
	// JSON lines, one node.
	p = k.start("watch", "--json", "/w")
	p.waitStderr("watching node /w")
	if _, err := k.c.Set(ctx, "/w", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	p.waitStdout(`"type":"NodeDataChanged","path":"/w"`)
	if r := p.interrupt(); r.code != 0 {
		t.Fatalf("watch --json after SIGINT: %v", r)
	}
}

func TestDumpLoad(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)
	c := k.c
	// No CREATE: load must create the child before setting the ACL. DELETE
	// lets the test's cleanup remove the child.
	restricted := []keeper.ACL{{Perms: keeper.PermRead | keeper.PermDelete | keeper.PermAdmin, Scheme: "world", ID: "anyone"}}
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create(ctx, "/src", []byte("root data")))
	must(c.Create(ctx, "/src/nil", nil))
	must(c.Create(ctx, "/src/empty", []byte{}))
	must(c.Create(ctx, "/src/bin", []byte{0, 1, 2, 0xfe, 0xff, '\n', '"'}))
	must(c.Create(ctx, "/src/text", []byte("ünïcødé\n")))
	must(c.Create(ctx, "/src/locked", []byte("ro")))
	must(c.Create(ctx, "/src/locked/child", []byte("under a read-only parent")))
	if _, err := c.SetACL(ctx, "/src/locked", restricted, -1); err != nil {
		t.Fatal(err)
	}
	must(c.Create(ctx, "/src/a", nil))
	must(c.Create(ctx, "/src/a/b", nil))
	must(c.Create(ctx, "/src/a/b/c", []byte("deep")))
	must(c.Create(ctx, "/src/session", []byte("mine"), keeper.Ephemeral()))
	dumpFile := filepath.Join(t.TempDir(), "dump.json")
	k.ok("dump", "-o", dumpFile, "/src")
	raw, err := os.ReadFile(dumpFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dumpFile_
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if d.Format != dumpFormat || d.Root != "/src" || len(d.Nodes) != 11 {
		t.Fatalf("dump: format %q root %q, %d nodes", d.Format, d.Root, len(d.Nodes))
	}
	// The same dump on standard output.
	if out := k.ok("dump", "/src"); out != string(raw) {
		t.Fatalf("dump to stdout differs from dump -o")
	}

	// Load into an empty chroot of the same server: a second runner.
	k2 := newCLI(t)
	r := k2.run("load", dumpFile, "/")
	if r.code != 0 || !strings.Contains(r.stderr, "9 created, 1 updated, 1 ephemeral skipped") {
		t.Fatalf("load: %v", r)
	}
	want := readAll(t, c, "/src")
	got := readAll(t, k2.c, "/")
	delete(want, "/session")
	if len(got) != len(want) {
		t.Fatalf("loaded %d nodes, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Fatalf("%s was not loaded", p)
		}
		if !sameData(g.data, w.data) {
			t.Fatalf("%s: data %q (nil %v), want %q (nil %v)", p, g.data, g.data == nil, w.data, w.data == nil)
		}
		if p != "/" && !sameACL(g.acl, w.acl) {
			t.Fatalf("%s: ACL %v, want %v", p, g.acl, w.acl)
		}
	}
	// Loading again collides, unless -f.
	k2.fails(1, []string{"(NodeExists)"}, "load", dumpFile, "/")
	k2.ok("load", "-f", dumpFile, "/")
	// And from standard input, into a new path with missing parents.
	if r := k2.runIn(string(raw), "load", "-", "/copies/one"); r.code != 0 {
		t.Fatal(r)
	}
	if out := k2.ok("get", "/copies/one/a/b/c"); out != "deep" {
		t.Fatalf("loaded from stdin: %q", out)
	}
	// A file that is not a dump.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"format":"other"}`), 0o644)
	k2.fails(1, []string{"not a keeper dump"}, "load", bad)
}

// dumpFile_ mirrors the dump layout, to check the JSON itself.
type dumpFile_ struct {
	Format string `json:"format"`
	Root   string `json:"root"`
	Nodes  []struct {
		Path      string  `json:"path"`
		Data      *string `json:"data"`
		Ephemeral bool    `json:"ephemeral"`
	} `json:"nodes"`
}

// treeEntry is one node read back by readAll.
type treeEntry struct {
	data []byte
	acl  []keeper.ACL
}

// readAll reads a subtree recursively: data and ACL by path relative to root.
func readAll(t *testing.T, c *keeper.Client, root string) map[string]treeEntry {
	t.Helper()
	ctx := testCtx(t)
	out := map[string]treeEntry{}
	var visit func(p string)
	visit = func(p string) {
		data, _, err := c.Get(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		acl, _, err := c.ACL(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		out[relTo(root, p)] = treeEntry{data, acl}
		kids, err := c.Children(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kids {
			visit(keeper.JoinPath(p, k))
		}
	}
	visit(root)
	return out
}

func TestCopyMoveDiff(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)
	k.ok("create", "-p", "/s/a/b", "B")
	k.ok("create", "/s/c", "C")
	if _, err := k.c.SetACL(ctx, "/s/c", keeper.ReadACL(), -1); err != nil {
		t.Fatal(err)
	}
	k.ok("cp", "-r", "/s", "/d")
	if out := k.ok("diff", "/s", "/d"); out != "" {
		t.Fatalf("diff after cp -r: %q", out)
	}
	if acl, _, err := k.c.ACL(ctx, "/d/c"); err != nil || !sameACL(acl, keeper.ReadACL()) {
		t.Fatalf("cp did not copy the ACL: %v %v", acl, err)
	}
	k.fails(1, []string{"(NodeExists)"}, "cp", "-r", "/s", "/d")
	k.fails(2, []string{"into itself"}, "cp", "-r", "/s", "/s/inner")
	// Without -r only the node itself.
	k.ok("cp", "/s", "/single")
	if out := k.ok("ls", "/single"); out != "" {
		t.Fatalf("cp without -r copied children: %q", out)
	}
	// Differences.
	k.ok("set", "/d/a/b", "changed")
	k.ok("create", "/d/new")
	k.ok("rm", "/d/c")
	if r := k.run("diff", "/s", "/d"); r.code != 1 || (r.stdout != "- /c\n~ /a/b\n+ /new\n" && r.stdout != "~ /a/b\n- /c\n+ /new\n") {
		t.Fatalf("diff of different trees: %v", r)
	}
	var changes []struct{ Path, Change string }
	if err := json.Unmarshal([]byte(k.run("diff", "--json", "/s", "/d").stdout), &changes); err != nil || len(changes) != 3 {
		t.Fatalf("diff --json: %v %v", changes, err)
	}

	// Local files: one node's raw data, or a dump with -r.
	dir := t.TempDir()
	k.ok("cp", "/s/a/b", "file://"+filepath.Join(dir, "b.txt"))
	if b, err := os.ReadFile(filepath.Join(dir, "b.txt")); err != nil || string(b) != "B" {
		t.Fatalf("cp to a file: %q %v", b, err)
	}
	os.WriteFile(filepath.Join(dir, "in.bin"), []byte{0, 1, 2}, 0o644)
	k.ok("cp", "file:"+filepath.Join(dir, "in.bin"), "/fromfile")
	if out := k.ok("get", "/fromfile"); out != "\x00\x01\x02" {
		t.Fatalf("cp from a file: %q", out)
	}
	k.ok("cp", "-r", "/s", "file://"+filepath.Join(dir, "s.json"))
	k.ok("cp", "-r", "file://"+filepath.Join(dir, "s.json"), "/restored")
	if out := k.ok("diff", "/s", "/restored"); out != "" {
		t.Fatalf("diff after a round trip through a file: %q", out)
	}
	if out := k.ok("diff", "/s", "file://"+filepath.Join(dir, "s.json")); out != "" {
		t.Fatalf("diff against a dump file: %q", out)
	}
	k.fails(2, []string{"both local files"}, "cp", "file:/x", "./y")

	// Another "ensemble" through a zk:// URL (here the same server, without
	// the chroot).
	url := "zk://" + srv.Servers() + k.c.Chroot() + "/remote"
	k.ok("cp", "-r", "/s", url)
	if out := k.ok("diff", "/s", url); out != "" {
		t.Fatalf("diff with the zk:// copy: %q", out)
	}

	// mv within the ensemble: one transaction.
	r := k.run("mv", "/restored", "/moved/here")
	if r.code != 0 || strings.Contains(r.stderr, "not atomic") {
		t.Fatalf("mv: %v", r)
	}
	if st, _ := k.c.Exists(ctx, "/restored"); st != nil {
		t.Fatal("mv left the source")
	}
	if out := k.ok("diff", "/s", "/moved/here"); out != "" {
		t.Fatalf("diff after mv: %q", out)
	}
	// mv to another ensemble: copy then delete, said on stderr.
	r = k.run("mv", "/moved", url+"2")
	if r.code != 0 || !strings.Contains(r.stderr, "not atomic") {
		t.Fatalf("mv to zk://: %v", r)
	}
	if st, _ := k.c.Exists(ctx, "/moved"); st != nil {
		t.Fatal("mv to zk:// left the source")
	}
	// An ephemeral node cannot be moved.
	if _, err := k.c.Create(ctx, "/s/eph", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	k.fails(1, []string{"ephemeral"}, "mv", "/s", "/t")
}

func TestTxn(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)
	ops := `# set up a job queue
create /q
create /q/config "a b c"
create -s /q/job- first
set /q/config "d e f" 0
check /q 0
`
	r := k.runIn(ops, "txn")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !strings.Contains(r.stdout, "create /q\n") || !strings.Contains(r.stdout, "create /q/job-0000000001\n") ||
		!strings.Contains(r.stdout, "set /q/config version 1\n") {
		t.Fatalf("txn output: %q", r.stdout)
	}
	if out := k.ok("get", "/q/config"); out != "d e f" {
		t.Fatalf("after txn: %q", out)
	}
	// A failing op: nothing applied, the line named.
	file := filepath.Join(t.TempDir(), "ops.txt")
	os.WriteFile(file, []byte("create /q/new x\n\nset /q/config y 7\n"), 0o644)
	r = k.run("txn", file)
	k.checkFail(r, 1, []string{"line 3", "(BadVersion)", "nothing applied"}, nil)
	if st, _ := k.c.Exists(ctx, "/q/new"); st != nil {
		t.Fatal("a failed txn applied its first op")
	}
	r = k.runIn("delete /q/config\nfrob /x\n", "txn")
	k.checkFail(r, 2, []string{"line 2", "unknown operation"}, nil)
	r = k.runIn("delete /q/config\ndelete /q/job-0000000001\ndelete /q 0\n", "txn", "--json")
	var res []struct{ Op, Path string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || len(res) != 3 || res[2] != (struct{ Op, Path string }{"delete", "/q"}) {
		t.Fatalf("txn --json: %v", r)
	}
}

func TestACLCommands(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/n")
	if out := k.ok("acl", "get", "/n"); !strings.Contains(out, "world") || !strings.Contains(out, "cdrwa") {
		t.Fatalf("acl get: %q", out)
	}
	k.ok("acl", "set", "/n", "world:anyone:ra", "username_password:bob:secret:cdrwa")
	var got struct {
		ACL  []aclJSON `json:"acl"`
		Stat statJSON  `json:"stat"`
	}
	if err := json.Unmarshal([]byte(k.ok("acl", "get", "--json", "/n")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Stat.Aversion != 1 || len(got.ACL) != 2 || got.ACL[0] != (aclJSON{"world", "anyone", "ra"}) || got.ACL[1].Scheme != "digest" {
		t.Fatalf("acl get --json: %+v", got)
	}
	k.fails(1, []string{"(BadVersion)"}, "acl", "set", "-v", "0", "/n", "world:anyone:cdrwa")
	k.fails(2, []string{"bad ACL"}, "acl", "set", "/n", "world:anyone")
	k.fails(2, []string{"bad permissions"}, "acl", "set", "/n", "world:anyone:xyz")
	k.fails(2, []string{"unknown subcommand"}, "acl", "frob", "/n")
	// Writing needs bob's credentials now.
	k.fails(1, []string{"(NoAuth)"}, "set", "/n", "x")
	if r := k.run("--auth", "digest:bob:secret", "set", "/n", "x"); r.code != 0 {
		t.Fatalf("set with --auth: %v", r)
	}
	who := k.ok("--auth", "digest:bob:secret", "whoami")
	if !strings.Contains(who, "digest") || !strings.Contains(who, "bob") || !strings.Contains(who, "ip") {
		t.Fatalf("whoami: %q", who)
	}
	if out := k.ok("config"); !strings.Contains(out, "standalone") {
		t.Fatalf("config on a standalone server: %q", out)
	}
	k.ok("sync", "/n")
}

func TestLockCommand(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	ctx := testCtx(t)
	// The command sees the lock node; keeper exits with its status.
	r := k.run("lock", "--id", "tester", "/locks/job", "--", bin, "--server", k.servers, "ls", "/locks/job")
	if r.code != 0 || !strings.Contains(r.stdout, "__lock__0000000000") {
		t.Fatalf("lock: %v", r)
	}
	r = k.run("lock", "/locks/job", "--", "sh", "-c", "exit 7")
	if r.code != 7 || r.stderr != "" {
		t.Fatalf("lock passing on exit 7: %v", r)
	}
	if kids, err := k.c.Children(ctx, "/locks/job"); err != nil || len(kids) != 0 {
		t.Fatalf("lock nodes left: %v %v", kids, err)
	}
	// While another holds it, --wait gives up. The holder runs until a file
	// appears.
	release := filepath.Join(t.TempDir(), "release")
	holder := k.start("lock", "/locks/job", "--", "sh", "-c", "while [ ! -e "+release+" ]; do sleep 0.05; done; echo released")
	waitFor(t, 30*time.Second, "the first lock holder", func() bool {
		kids, _ := k.c.Children(ctx, "/locks/job")
		return len(kids) == 1
	})
	k.fails(1, []string{"not acquired within 200ms"}, "lock", "--wait", "200ms", "/locks/job", "--", "true")
	if kids, _ := k.c.Children(ctx, "/locks/job"); len(kids) != 1 {
		t.Fatalf("the waiter left its node: %v", kids)
	}
	// A waiter gets the lock once the holder is done.
	waiter := k.start("lock", "/locks/job", "--", "echo", "second")
	os.WriteFile(release, nil, 0o644)
	if r := holder.wait(); r.code != 0 || r.stdout != "released\n" {
		t.Fatalf("holder: %v", r)
	}
	if r := waiter.wait(); r.code != 0 || r.stdout != "second\n" {
		t.Fatalf("waiter: %v", r)
	}
	k.fails(2, []string{"missing argument"}, "lock", "/locks/job")
	k.fails(1, []string{"executable file not found"}, "lock", "/locks/job", "--", "no-such-command-here")
}

func TestFourLetterWords(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	host := srv.Addr(0)
	if out := k.ok("srvr"); !strings.Contains(out, host) || !strings.Contains(out, "standalone") || !strings.Contains(out, "NODES") {
		t.Fatalf("srvr:\n%s", out)
	}
	var stats []serverStatsJSON
	if err := json.Unmarshal([]byte(k.ok("srvr", "--json")), &stats); err != nil || len(stats) != 1 || stats[0].Mode != "standalone" {
		t.Fatalf("srvr --json: %+v %v", stats, err)
	}
	if out := k.ok("mntr", "znode_count", "server_state"); !strings.Contains(out, "zk_znode_count") ||
		!strings.Contains(out, "zk_server_state") || strings.Contains(out, "zk_version") {
		t.Fatalf("mntr with filters:\n%s", out)
	}
	var mntr map[string]map[string]any
	if err := json.Unmarshal([]byte(k.ok("mntr", "--json")), &mntr); err != nil || mntr[host]["zk_server_state"] != "standalone" {
		t.Fatalf("mntr --json: %v", err)
	}
	if n, ok := mntr[host]["zk_znode_count"].(float64); !ok || n < 1 {
		t.Fatalf("mntr --json: zk_znode_count is %#v, want a number", mntr[host]["zk_znode_count"])
	}
	if out := k.ok("cons"); !strings.Contains(out, "CLIENT") || !strings.Contains(out, host) {
		t.Fatalf("cons:\n%s", out)
	}
	if out := k.ok("4lw", "stat"); !strings.Contains(out, "CLIENT") || !strings.Contains(out, "standalone") {
		t.Fatalf("4lw stat:\n%s", out)
	}
	if out := k.ok("4lw", "ruok"); !strings.Contains(out, "imok") {
		t.Fatalf("4lw ruok: %q", out)
	}
	if out := k.ok("4lw", "conf"); !strings.Contains(out, "clientPort") {
		t.Fatalf("4lw conf: %q", out)
	}
	top := k.ok("top", "--once")
	if !strings.Contains(top, "SOURCE") || !strings.Contains(top, "standalone") || !strings.Contains(top, "mntr") {
		t.Fatalf("top --once:\n%s", top)
	}
	var rows []topRow
	if err := json.Unmarshal([]byte(k.ok("top", "--once", "--json")), &rows); err != nil || len(rows) != 1 ||
		rows[0].Source != "mntr" || rows[0].Znodes < 1 {
		t.Fatalf("top --once --json: %+v %v", rows, err)
	}
	// One server of the connect string down: its row says so.
	port, _ := freeClosedPort()
	r := k.exec("", "--server", host+",127.0.0.1:"+port, "top", "--once")
	if r.code != 0 || !strings.Contains(r.stdout, "127.0.0.1:"+port) || !strings.Contains(r.stdout, "connection refused") {
		t.Fatalf("top with a server down: %v", r)
	}
	r = k.exec("", "--server", host+",127.0.0.1:"+port, "srvr")
	k.checkFail(r, 1, []string{"127.0.0.1:" + port}, nil)
	if !strings.Contains(r.stdout, "standalone") {
		t.Fatalf("srvr prints the servers that answered: %v", r)
	}
}

func TestShellScript(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	script := `
# comments and blank lines are skipped
create /app
cd app
pwd
create child "two words"
get child
cd ..
ls
cd /app/child
pwd
cd ../..
pwd
get nope
create /after
`
	r := k.runIn(script, "shell")
	if r.code != 1 {
		t.Fatalf("a script with a failing command exits 1: %v", r)
	}
	want := "/app\n/app\n/app/child\ntwo words\napp\n/app/child\n/\n/after\n"
	if r.stdout != want {
		t.Fatalf("shell script output %q, want %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "get /nope: node does not exist (NoNode)") {
		t.Fatalf("shell script stderr: %q", r.stderr)
	}
	r = k.runIn("cd /missing\nsandbox\nexit\nls\n", "shell")
	if r.code != 2 || !strings.Contains(r.stderr, "(NoNode)") || !strings.Contains(r.stderr, "does not work inside the shell") || r.stdout != "" {
		t.Fatalf("shell errors: %v", r)
	}
	r = k.runIn("get 'unterminated\n", "shell")
	if r.code != 2 || !strings.Contains(r.stderr, "unterminated") {
		t.Fatalf("shell quote error: %v", r)
	}
	if r := k.runIn("help\n", "shell"); r.code != 0 || !strings.Contains(r.stdout, "cd") || strings.Contains(r.stdout, "sandbox") {
		t.Fatalf("shell help: %v", r)
	}
	k.fails(2, []string{"only works inside the shell"}, "cd", "/")
}
