package discovery_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/discovery"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

// discDriverSource is a Java program that runs Curator's ServiceDiscovery
// on /services with a Details payload (JsonInstanceSerializer in its
// default compatible mode), driven by commands on stdin:
//
//	register NAME ID ADDRESS PORT SSLPORT REGION WEIGHT  "registered ID" (SSLPORT 0: none; uriSpec {scheme}://{address}:{port})
//	unregister ID                                        "unregistered ID"
//	query NAME                                           "instances JSON\tJSON..." re-serialized by Curator, sorted by id
//	cache NAME                                           start a ServiceCache; "cached NAME"; changes print "changed NAME"
//	cached NAME                                          "ids NAME id,id" from the cache (sorted)
const discDriverSource = `
import java.io.*;
import java.util.*;
import java.util.concurrent.*;
import org.apache.curator.framework.*;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.*;
import org.apache.curator.x.discovery.details.*;

public class DiscDriver {
    public static class Details {
        public String region;
        public int weight;
        public Details() {}
        public Details(String r, int w) { region = r; weight = w; }
    }

    static synchronized void out(String s) { System.out.println(s); System.out.flush(); }

    public static void main(String[] args) throws Exception {
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder().connectString(args[0])
            .sessionTimeoutMs(10000).connectionTimeoutMs(15000).retryPolicy(new ExponentialBackoffRetry(100, 10));
        if (args.length > 1 && !args[1].isEmpty()) b = b.namespace(args[1]);
        CuratorFramework c = b.build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) { out("error connect"); return; }
        JsonInstanceSerializer<Details> ser = new JsonInstanceSerializer<>(Details.class);
        ServiceDiscovery<Details> d = ServiceDiscoveryBuilder.builder(Details.class).client(c)
            .basePath("/services").serializer(ser).build();
        d.start();
        Map<String, ServiceInstance<Details>> mine = new HashMap<>();
        Map<String, ServiceCache<Details>> caches = new HashMap<>();
        out("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                case "quit":
                    for (ServiceCache<Details> sc : caches.values()) sc.close();
                    d.close();
                    c.close();
                    System.exit(0);
                case "register": {
                    ServiceInstanceBuilder<Details> ib = ServiceInstance.<Details>builder().name(f[1]).id(f[2])
                        .address(f[3]).port(Integer.parseInt(f[4])).payload(new Details(f[6], Integer.parseInt(f[7])))
                        .uriSpec(new UriSpec("{scheme}://{address}:{port}"));
                    if (!f[5].equals("0")) ib = ib.sslPort(Integer.parseInt(f[5]));
                    ServiceInstance<Details> si = ib.build();
                    d.registerService(si);
                    mine.put(f[2], si);
                    out("registered " + f[2]);
                    break;
                }
                case "unregister":
                    d.unregisterService(mine.remove(f[1]));
                    out("unregistered " + f[1]);
                    break;
                case "query": {
                    List<ServiceInstance<Details>> l = new ArrayList<>(d.queryForInstances(f[1]));
                    l.sort(Comparator.comparing(ServiceInstance::getId));
                    List<String> js = new ArrayList<>();
                    for (ServiceInstance<Details> si : l) js.add(new String(ser.serialize(si), "UTF-8"));
                    out("instances " + String.join("\t", js));
                    break;
                }
                case "cache": {
                    String name = f[1];
                    ServiceCache<Details> sc = d.serviceCacheBuilder().name(name).build();
                    sc.addListener(new ServiceCacheListener() {
                        public void cacheChanged() { out("changed " + name); }
                        public void stateChanged(CuratorFramework cf, ConnectionState s) {}
                    });
                    sc.start();
                    caches.put(name, sc);
                    out("cached " + name);
                    break;
                }
                case "cached": {
                    List<String> ids = new ArrayList<>();
                    for (ServiceInstance<Details> si : caches.get(f[1]).getInstances()) ids.add(si.getId());
                    Collections.sort(ids);
                    out("ids " + f[1] + " " + String.join(",", ids));
                    break;
                }
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

// details is DiscDriver.Details.
type details struct {
	Region string `json:"region"`
	Weight int    `json:"weight"`
}

func startDiscDriver(t *testing.T, curator interop.Peer, c *keeper.Client) *interop.Proc {
	t.Helper()
	servers, ns := interop.SplitChroot(srv.Servers() + c.Chroot())
	return curator.Java(t, "DiscDriver", discDriverSource, servers, ns)
}

// javaQuery returns the instances Java's queryForInstances finds, as
// Curator serializes them again.
func javaQuery(t *testing.T, j *interop.Proc, name string) []string {
	t.Helper()
	j.Send(t, "query %s", name)
	l := strings.TrimPrefix(j.Await(t, "instances"), "instances")
	l = strings.TrimPrefix(l, " ")
	if l == "" {
		return nil
	}
	return strings.Split(l, "\t")
}

// TestCuratorSeesKeeper: Keeper registers; Java's queryForInstances reads
// every field, and Curator's own serializer writes the instance back
// byte for byte as Keeper wrote it. After an expiry of Keeper's session
// Java finds the instance again; after Unregister it does not.
func TestCuratorSeesKeeper(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testCuratorSeesKeeper)
}

func testCuratorSeesKeeper(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 2*time.Minute)
	c, p := testutil.Proxied(t, srv, keeper.WithSessionTimeout(4*time.Second))
	j := startDiscDriver(t, curator, c)
	d, _ := discovery.New[details](c, "/services", discovery.WithPayloadClass("DiscDriver$Details"))
	defer d.Close(ctx)
	spec, _ := discovery.ParseURISpec("{scheme}://{address}:{port}")
	in := discovery.Instance[details]{Name: "api", ID: "go-1", Address: "10.0.0.5", Port: 8080, SSLPort: 8443,
		Payload: details{"eu", 3}, URISpec: spec}
	if err := d.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	ours, _, err := c.Get(ctx, "/services/api/go-1")
	if err != nil {
		t.Fatal(err)
	}
	got := javaQuery(t, j, "api")
	if len(got) != 1 || got[0] != string(ours) {
		t.Fatalf("Curator re-serializes our instance as\n%q\nwe wrote\n%s", got, ours)
	}
	back, err := d.Unmarshal([]byte(got[0]))
	if err != nil || back.Payload != in.Payload || back.SSLPort != 8443 || back.BuildURI(nil) != "https://10.0.0.5:8080" {
		t.Fatalf("read back %+v, %v", back, err)
	}

	observer := testutil.Connect(t, srv, c)
	testutil.Expire(t, ctx, c, p)
	testutil.WaitFor(t, time.Minute, "Java finds the instance after the expiry", func() bool {
		st, err := observer.Exists(ctx, "/services/api/go-1")
		return err == nil && st != nil && st.EphemeralOwner == c.SessionID() && len(javaQuery(t, j, "api")) == 1
	})
	if err := d.Unregister(ctx, "go-1"); err != nil {
		t.Fatal(err)
	}
	if got := javaQuery(t, j, "api"); len(got) != 0 {
		t.Fatalf("Java still finds %q", got)
	}
}

// TestKeeperSeesCurator: Java registers; Keeper's cache sees the instance
// with its fields and Keeper writes the same bytes for it; Java's
// unregister removes it from the cache; Java's cache sees ours.
func TestKeeperSeesCurator(t *testing.T) {
	t.Parallel()
	interop.EachCurator(t, testKeeperSeesCurator)
}

func testKeeperSeesCurator(t *testing.T, curator interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 2*time.Minute)
	c := srv.Client(t)
	j := startDiscDriver(t, curator, c)
	d, _ := discovery.New[details](c, "/services", discovery.WithPayloadClass("DiscDriver$Details"))
	defer d.Close(ctx)
	sc, err := d.NewCache(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	<-sc.Ready()
	j.Send(t, "register api java-1 10.0.0.7 9090 0 us 5")
	j.Await(t, "registered java-1")
	var seen discovery.Instance[details]
	for ev := range sc.Events() {
		if ev.Type == discovery.InstanceAdded {
			seen = ev.Instance
			break
		}
	}
	if seen.ID != "java-1" || seen.Name != "api" || seen.Address != "10.0.0.7" || seen.Port != 9090 || seen.SSLPort != 0 ||
		seen.Payload != (details{"us", 5}) || seen.ServiceType != discovery.Dynamic || seen.RegistrationTimeUTC == 0 ||
		seen.BuildURI(nil) != "http://10.0.0.7:9090" {
		t.Fatalf("cache sees %+v", seen)
	}
	raw, _, err := c.Get(ctx, "/services/api/java-1")
	if err != nil {
		t.Fatal(err)
	}
	if mine, err := d.Marshal(seen); err != nil || string(mine) != string(raw) {
		t.Fatalf("Java wrote\n%s\nwe would write\n%s (%v)", raw, mine, err)
	}
	qd, _ := discovery.New[json.RawMessage](c, "/services")
	rawInst, ok, err := qd.QueryForInstance(ctx, "api", "java-1")
	if err != nil || !ok || discovery.PayloadClass(rawInst.Payload) != "DiscDriver$Details" {
		t.Fatalf("raw payload %s, %v %v", rawInst.Payload, ok, err)
	}

	// Java's cache sees ours, then Java unregisters its own. Curator's
	// ServiceCache is a CuratorCache, which needs persistent watches.
	if !c.ServerVersion().AtLeast(3, 6, 0) {
		t.Skipf("Curator's ServiceCache needs persistent watches (3.6); the server is %s", c.ServerVersion())
	}
	j.Send(t, "cache api")
	j.Await(t, "cached api")
	if err := d.Register(ctx, discovery.Instance[details]{Name: "api", ID: "go-2", Payload: details{"eu", 1}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "Java's cache sees both", func() bool {
		j.Send(t, "cached api")
		return j.Await(t, "ids api") == "ids api go-2,java-1"
	})
	j.Send(t, "unregister java-1")
	j.Await(t, "unregistered java-1")
	for ev := range sc.Events() {
		if ev.Type == discovery.InstanceRemoved && ev.ID == "java-1" {
			break
		}
	}
	if got := sc.Instances(); len(got) != 1 || got[0].ID != "go-2" {
		t.Fatalf("cache holds %+v", got)
	}
	if err := d.Unregister(ctx, "go-2"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "Java's cache sees ours go", func() bool {
		j.Send(t, "cached api")
		return j.Await(t, "ids api") == "ids api "
	})
}
