package party_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/interop"
	"github.com/keeper-go/keeper/recipe/party"
)

// kazooDriver is a Python program that drives Kazoo's Party and
// ShallowParty: it reads one JSON command per line on stdin and answers
// each with one JSON line on stdout.
const kazooDriver = `
import json, sys
from kazoo.client import KazooClient

zk = KazooClient(hosts=sys.argv[1], timeout=10.0)
zk.start(timeout=30)
parties = {}

def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()

for line in sys.stdin:
    cmd = json.loads(line)
    op = cmd["op"]
    try:
        if op == "join":
            cls = zk.Party if cmd["kind"] == "party" else zk.ShallowParty
            p = cls(cmd["path"], cmd["id"])
            parties[cmd["name"]] = p
            p.join()
            reply(ok=True, node=p.create_path)
        elif op == "members":
            p = parties[cmd["name"]]
            reply(ok=True, members=sorted(list(p)), len=len(p))
        elif op == "leave":
            reply(ok=True, left=parties[cmd["name"]].leave())
        elif op == "quit":
            break
        else:
            reply(ok=False, error="unknown op " + op)
    except Exception as e:
        reply(ok=False, error=repr(e))
zk.stop()
zk.close()
`

// kazoo is a running kazooDriver.
type kazoo struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     *json.Encoder
	out    *bufio.Scanner
	stderr *bytes.Buffer
	mu     sync.Mutex
}

// kazooReply is the driver's answer to one command.
type kazooReply struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error"`
	Node    string   `json:"node"`
	Members []string `json:"members"`
	Len     int      `json:"len"`
	Left    bool     `json:"left"`
}

// startKazoo runs the driver against hosts (a connect string with chroot)
// with the peer's Python, for which its Kazoo is installed.
func startKazoo(t *testing.T, peer interop.Peer, hosts string) *kazoo {
	t.Helper()
	python := peer.Python
	script := filepath.Join(t.TempDir(), "kazoo_party.py")
	if err := os.WriteFile(script, []byte(kazooDriver), 0o600); err != nil {
		t.Fatal(err)
	}
	k := &kazoo{t: t, stderr: &bytes.Buffer{}}
	k.cmd = exec.Command(python, script, hosts)
	k.cmd.Stderr = k.stderr
	stdin, err := k.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := k.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", python, err)
	}
	k.in = json.NewEncoder(stdin)
	k.out = bufio.NewScanner(stdout)
	t.Cleanup(func() {
		_ = k.in.Encode(map[string]string{"op": "quit"})
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- k.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = k.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("kazoo driver stderr:\n%s", k.stderr.String())
		}
	})
	return k
}

// do sends one command and returns the reply; a failed command fails the
// test.
func (k *kazoo) do(cmd map[string]string) kazooReply {
	k.t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.in.Encode(cmd); err != nil {
		k.t.Fatalf("kazoo driver: send %v: %v\n%s", cmd, err, k.stderr.String())
	}
	if !k.out.Scan() {
		k.t.Fatalf("kazoo driver: no reply to %v: %v\n%s", cmd, k.out.Err(), k.stderr.String())
	}
	var r kazooReply
	if err := json.Unmarshal(k.out.Bytes(), &r); err != nil {
		k.t.Fatalf("kazoo driver: reply %q: %v", k.out.Text(), err)
	}
	if !r.OK {
		k.t.Fatalf("kazoo driver: %v failed: %s", cmd, r.Error)
	}
	return r
}

func TestKazooParty(t *testing.T) {
	t.Parallel()
	interop.EachKazoo(t, testKazooParty)
}

func testKazooParty(t *testing.T, kazoo interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := startKazoo(t, kazoo, srv.Servers()+c.Chroot())

	p := party.New(c, "/kz/party", "go-member")
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	r := k.do(map[string]string{"op": "join", "kind": "party", "name": "p", "path": "/kz/party", "id": "py-member"})
	if !strings.HasSuffix(r.Node, "__party__") {
		t.Fatalf("Kazoo's node %q", r.Node)
	}
	waitMembers(t, "Go side", p.Members, p.Len, "go-member", "py-member")
	r = k.do(map[string]string{"op": "members", "name": "p"})
	if strings.Join(r.Members, ",") != "go-member,py-member" || r.Len != 2 {
		t.Fatalf("Kazoo sees %q (len %d)", r.Members, r.Len)
	}

	if err := p.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	r = k.do(map[string]string{"op": "members", "name": "p"})
	if strings.Join(r.Members, ",") != "py-member" || r.Len != 1 {
		t.Fatalf("Kazoo sees %q (len %d) after the Go member left", r.Members, r.Len)
	}
	if r := k.do(map[string]string{"op": "leave", "name": "p"}); !r.Left {
		t.Fatal("Kazoo's leave found no node")
	}
	waitMembers(t, "after both left", p.Members, p.Len)
	testutil.AssertClean(t, srv, "/kz/party", c)
}

func TestKazooShallowParty(t *testing.T) {
	t.Parallel()
	interop.EachKazoo(t, testKazooShallowParty)
}

func testKazooShallowParty(t *testing.T, kazoo interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := startKazoo(t, kazoo, srv.Servers()+c.Chroot())

	p := party.NewShallow(c, "/kz/shallow", "go-1")
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	k.do(map[string]string{"op": "join", "kind": "shallow", "name": "s", "path": "/kz/shallow", "id": "py-1"})
	waitMembers(t, "Go side", p.Members, p.Len, "go-1", "py-1")
	r := k.do(map[string]string{"op": "members", "name": "s"})
	if strings.Join(r.Members, ",") != "go-1,py-1" || r.Len != 2 {
		t.Fatalf("Kazoo sees %q (len %d)", r.Members, r.Len)
	}
	k.do(map[string]string{"op": "leave", "name": "s"})
	waitMembers(t, "after Kazoo left", p.Members, p.Len, "go-1")
	if err := p.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/kz/shallow", c)
}
