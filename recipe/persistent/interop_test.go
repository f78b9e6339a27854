package persistent_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/interop"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/recipe/persistent"
)

// nodesDriverSource is a Java program that runs Curator's PersistentNode,
// PersistentTtlNode and GroupMember, driven by commands on stdin:
//
//	node NAME MODE PROTECT PATH DATA   start a PersistentNode; "created NAME PATH" once created
//	ttl NAME PATH MS DATA              start a PersistentTtlNode; "created NAME"
//	member NAME PATH ID [PAYLOAD]      start a GroupMember; "member NAME"
//	members NAME                       "members NAME id=data,..." (sorted)
//	setdata NAME DATA                  PersistentNode or GroupMember data; "set NAME"
//	path NAME                          "path NAME ACTUALPATH"
//	close NAME                         "closed NAME"
//	get PATH                           "get DATA" or "get -" when missing
//	delete PATH                        "deleted PATH"
//	localaddr                          "localaddr ADDRESS" (Curator's default data)
//
// PersistentNode listeners print "nodecreated NAME PATH".
const nodesDriverSource = `
import java.io.*;
import java.util.*;
import java.util.concurrent.*;
import org.apache.curator.framework.*;
import org.apache.curator.framework.recipes.nodes.*;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;

public class NodesDriver {
    static synchronized void out(String s) { System.out.println(s); System.out.flush(); }

    public static void main(String[] args) throws Exception {
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder().connectString(args[0])
            .sessionTimeoutMs(10000).connectionTimeoutMs(15000).retryPolicy(new ExponentialBackoffRetry(100, 10));
        if (args.length > 1 && !args[1].isEmpty()) b = b.namespace(args[1]);
        CuratorFramework c = b.build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) { out("error connect"); return; }
        Map<String, Closeable> objs = new HashMap<>();
        out("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                case "quit":
                    for (Closeable o : objs.values()) o.close();
                    c.close();
                    System.exit(0);
                case "node": {
                    String name = f[1];
                    PersistentNode n = new PersistentNode(c, CreateMode.valueOf(f[2]), Boolean.parseBoolean(f[3]), f[4], f[5].getBytes());
                    n.getListenable().addListener(p -> out("nodecreated " + name + " " + p));
                    n.start();
                    objs.put(name, n);
                    if (!n.waitForInitialCreate(30, TimeUnit.SECONDS)) { out("error not created " + name); break; }
                    out("created " + name + " " + n.getActualPath());
                    break;
                }
                case "ttl": {
                    PersistentTtlNode n = new PersistentTtlNode(c, f[2], Long.parseLong(f[3]), f[4].getBytes());
                    n.start();
                    objs.put(f[1], n);
                    if (!n.waitForInitialCreate(30, TimeUnit.SECONDS)) { out("error not created " + f[1]); break; }
                    out("created " + f[1]);
                    break;
                }
                case "member": {
                    GroupMember m = f.length > 4 ? new GroupMember(c, f[2], f[3], f[4].getBytes()) : new GroupMember(c, f[2], f[3]);
                    m.start();
                    objs.put(f[1], m);
                    out("member " + f[1]);
                    break;
                }
                case "members": {
                    TreeMap<String, byte[]> ms = new TreeMap<>(((GroupMember) objs.get(f[1])).getCurrentMembers());
                    List<String> l = new ArrayList<>();
                    for (Map.Entry<String, byte[]> e : ms.entrySet()) l.add(e.getKey() + "=" + new String(e.getValue()));
                    out("members " + f[1] + " " + String.join(",", l));
                    break;
                }
                case "setdata": {
                    Object o = objs.get(f[1]);
                    if (o instanceof GroupMember) ((GroupMember) o).setThisData(f[2].getBytes());
                    else ((PersistentNode) o).setData(f[2].getBytes());
                    out("set " + f[1]);
                    break;
                }
                case "path":
                    out("path " + f[1] + " " + ((PersistentNode) objs.get(f[1])).getActualPath());
                    break;
                case "close":
                    objs.remove(f[1]).close();
                    out("closed " + f[1]);
                    break;
                case "get": {
                    byte[] d = null;
                    try { d = c.getData().forPath(f[1]); } catch (org.apache.zookeeper.KeeperException.NoNodeException e) { }
                    out("get " + (d == null ? "-" : new String(d)));
                    break;
                }
                case "delete":
                    c.delete().forPath(f[1]);
                    out("deleted " + f[1]);
                    break;
                case "localaddr":
                    out("localaddr " + new String(CuratorFrameworkFactory.getLocalAddress()));
                    break;
                default:
                    out("error unknown command " + f[0]);
                }
            } catch (Exception e) {
                out("error " + f[0] + " " + e.toString().replace('\n', ' '));
            }
        }
    }
}
`

func startNodesDriver(t *testing.T, curator interop.Peer, c *keeper.Client) *interop.Proc {
	t.Helper()
	servers, ns := interop.SplitChroot(srv.Servers() + c.Chroot())
	return curator.Java(t, "NodesDriver", nodesDriverSource, servers, ns)
}

// TestCuratorPersistentNode runs Curator's PersistentNode and ours side by
// side on one base path (ephemeral, sequential, protected): the same name
// format, and each re-creates its node under the same name when the other
// side deletes it.
func TestCuratorPersistentNode(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorPersistentNode)
}

func testCuratorPersistentNode(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 2*time.Minute)
	c := srv.Client(t)
	j := startNodesDriver(t, curator, c)
	j.Send(t, "node jn EPHEMERAL_SEQUENTIAL true /pn/member- java")
	jpath := strings.Fields(j.Await(t, "created jn "))[2]
	j.Await(t, "nodecreated jn ")
	n, err := persistent.NewNode(c, "/pn/member-", []byte("go"), persistent.Ephemeral(), persistent.Sequential(), persistent.Protected())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	if err := n.WaitForInitialCreate(ctx); err != nil {
		t.Fatal(err)
	}
	gpath := n.ActualPath()
	format := regexp.MustCompile(`^/pn/_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-member-\d{10}$`)
	for _, p := range []string{jpath, gpath} {
		if !format.MatchString(p) {
			t.Fatalf("%s does not have Curator's protected sequential name", p)
		}
	}
	nextEvent(t, n.Events())

	// We delete Java's node: Curator re-creates it with the same suffix.
	if err := c.Delete(ctx, jpath, keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	again := strings.Fields(j.Await(t, "nodecreated jn "))[2]
	if again[len(again)-10:] != jpath[len(jpath)-10:] {
		t.Fatalf("Curator re-created %s as %s", jpath, again)
	}
	// Java deletes ours: we re-create it under the same name.
	j.Send(t, "delete %s", gpath)
	j.Await(t, "deleted ")
	if ev := nextEvent(t, n.Events()); ev.Type != persistent.Created || ev.Path != gpath {
		t.Fatalf("event %+v, want Created %s", ev, gpath)
	}
	j.Send(t, "get %s", gpath)
	if l := j.Await(t, "get "); l != "get go" {
		t.Fatalf("Java reads our node as %q", l)
	}
	if kids, _ := c.Children(ctx, "/pn"); len(kids) != 2 {
		t.Fatalf("children %q, want Java's and ours", kids)
	}
	j.Send(t, "close jn")
	j.Await(t, "closed jn")
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "both nodes gone", func() bool {
		kids, err := c.Children(ctx, "/pn")
		return (err == nil && len(kids) == 0) || err != nil
	})
}

// TestCuratorPersistentNodeAdopt: a Java PersistentNode and ours on one
// persistent path both adopt the node (CURATOR-154): the last to start
// sets its data.
func TestCuratorPersistentNodeAdopt(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorPersistentNodeAdopt)
}

func testCuratorPersistentNodeAdopt(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 2*time.Minute)
	c := srv.Client(t)
	j := startNodesDriver(t, curator, c)
	j.Send(t, "node jn PERSISTENT false /shared java")
	j.Await(t, "created jn /shared")
	n, err := persistent.NewNode(c, "/shared", []byte("go"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, n.Events()); ev.Type != persistent.Adopted {
		t.Fatalf("event %+v, want Adopted", ev)
	}
	j.Send(t, "get /shared")
	if l := j.Await(t, "get "); l != "get go" {
		t.Fatalf("Java reads %q", l)
	}
	// Curator's setData reaches our view too.
	j.Send(t, "setdata jn java2")
	j.Await(t, "set jn")
	testutil.WaitFor(t, time.Minute, "java2 on the node", func() bool {
		data, _, err := c.Get(ctx, "/shared")
		return err == nil && string(data) == "java2"
	})
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Curator sees its node deleted and creates it again.
	j.Await(t, "nodecreated jn /shared")
	j.Send(t, "close jn")
	j.Await(t, "closed jn")
}

// TestCuratorGroupMember: Java's GroupMember and ours on one group see
// each other with their payloads; the default payload is the same local
// address on both sides.
func TestCuratorGroupMember(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorGroupMember)
}

func testCuratorGroupMember(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 2*time.Minute)
	c := srv.Client(t)
	j := startNodesDriver(t, curator, c)
	j.Send(t, "localaddr")
	if l := j.Await(t, "localaddr"); strings.TrimSpace(strings.TrimPrefix(l, "localaddr")) != node.LocalAddress() {
		t.Fatalf("Curator's default data %q, ours %q", l, node.LocalAddress())
	}
	j.Send(t, "member jm /grp java jp")
	j.Await(t, "member jm")
	g, err := persistent.NewGroupMember(ctx, c, "/grp", "go", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	testutil.WaitFor(t, time.Minute, "we see both", func() bool {
		m := g.CurrentMembers()
		return len(m) == 2 && string(m["java"]) == "jp" && string(m["go"]) == node.LocalAddress()
	})
	// Curator's GroupMember keeps its members with a CuratorCache, which
	// needs persistent watches.
	if !c.ServerVersion().AtLeast(3, 6, 0) {
		t.Skipf("Curator's GroupMember view needs persistent watches (3.6); the server is %s", c.ServerVersion())
	}
	want := "members jm go=" + node.LocalAddress() + ",java=jp"
	testutil.WaitFor(t, time.Minute, "Java sees both", func() bool {
		j.Send(t, "members jm")
		return j.Await(t, "members jm") == want
	})
	if err := g.SetData(ctx, []byte("gp")); err != nil {
		t.Fatal(err)
	}
	j.Send(t, "setdata jm jp2")
	j.Await(t, "set jm")
	testutil.WaitFor(t, time.Minute, "Java sees our new payload", func() bool {
		j.Send(t, "members jm")
		return j.Await(t, "members jm") == "members jm go=gp,java=jp2"
	})
	testutil.WaitFor(t, time.Minute, "we see Java's new payload", func() bool {
		return string(g.CurrentMembers()["java"]) == "jp2"
	})
	j.Send(t, "close jm")
	j.Await(t, "closed jm")
	testutil.WaitFor(t, time.Minute, "Java's member gone", func() bool {
		_, ok := g.CurrentMembers()["java"]
		return !ok
	})
}

// TestCuratorTTLNode: Java's PersistentTtlNode and ours on one path keep
// one node with one touch child, and the node goes once both stop.
func TestCuratorTTLNode(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorTTLNode)
}

func testCuratorTTLNode(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 2*time.Minute)
	c := srv.Client(t)
	j := startNodesDriver(t, curator, c)
	j.Send(t, "ttl jt /ttl 1000 java")
	j.Await(t, "created jt")
	n, err := persistent.NewTTLNode(c, "/ttl", time.Second, []byte("go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitForInitialCreate(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "touch child", func() bool {
		kids, err := c.Children(ctx, "/ttl")
		return err == nil && len(kids) == 1 && kids[0] == persistent.TouchName
	})
	j.Send(t, "get /ttl")
	if l := j.Await(t, "get "); l != "get go" {
		t.Fatalf("Java reads %q", l)
	}
	j.Send(t, "close jt")
	j.Await(t, "closed jt")
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "node reaped", func() bool { return stat(t, c, "/ttl") == nil })
}
