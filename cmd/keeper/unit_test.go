package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keeper-go/keeper"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cwd, p, want string
		bad          bool
	}{
		{"/", "", "/", false},
		{"/", "/", "/", false},
		{"/", "a", "/a", false},
		{"/a", "b/c", "/a/b/c", false},
		{"/a/b", "..", "/a", false},
		{"/a/b", "../..", "/", false},
		{"/a/b", "../../..", "/", false},
		{"/a", "./b/./c/", "/a/b/c", false},
		{"/a", "/x/../y", "/y", false},
		{"/", "/a/", "/a", false},
		{"/", "/a//b", "", true},
		{"/", "a\x00b", "", true},
		{"/", "a\tb", "", true},
		{"/", "a\u0085b", "", true},
		{"/", "a\ufff5", "", true},
		{"/", "ünï", "/ünï", false},
	} {
		got, err := resolve(tc.cwd, tc.p)
		if tc.bad {
			if !errors.Is(err, keeper.ErrInvalidPath) || exitCode(err) != 2 {
				t.Errorf("resolve(%q, %q) = %q, %v; want an invalid path (exit 2)", tc.cwd, tc.p, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("resolve(%q, %q) = %q, %v; want %q", tc.cwd, tc.p, got, err, tc.want)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ root, p, rel string }{
		{"/", "/", "/"}, {"/", "/a/b", "/a/b"}, {"/a", "/a", "/"}, {"/a", "/a/b/c", "/b/c"},
	} {
		if got := relTo(tc.root, tc.p); got != tc.rel {
			t.Errorf("relTo(%q, %q) = %q, want %q", tc.root, tc.p, got, tc.rel)
		}
		if got := under(tc.root, tc.rel); got != tc.p {
			t.Errorf("under(%q, %q) = %q, want %q", tc.root, tc.rel, got, tc.p)
		}
	}
	if path.Dir("/a/b") != "/a" || path.Dir("/a") != "/" || path.Dir("/") != "/" || path.Base("/a/b") != "b" || path.Base("/") != "/" {
		t.Error("parentOf/baseOf")
	}
	if !within("/a", "/a/b") || !within("/a", "/a") || within("/a", "/ab") || !within("/", "/x") {
		t.Error("within")
	}
}

func TestSplitWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"  ls   -l  /a ", []string{"ls", "-l", "/a"}, false},
		{`set /a 'two words'`, []string{"set", "/a", "two words"}, false},
		{`set /a "say \"hi\"\n"`, []string{"set", "/a", "say \"hi\"\n"}, false},
		{`set /a ''`, []string{"set", "/a", ""}, false},
		{`a\ b c`, []string{"a b", "c"}, false},
		{`x'y'"z"`, []string{"xyz"}, false},
		{`'unterminated`, nil, true},
		{`"unterminated`, nil, true},
		{"tab\tseparated", []string{"tab", "separated"}, false},
	} {
		got, err := splitWords(tc.in)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		stop   bool
		pos    []string
		flags  string // l R v after parsing
		errStr string
	}{
		{[]string{"/a", "-l"}, false, []string{"/a"}, "true false -1", ""},
		{[]string{"-lR", "/a"}, false, []string{"/a"}, "true true -1", ""},
		{[]string{"-v", "3", "/a", "data"}, false, []string{"/a", "data"}, "false false 3", ""},
		{[]string{"--v=4", "/a"}, false, []string{"/a"}, "false false 4", ""},
		{[]string{"-v", "-1", "-1"}, false, []string{"-1"}, "false false -1", ""},
		{[]string{"/a", "--", "-l", "-x"}, false, []string{"/a", "-l", "-x"}, "false false -1", ""},
		{[]string{"-", "-l"}, false, []string{"-"}, "true false -1", ""},
		{[]string{"-l", "cmd", "-R"}, true, []string{"cmd", "-R"}, "true false -1", ""},
		{[]string{"-x"}, false, nil, "", "unknown flag -x"},
		{[]string{"-lx"}, false, nil, "", "unknown flag -lx"},
		{[]string{"/a", "-v"}, false, nil, "", "needs a value"},
		{[]string{"-v", "abc"}, false, nil, "", "bad value"},
	} {
		fs := newFlagSet("t")
		l := fs.Bool("l", false, "")
		r := fs.Bool("R", false, "")
		v := fs.Int("v", -1, "")
		pos, err := parseFlags(fs, tc.args, tc.stop)
		if tc.errStr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errStr) {
				t.Errorf("parseFlags(%q): error %v, want %q", tc.args, err, tc.errStr)
			}
			continue
		}
		got := fmt.Sprintf("%v %v %d", *l, *r, *v)
		if err != nil || !slices.Equal(pos, tc.pos) || got != tc.flags {
			t.Errorf("parseFlags(%q) = %q, %v, flags %s; want %q, flags %s", tc.args, pos, err, got, tc.pos, tc.flags)
		}
	}
}

func TestParseACL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want keeper.ACL
		bad  bool
	}{
		{"world:anyone:cdrwa", keeper.ACL{Perms: keeper.PermAll, Scheme: "world", ID: "anyone"}, false},
		{"ip:10.0.0.0/8:r", keeper.ACL{Perms: keeper.PermRead, Scheme: "ip", ID: "10.0.0.0/8"}, false},
		{"digest:bob:abc=:rw", keeper.ACL{Perms: keeper.PermRead | keeper.PermWrite, Scheme: "digest", ID: "bob:abc="}, false},
		{"auth::ca", keeper.ACL{Perms: keeper.PermCreate | keeper.PermAdmin, Scheme: "auth", ID: ""}, false},
		{"world:anyone:", keeper.ACL{Scheme: "world", ID: "anyone"}, false},
		{"username_password:bob:secret:cdrwa", keeper.DigestACL(keeper.PermAll, "bob", "secret"), false},
		{"world:anyone", keeper.ACL{}, true},
		{"world", keeper.ACL{}, true},
		{":x:r", keeper.ACL{}, true},
		{"world:anyone:rwz", keeper.ACL{}, true},
		{"username_password:bob:r", keeper.ACL{}, true},
	} {
		got, err := parseACL(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("parseACL(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
	// Perm.String and parsePerms round-trip.
	for p := keeper.Perm(0); p <= keeper.PermAll; p++ {
		if got, err := parsePerms(p.String()); err != nil || got != p {
			t.Errorf("parsePerms(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
}

func TestParseTxnLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line    string
		op      string
		path    string
		data    string
		version int32
		nopts   int
		bad     bool
	}{
		{"create /a", "create", "/a", "", -1, 0, false},
		{"create -e -s /a/b- 'x y'", "create", "/a/b-", "x y", -1, 2, false},
		{"create -s jobs/", "create", "/cwd/jobs/", "", -1, 1, false},
		{"create --ttl 1m /t d", "create", "/t", "d", -1, 1, false},
		{"set /a data", "set", "/a", "data", -1, 0, false},
		{"set /a data 3", "set", "/a", "data", 3, 0, false},
		{"delete ../x 2", "delete", "/x", "", 2, 0, false},
		{"rm /x", "delete", "/x", "", -1, 0, false},
		{"check /a 0", "check", "/a", "", 0, 0, false},
		{"check /a", "", "", "", 0, 0, true},
		{"set /a", "", "", "", 0, 0, true},
		{"set /a d x", "", "", "", 0, 0, true},
		{"delete /a 1 2", "", "", "", 0, 0, true},
		{"create", "", "", "", 0, 0, true},
		{"create -z /a", "", "", "", 0, 0, true},
		{"create --ttl 0.1ms /a", "", "", "", 0, 0, true},
		{"frob /a", "", "", "", 0, 0, true},
		{"get /a", "", "", "", 0, 0, true},
	} {
		op, err := parseTxnLine(tc.line, "/cwd")
		if tc.bad {
			if err == nil {
				t.Errorf("parseTxnLine(%q): no error", tc.line)
			}
			continue
		}
		if err != nil || op.op != tc.op || op.path != tc.path || string(op.data) != tc.data || op.version != tc.version || len(op.opts) != tc.nopts {
			t.Errorf("parseTxnLine(%q) = %+v, %v", tc.line, op, err)
		}
	}
	if _, err := parseTxn(strings.NewReader("# only a comment\n\n"), "/"); exitCode(err) != 2 {
		t.Errorf("an empty txn: %v", err)
	}
	if _, err := parseTxn(strings.NewReader("create /ok\nset /a//b x\n"), "/"); err == nil || !strings.Contains(err.Error(), "line 2") || exitCode(err) != 2 {
		t.Errorf("a bad path in a txn: %v", err)
	}
}

func TestHostsOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{"h1:2181,h2:2182/chroot", []string{"h1:2181", "h2:2182"}, false},
		{"h1", []string{"h1:2181"}, false},
		{" h1 , h2:1 ", []string{"h1:2181", "h2:1"}, false},
		{"[::1]:2181,[::1]", []string{"[::1]:2181", "[::1]:2181"}, false},
		{"[::1]/a/b", []string{"[::1]:2181"}, false},
		{"", nil, true},
		{"/chroot", nil, true},
		{"h1:0", nil, true},
		{"h1:x", nil, true},
		{"::1", nil, true},
	} {
		got, err := hostsOf(tc.in)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("hostsOf(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
		if tc.bad && !errors.Is(err, keeper.ErrBadConnectString) {
			t.Errorf("hostsOf(%q): %v does not match ErrBadConnectString", tc.in, err)
		}
	}
}

func TestParseLocation(t *testing.T) {
	t.Parallel()
	a := newApp(nil, io.Discard, io.Discard)
	defer a.close()
	a.cwd = "/app"
	for _, tc := range []struct {
		in   string
		want location
		bad  bool
	}{
		{"x", location{path: "/app/x"}, false},
		{"../y", location{path: "/y"}, false},
		{"/abs", location{path: "/abs"}, false},
		{"zk://h1:2181,h2:2182/a/b", location{servers: "h1:2181,h2:2182", path: "/a/b"}, false},
		{"zk://h1:2181", location{servers: "h1:2181", path: "/"}, false},
		{"dns-srv://_zk._tcp.example.com/a/b", location{servers: "dns-srv://_zk._tcp.example.com", path: "/a/b"}, false},
		{"dns-srv://zk.example.com", location{servers: "dns-srv://zk.example.com", path: "/"}, false},
		{"dns-srv:///a", location{}, true},
		{"file:///srv/backup/x", location{file: "/srv/backup/x"}, false},
		{"file:rel/x", location{file: "rel/x"}, false},
		{"./local", location{file: "./local"}, false},
		{"-", location{file: "-"}, false},
		{"zk:///a", location{}, true},
		{"zk://h1:x/a", location{}, true},
		{"zk://h1/a//b", location{}, true},
		{"file:", location{}, true},
	} {
		got, err := a.parseLocation(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseLocation(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestErrorLine(t *testing.T) {
	t.Parallel()
	noNode := &keeper.Error{Op: "get", Path: "/a", Code: keeper.CodeNoNode}
	for _, tc := range []struct {
		err  error
		want string
		code int
	}{
		{noNode, "keeper: get /a: node does not exist (NoNode)", 1},
		{fmt.Errorf("keeper: load /x: %w", noNode), "keeper: load /x: get /a: node does not exist (NoNode)", 1},
		{errors.New("multi\nline  error"), "keeper: multi; line error", 1},
		{errors.Join(errors.New("keeper: srvr a: x"), errors.New("keeper: srvr b: y")), "keeper: srvr a: x; srvr b: y", 1},
		{usageErr(nil, "bad"), "keeper: bad", 2},
		{fmt.Errorf("%w %q: x", keeper.ErrBadConnectString, "s"), `keeper: bad connect string "s": x`, 2},
		{&exitError{7}, "keeper: command exited with status 7", 7},
	} {
		if got := errorLine(tc.err); got != tc.want {
			t.Errorf("errorLine(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":       "plain",
		"tab\there":   "tab\there",
		"\x00\x01":    `\x00\x01`,
		"\xff":        `\xff`,
		"ünï":         "ünï",
		"bell\a":      `bell\a`,
		"\u200b zero": `\u200b zero`,
	} {
		if got := printable([]byte(in)); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDumpRoundTrip(t *testing.T) {
	t.Parallel()
	nodes := []znode{
		{rel: "/", data: nil, acl: keeper.OpenACL()},
		{rel: "/empty", data: []byte{}},
		{rel: "/bin", data: []byte{0, 0xff, '\n'}, acl: keeper.ReadACL()},
		{rel: "/bin/eph", data: []byte("x"), ephemeral: true, owner: 0x1234},
	}
	back, err := fromDump(toDump("/r", nodes))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		b := back[i]
		if b.rel != n.rel || !sameData(b.data, n.data) || !sameACL(b.acl, n.acl) || b.ephemeral != n.ephemeral {
			t.Errorf("node %d: %+v came back as %+v", i, n, b)
		}
	}
	for _, tc := range []struct {
		d    dumpFile
		want string
	}{
		{dumpFile{Format: "x"}, "not a keeper dump"},
		{dumpFile{Format: dumpFormat, Nodes: []dumpNode{{Path: "/a"}}}, "parent"},
		{dumpFile{Format: dumpFormat, Nodes: []dumpNode{{Path: "/"}, {Path: "/"}}}, "twice"},
		{dumpFile{Format: dumpFormat, Nodes: []dumpNode{{Path: "/"}, {Path: "/a/../b"}}}, "bad path"},
		{dumpFile{Format: dumpFormat, Nodes: []dumpNode{{Path: "/", Data: ptr("!!")}}}, "base64"},
		{dumpFile{Format: dumpFormat, Nodes: []dumpNode{{Path: "/", ACL: []aclJSON{{"world", "anyone", "q"}}}}}, "permissions"},
	} {
		if _, err := fromDump(&tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("fromDump(%+v): error %v, want %q", tc.d, err, tc.want)
		}
	}
}

func ptr(s string) *string { return &s }

// editorFor returns an editor reading the keys in input and writing to out.
func editorFor(input string, out *bytes.Buffer, history []string) *editor {
	return &editor{
		out:     out,
		keys:    newKeyReader(strings.NewReader(input)),
		width:   func() int { return 30 },
		prompt:  func() string { return "> " },
		history: history,
		complete: func(line []rune, pos int) completion {
			start := pos
			for start > 0 && line[start-1] != ' ' {
				start--
			}
			word := string(line[start:pos])
			var c completion
			c.start = start
			for _, cand := range []string{"get ", "/alpha/", "/alps "} {
				if strings.HasPrefix(cand, word) && word != "" {
					c.words = append(c.words, cand)
					c.display = append(c.display, strings.TrimSpace(cand))
				}
			}
			return c
		},
	}
}

func TestEditor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, keys string
		history    []string
		want       string
		err        error
	}{
		{"plain", "abc\r", nil, "abc", nil},
		{"newline", "abc\n", nil, "abc", nil},
		{"backspace", "abc\x7f\x7fd\r", nil, "ad", nil},
		{"ctrl-h", "abc\x08\r", nil, "ab", nil},
		{"home-insert", "abc\x01X\r", nil, "Xabc", nil},
		{"left-arrows", "abc\x1b[D\x1b[DX\r", nil, "aXbc", nil},
		{"right-arrow", "abc\x01\x1b[CX\r", nil, "aXbc", nil},
		{"home-delete", "abc\x1b[H\x1b[3~\r", nil, "bc", nil},
		{"end-key", "abc\x01\x1b[FX\r", nil, "abcX", nil},
		{"vt-home-end", "abc\x1b[1~X\x1b[4~Y\r", nil, "XabcY", nil},
		{"ss3-home", "abc\x1bOHX\r", nil, "Xabc", nil},
		{"ctrl-w", "hello world\x17\r", nil, "hello ", nil},
		{"ctrl-k", "abc\x02\x02\x0b\r", nil, "a", nil},
		{"ctrl-u", "abc\x02\x15\r", nil, "c", nil},
		{"ctrl-b-f", "abc\x02\x02\x06X\r", nil, "abXc", nil},
		{"ctrl-d-deletes", "abc\x01\x04\r", nil, "bc", nil},
		{"ctrl-c", "abc\x03", nil, "", errInterruptLine},
		{"ctrl-d-eof", "\x04", nil, "", io.EOF},
		{"eof", "abc", nil, "", io.EOF},
		{"utf8", "héllo wörld\r", nil, "héllo wörld", nil},
		{"utf8-backspace", "hé\x7f\r", nil, "h", nil},
		{"control-ignored", "a\x1fb\r", nil, "ab", nil},
		{"alt-key-ignored", "a\x1bxb\r", nil, "ab", nil},
		{"history-up", "\x1b[A\x1b[A\r", []string{"one", "two"}, "one", nil},
		{"history-top", "\x1b[A\x1b[A\x1b[A\r", []string{"one", "two"}, "one", nil},
		{"history-down", "x\x1b[A\x1b[B\r", []string{"one", "two"}, "x", nil},
		{"ctrl-p-n", "\x10\x10\x0e\r", []string{"one", "two"}, "two", nil},
		{"complete-command", "ge\t/alph\t\r", nil, "get /alpha/", nil},
		{"complete-common-prefix", "cd /a\t\r", nil, "cd /alp", nil},
		{"complete-none", "zz\t\r", nil, "zz", nil},
		{"long-line", strings.Repeat("x", 100) + "\x01y\r", nil, "y" + strings.Repeat("x", 100), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			e := editorFor(tc.keys, &out, tc.history)
			defer e.keys.close()
			got, err := e.readLine(context.Background())
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("readLine(%q) = %q, %v; want %q, %v", tc.keys, got, err, tc.want, tc.err)
			}
			if !strings.Contains(out.String(), "> ") {
				t.Fatalf("no prompt drawn: %q", out.String())
			}
		})
	}
	// Several candidates without a longer common prefix are listed.
	var out bytes.Buffer
	e := editorFor("/alp\t\r", &out, nil)
	defer e.keys.close()
	if got, err := e.readLine(context.Background()); err != nil || got != "/alp" || !strings.Contains(out.String(), "/alpha/  /alps") {
		t.Fatalf("listing candidates: %q %v, drew %q", got, err, out.String())
	}
}

func TestCommonPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range [][3]string{{"abc", "abd", "ab"}, {"", "x", ""}, {"é1", "é2", "é"}, {"é", "è", ""}, {"same", "same", "same"}} {
		if got := commonPrefix(tc[0], tc[1]); got != tc[2] {
			t.Errorf("commonPrefix(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/hist"
	h := loadHistory(file)
	for _, l := range []string{"a", "b", "b", "c"} {
		h = addHistory(h, l, file)
	}
	if !slices.Equal(h, []string{"a", "b", "c"}) {
		t.Fatalf("history %q", h)
	}
	if got := loadHistory(file); !slices.Equal(got, h) {
		t.Fatalf("history file read back as %q", got)
	}
	if loadHistory("") != nil {
		t.Fatal("no file, no history")
	}
}

func TestCommandTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range commands {
		for _, n := range append([]string{c.name}, c.aliases...) {
			if seen[n] {
				t.Errorf("command name %q used twice", n)
			}
			seen[n] = true
		}
		if c.summary == "" || c.setup == nil {
			t.Errorf("command %q lacks a summary or setup", c.name)
		}
		if c.max >= 0 && c.min > c.max {
			t.Errorf("command %q: min %d > max %d", c.name, c.min, c.max)
		}
		// Every command's flags register without clashing with the
		// connection flags.
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("command %q: %v", c.name, r)
				}
			}()
			a := newApp(nil, io.Discard, io.Discard)
			defer a.close()
			fs := newFlagSet(c.name)
			c.setup(a, fs)
			a.conn.register(fs)
		}()
	}
	for _, name := range []string{"ls", "tree", "get", "stat", "set", "create", "rm", "cp", "mv", "diff", "du", "find",
		"grep", "watch", "dump", "load", "acl", "sync", "txn", "whoami", "config", "lock", "mntr", "srvr", "cons",
		"4lw", "top", "shell", "sandbox", "cd", "pwd", "exit", "help"} {
		if lookupCommand(name) == nil {
			t.Errorf("no command %q", name)
		}
	}
}

func TestTopFitsWidth(t *testing.T) {
	t.Parallel()
	tv := &topView{hosts: []string{"zookeeper-1.example.com:2181", "zookeeper-2.example.com:2181"}}
	rows := []topRow{
		{Server: "zookeeper-1.example.com:2181", Source: "mntr", Mode: "follower", LatencyMin: 0.1, LatencyAvg: 2.666666, LatencyMax: 1234,
			Outstanding: 12, Znodes: 123456, Watches: 98765, Connections: 321},
		{Server: "zookeeper-2.example.com:2181", Error: strings.Repeat("connection refused ", 10)},
	}
	for _, width := range []int{80, 60} {
		var sb strings.Builder
		tv.render(&sb, rows, "\n", width)
		for _, l := range strings.Split(sb.String(), "\n") {
			if n := utf8.RuneCountInString(strings.TrimRight(l, " ")); n > width {
				t.Fatalf("width %d: a line of %d columns: %q\n%s", width, n, l, sb.String())
			}
		}
		for _, want := range []string{"SERVER", "MODE", "ZNODES", "follower", "123456"} {
			if !strings.Contains(sb.String(), want) {
				t.Fatalf("width %d: %q missing:\n%s", width, want, sb.String())
			}
		}
	}
	var sb strings.Builder
	tv.render(&sb, rows, "\n", 0)
	for _, want := range []string{"SOURCE", "OUTSTANDING", "CONNECTIONS", "WATCHES", "LATENCY", "0.1/2.67/1234"} {
		if !strings.Contains(sb.String(), want) {
			t.Fatalf("no width limit: %q missing:\n%s", want, sb.String())
		}
	}
}

func TestFmtDurationAndPlural(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		2666666666 * time.Nanosecond:          "2.67s",
		90*time.Second + 400*time.Millisecond: "1m30s",
		12345678 * time.Nanosecond:            "12.35ms",
		10 * time.Second:                      "10s",
		0:                                     "0s",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if plural(1, "node") != "1 node" || plural(0, "node") != "0 nodes" || plural(3, "node") != "3 nodes" {
		t.Error("plural")
	}
}

func TestCompleteLineQuoting(t *testing.T) {
	t.Parallel()
	tree := map[string][]string{
		"/":        {"my dir", "my file", "it's", "plain"},
		"/my dir":  {"x"},
		"/sub":     {"a b"},
		"/my file": nil,
	}
	children := func(p string) ([]string, error) { return tree[p], nil }
	hasChildren := func(p string) bool { return len(tree[p]) > 0 }
	for _, tc := range []struct{ line, want string }{
		{"get /my", "get /my\\ "},            // two candidates: their common prefix, escaped
		{"get /my\\ d", "get /my\\ dir/"},    // escaped space, a directory
		{"get /my\\ f", "get /my\\ file "},   // a leaf ends the word
		{"get '/my d", "get '/my dir/"},      // inside single quotes
		{"get '/my f", "get '/my file' "},    // the quote is closed after a leaf
		{`get "/my f`, `get "/my file" `},    // double quotes
		{"get /it", `get /it\'s `},           // a quote in the name
		{"get '/it", `get "/it's" `},         // single quote inside single quotes: double ones
		{"get /pl", "get /plain "},           // plain names stay plain
		{"ls '/my dir'/", "ls /my\\ dir/x "}, // after a closed quote: the word rewritten
	} {
		line := []rune(tc.line)
		c := completeLine(line, len(line), "/", children, hasChildren)
		got := tc.line
		if len(c.words) > 0 {
			repl := c.words[0]
			for _, w := range c.words[1:] {
				repl = commonPrefix(repl, w)
			}
			got = string(line[:c.start]) + repl
			if len(c.words) > 1 && utf8.RuneCountInString(repl) <= len(line)-c.start {
				got = tc.line
			}
		}
		if got != tc.want {
			t.Errorf("completing %q: %q (candidates %q), want %q", tc.line, got, c.words, tc.want)
		}
		if words, err := splitWords(strings.TrimSuffix(tc.want, "/")); err == nil && strings.HasSuffix(tc.want, " ") {
			if last := words[len(words)-1]; !strings.HasPrefix(last, "/") {
				t.Errorf("%q does not split back into a path: %q", tc.want, words)
			}
		}
	}
}

// TestEditorWideAndNonASCII: a non-ASCII character is drawn as soon as it is
// typed, and the cursor is placed by display width (a CJK character takes
// two columns).
func TestEditorWideAndNonASCII(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	e := editorFor("é", &out, nil)
	defer e.keys.close()
	if _, err := e.readLine(context.Background()); err != io.EOF {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "> é\x1b[K\r\x1b[3C") {
		t.Fatalf("é was not echoed: %q", out.String())
	}
	out.Reset()
	e2 := editorFor("日本語", &out, nil)
	defer e2.keys.close()
	e2.readLine(context.Background())
	if !strings.HasSuffix(out.String(), "> 日本語\x1b[K\r\x1b[8C") {
		t.Fatalf("the cursor after three wide characters: %q", out.String())
	}
	for r, w := range map[rune]int{'a': 1, 'é': 1, '\u0301': 0, '日': 2, '한': 2, 'Ａ': 2, '😀': 2, '\u200b': 0} {
		if got := runeWidth(r); got != w {
			t.Errorf("runeWidth(%q) = %d, want %d", r, got, w)
		}
	}
}
