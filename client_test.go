package keeper_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCreateGetSetDelete(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	var st keeper.Stat
	p, err := c.Create(ctx, "/a", []byte("one"), keeper.StoreStat(&st))
	if err != nil || p != "/a" {
		t.Fatalf("Create = %q, %v", p, err)
	}
	if st.Czxid == 0 || st.DataLength != 3 || st.Version != 0 {
		t.Fatalf("create stat = %+v", st)
	}
	data, stat, err := c.Get(ctx, "/a")
	if err != nil || string(data) != "one" || stat.Czxid != st.Czxid {
		t.Fatalf("Get = %q, %+v, %v", data, stat, err)
	}
	if _, err := c.Create(ctx, "/a", nil); !errors.Is(err, keeper.ErrNodeExists) {
		t.Fatalf("second Create: %v, want ErrNodeExists", err)
	}
	var ke *keeper.Error
	if _, err := c.Create(ctx, "/a", nil); !errors.As(err, &ke) || ke.Op != "create" || ke.Path != "/a" || ke.Code != keeper.CodeNodeExists {
		t.Fatalf("error detail: %#v", err)
	}
	st2, err := c.Set(ctx, "/a", []byte("two"), 0)
	if err != nil || st2.Version != 1 {
		t.Fatalf("Set = %+v, %v", st2, err)
	}
	if _, err := c.Set(ctx, "/a", []byte("x"), 0); !errors.Is(err, keeper.ErrBadVersion) {
		t.Fatalf("Set with stale version: %v", err)
	}
	if _, err := c.Set(ctx, "/a", []byte("three"), keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/missing", nil, keeper.AnyVersion); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("Set missing: %v", err)
	}
	if _, _, err := c.Get(ctx, "/missing"); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("Get missing: %v", err)
	}
	if err := c.Delete(ctx, "/a", 0); !errors.Is(err, keeper.ErrBadVersion) {
		t.Fatalf("Delete stale version: %v", err)
	}
	if _, err := c.Create(ctx, "/a/child", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "/a", keeper.AnyVersion); !errors.Is(err, keeper.ErrNotEmpty) {
		t.Fatalf("Delete with children: %v", err)
	}
	if err := c.Delete(ctx, "/a/child", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "/a", 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "/a", keeper.AnyVersion); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("Delete missing: %v", err)
	}
	if st, err := c.Exists(ctx, "/a"); st != nil || err != nil {
		t.Fatalf("Exists after delete = %v, %v", st, err)
	}
}

func TestNilAndEmptyData(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	if _, err := c.Create(ctx, "/nil", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "/empty", []byte{}); err != nil {
		t.Fatal(err)
	}
	d, _, err := c.Get(ctx, "/nil")
	if err != nil || d != nil {
		t.Fatalf("nil data = %v, %v", d, err)
	}
	d, _, err = c.Get(ctx, "/empty")
	if err != nil || d == nil || len(d) != 0 {
		t.Fatalf("empty data = %v (nil %v), %v", d, d == nil, err)
	}
	big := bytes.Repeat([]byte("x"), 1<<19)
	if _, err := c.Create(ctx, "/big", big); err != nil {
		t.Fatal(err)
	}
	d, _, err = c.Get(ctx, "/big")
	if err != nil || !bytes.Equal(d, big) {
		t.Fatalf("big data: %d bytes, %v", len(d), err)
	}
}

// TestNilCreateOption: a nil option among Create's is skipped, as the
// client's own options are, rather than called.
func TestNilCreateOption(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	p, err := c.Create(ctx, "/sync-", nil, nil, keeper.Sequential(), nil)
	if err != nil || !strings.HasPrefix(p, "/sync-") || len(p) != len("/sync-")+10 {
		t.Fatalf("Create with nil options = %q, %v", p, err)
	}
	var got string
	var gotErr error
	c.CreateAsync(ctx, "/async-", nil, func(p string, err error) { got, gotErr = p, err }, nil, keeper.Sequential())
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if gotErr != nil || !strings.HasPrefix(got, "/async-") || len(got) != len("/async-")+10 {
		t.Fatalf("CreateAsync with nil options = %q, %v", got, gotErr)
	}
}

func TestCreateModes(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	if _, err := c.Create(ctx, "/p", nil); err != nil {
		t.Fatal(err)
	}
	p1, err := c.Create(ctx, "/p/seq-", nil, keeper.Sequential())
	if err != nil || p1 != "/p/seq-0000000000" {
		t.Fatalf("sequential = %q, %v", p1, err)
	}
	p2, err := c.Create(ctx, "/p/", nil, keeper.Sequential())
	if err != nil || p2 != "/p/0000000001" {
		t.Fatalf("sequential with trailing slash = %q, %v", p2, err)
	}
	var st keeper.Stat
	e, err := c.Create(ctx, "/p/eph", nil, keeper.Ephemeral(), keeper.StoreStat(&st))
	if err != nil || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("ephemeral %q owner %x session %x: %v", e, st.EphemeralOwner, c.SessionID(), err)
	}
	if _, err := c.Create(ctx, "/p/eph/child", nil); !errors.Is(err, keeper.ErrNoChildrenForEphemerals) {
		t.Fatalf("child of ephemeral: %v", err)
	}
	es, err := c.Create(ctx, "/p/es-", nil, keeper.Ephemeral(), keeper.Sequential())
	if err != nil || !strings.HasPrefix(es, "/p/es-") || len(es) != len("/p/es-")+10 {
		t.Fatalf("ephemeral sequential = %q, %v", es, err)
	}
	if _, err := c.Create(ctx, "/cont", nil, keeper.Container()); err != nil {
		t.Fatalf("container: %v", err)
	}
	if _, err := c.Create(ctx, "/ttl", nil, keeper.TTL(time.Minute), keeper.StoreStat(&st)); err != nil {
		t.Fatalf("ttl: %v", err)
	}
	if _, err := c.Create(ctx, "/ttlseq-", nil, keeper.TTL(time.Minute), keeper.Sequential()); err != nil {
		t.Fatalf("ttl sequential: %v", err)
	}
	if _, err := c.Create(ctx, "/bad", nil, keeper.Container(), keeper.Ephemeral()); !errors.Is(err, keeper.ErrBadArguments) {
		t.Fatalf("container+ephemeral: %v", err)
	}
	if _, err := c.Create(ctx, "/bad", nil, keeper.TTL(time.Minute), keeper.Ephemeral()); !errors.Is(err, keeper.ErrBadArguments) {
		t.Fatalf("ttl+ephemeral: %v", err)
	}
	if _, err := c.Create(ctx, "/bad", nil, keeper.TTL(0)); !errors.Is(err, keeper.ErrBadArguments) {
		t.Fatalf("ttl 0: %v", err)
	}
	if _, err := c.Create(ctx, "/x/y/z", []byte("deep"), keeper.MakeParents()); err != nil {
		t.Fatalf("MakeParents: %v", err)
	}
	if d, _, err := c.Get(ctx, "/x/y/z"); err != nil || string(d) != "deep" {
		t.Fatalf("deep get %q %v", d, err)
	}
	if _, err := c.Create(ctx, "/q/r", nil); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("missing parent: %v", err)
	}
	if _, err := c.Create(ctx, "/acl", nil, keeper.WithACL()); !errors.Is(err, keeper.ErrBadArguments) {
		t.Fatalf("empty ACL: %v", err)
	}
}

func TestChildrenAndStat(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	for _, p := range []string{"/d", "/d/a", "/d/b", "/d/c"} {
		if _, err := c.Create(ctx, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	kids, err := c.Children(ctx, "/d")
	slices.Sort(kids)
	if err != nil || !slices.Equal(kids, []string{"a", "b", "c"}) {
		t.Fatalf("Children = %v, %v", kids, err)
	}
	kids, st, err := c.ChildrenStat(ctx, "/d")
	if err != nil || len(kids) != 3 || st.NumChildren != 3 {
		t.Fatalf("ChildrenStat = %v %+v %v", kids, st, err)
	}
	empty, err := c.Children(ctx, "/d/a")
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("no children = %#v, %v", empty, err)
	}
	if _, err := c.Children(ctx, "/nope"); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("Children missing: %v", err)
	}
	root, err := c.Children(ctx, "/")
	slices.Sort(root)
	if err != nil || !slices.Equal(root, []string{"d"}) {
		t.Fatalf("chroot root children = %v, %v", root, err)
	}
	if err := c.Sync(ctx, "/d"); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := c.DeleteAll(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Exists(ctx, "/d"); st != nil {
		t.Fatal("DeleteAll left the node")
	}
	if err := c.DeleteAll(ctx, "/d"); err != nil {
		t.Fatalf("DeleteAll of a missing node: %v", err)
	}
}

func TestBadPaths(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	for _, p := range []string{"", "a", "/a/", "//a", "/a/../b", "/a\x00"} {
		if _, err := c.Create(ctx, p, nil); !errors.Is(err, keeper.ErrInvalidPath) || !keeper.SafeToRetry(err) {
			t.Errorf("Create(%q) = %v", p, err)
		}
		if _, _, err := c.Get(ctx, p); !errors.Is(err, keeper.ErrInvalidPath) {
			t.Errorf("Get(%q) = %v", p, err)
		}
		if _, err := c.Exists(ctx, p); !errors.Is(err, keeper.ErrInvalidPath) {
			t.Errorf("Exists(%q) = %v", p, err)
		}
		if err := c.Delete(ctx, p, -1); !errors.Is(err, keeper.ErrInvalidPath) {
			t.Errorf("Delete(%q) = %v", p, err)
		}
		if _, err := c.Set(ctx, p, nil, -1); !errors.Is(err, keeper.ErrInvalidPath) {
			t.Errorf("Set(%q) = %v", p, err)
		}
		if _, err := c.Children(ctx, p); !errors.Is(err, keeper.ErrInvalidPath) {
			t.Errorf("Children(%q) = %v", p, err)
		}
	}
	if err := c.Delete(ctx, "/", -1); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Errorf("Delete(/) = %v", err)
	}
}

func TestBadConnectString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "h:0", "h/app/", "h1,,h2", "[::1", "h:99999"} {
		if _, err := keeper.New(s); !errors.Is(err, keeper.ErrBadConnectString) {
			t.Errorf("New(%q) = %v", s, err)
		}
	}
	if _, err := keeper.New("127.0.0.1:1", keeper.WithSessionTimeout(time.Millisecond)); err == nil {
		t.Error("a 1ms session timeout was accepted")
	}
	if _, err := keeper.New("127.0.0.1:1", keeper.WithSession(1, []byte("short"))); err == nil {
		t.Error("a short session password was accepted")
	}
}

func TestChroot(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	root := "/" + zktest.ChrootName(t.Name())
	admin, err := keeper.Connect(ctx, srv.Servers())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	defer admin.DeleteAll(context.Background(), root)
	// A chroot whose node is missing is not an error at connect.
	c, err := keeper.Connect(ctx, srv.Servers()+root+"/app")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Chroot() != root+"/app" {
		t.Fatalf("Chroot() = %q", c.Chroot())
	}
	if _, err := c.Create(ctx, "/x", nil); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatalf("create under missing chroot: %v", err)
	}
	if err := c.EnsurePath(ctx, "/"); err != nil {
		t.Fatalf("EnsurePath(/): %v", err)
	}
	if _, err := admin.Exists(ctx, root+"/app"); err != nil {
		t.Fatal(err)
	}
	// A sibling whose name extends the chroot's must not be confused with it.
	if _, err := admin.Create(ctx, root+"/apple", nil); err != nil {
		t.Fatal(err)
	}
	p, err := c.Create(ctx, "/s-", []byte("v"), keeper.Sequential())
	if err != nil || p != "/s-0000000000" {
		t.Fatalf("sequential under chroot = %q, %v", p, err)
	}
	if d, _, err := admin.Get(ctx, root+"/app/s-0000000000"); err != nil || string(d) != "v" {
		t.Fatalf("admin sees %q %v", d, err)
	}
	if err := c.EnsurePath(ctx, "/e/f/g"); err != nil {
		t.Fatal(err)
	}
	if st, _ := admin.Exists(ctx, root+"/app/e/f/g"); st == nil {
		t.Fatal("EnsurePath did not create under the chroot")
	}
	kids, err := c.Children(ctx, "/")
	slices.Sort(kids)
	if err != nil || !slices.Equal(kids, []string{"e", "s-0000000000"}) {
		t.Fatalf("children of chroot root = %v, %v", kids, err)
	}
	if _, err := c.Set(ctx, "/e", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := c.GetW(ctx, "/e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Set(ctx, root+"/app/e", []byte("y"), -1); err != nil {
		t.Fatal(err)
	}
	ev := <-ch
	if ev.Type != keeper.EventNodeDataChanged || ev.Path != "/e" {
		t.Fatalf("event under chroot = %+v", ev)
	}
	if err := c.DeleteAll(ctx, "/e"); err != nil {
		t.Fatal(err)
	}
	if st, _ := admin.Exists(ctx, root+"/apple"); st == nil {
		t.Fatal("sibling of the chroot was touched")
	}
}

func TestEphemeralGoneAfterClose(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	c2, err := keeper.Connect(ctx, srv.Servers()+c.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Create(ctx, "/eph", nil, keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	// Close removes the session at once: the node is gone now, not after
	// a session timeout.
	if st, err := c.Exists(ctx, "/eph"); st != nil || err != nil {
		t.Fatalf("ephemeral after Close: %v %v", st, err)
	}
	if _, _, err := c2.Get(ctx, "/"); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("call after Close = %v", err)
	}
	if c2.State() != keeper.Closed {
		t.Fatalf("state after Close = %v", c2.State())
	}
	if err := c2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseWithNoServer(t *testing.T) {
	t.Parallel()
	port, err := zktest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := keeper.New(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err = c.Get(ctx, "/")
	if !errors.Is(err, context.DeadlineExceeded) || !keeper.SafeToRetry(err) {
		t.Fatalf("Get with no server = %v (safe %v)", err, keeper.SafeToRetry(err))
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close with no reachable server did not return")
	}
	if _, _, err := c.Get(context.Background(), "/"); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := c.WaitConnected(context.Background()); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("WaitConnected after Close: %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	port, _ := zktest.FreePort()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := keeper.Connect(ctx, fmt.Sprintf("127.0.0.1:%d", port)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect to nothing = %v", err)
	}
}

func TestCancelledCall(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.Get(ctx, "/")
	if !errors.Is(err, context.Canceled) || !keeper.SafeToRetry(err) {
		t.Fatalf("cancelled Get = %v", err)
	}
	// The client still works, and late replies of given-up calls are
	// discarded without confusing later ones.
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*20*time.Microsecond)
		_, _ = c.Create(ctx, fmt.Sprintf("/n%d", i), []byte{byte(i)})
		cancel()
	}
	ctx2 := ctxT(t)
	for i := 0; i < 50; i++ {
		d, _, err := c.Get(ctx2, fmt.Sprintf("/n%d", i))
		if err != nil && !errors.Is(err, keeper.ErrNoNode) {
			t.Fatal(err)
		}
		if err == nil && (len(d) != 1 || d[0] != byte(i)) {
			t.Fatalf("node %d holds %v", i, d)
		}
	}
}

func TestSessionAccessors(t *testing.T) {
	t.Parallel()
	c := srv.Client(t, keeper.WithSessionTimeout(4*time.Second))
	id, pw := c.Session()
	if id == 0 || len(pw) != 16 || c.SessionID() != id {
		t.Fatalf("session %x %x", id, pw)
	}
	if c.SessionTimeout() != 4*time.Second {
		t.Fatalf("negotiated %v", c.SessionTimeout())
	}
	if c.Server() != srv.Addr(0) {
		t.Fatalf("Server() = %q, want %q", c.Server(), srv.Addr(0))
	}
	if c.State() != keeper.Connected {
		t.Fatalf("state %v", c.State())
	}
	if !c.ServerVersion().AtLeast(3, 5, 0) {
		t.Fatalf("server version %v", c.ServerVersion())
	}
	ctx := ctxT(t)
	before := c.LastZxid()
	if _, err := c.Create(ctx, "/z", nil); err != nil {
		t.Fatal(err)
	}
	if c.LastZxid() <= before {
		t.Fatalf("LastZxid did not advance: %d -> %d", before, c.LastZxid())
	}
	// Resuming the session from a second client (Kazoo's client_id).
	c2, err := keeper.Connect(ctx, srv.Servers()+c.Chroot(), keeper.WithSession(id, pw))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.SessionID() != id {
		t.Fatalf("resumed session %x, want %x", c2.SessionID(), id)
	}
}

func TestManyGoroutines(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	const workers, total = 256, 100_000
	for i := 0; i < workers; i++ {
		if _, err := c.Create(ctx, fmt.Sprintf("/w%d", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				i := int(next.Load()) % workers
				d, _, err := c.Get(ctx, fmt.Sprintf("/w%d", i))
				if err != nil {
					errs <- err
					return
				}
				if string(d) != fmt.Sprint(i) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if bad.Load() != 0 {
		t.Fatalf("%d replies carried another node's data", bad.Load())
	}
}

func TestMaxInflight(t *testing.T) {
	t.Parallel()
	c := srv.Client(t, keeper.WithMaxInflight(2))
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Exists(ctx, "/"); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
}

func TestListenerOrderAndClose(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	ready := make(chan struct{})
	gate := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ready // connect only once the listeners are in place
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	c, err := keeper.New(srv.Servers(), keeper.WithDialer(gate))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []keeper.State
	c.Listen(func(ev keeper.StateEvent) {
		mu.Lock()
		got = append(got, ev.State)
		mu.Unlock()
	})
	// A slow listener must not hold the client up.
	slowDone := make(chan struct{})
	c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Closed {
			close(slowDone)
		}
		time.Sleep(50 * time.Millisecond)
	})
	close(ready)
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := c.Exists(ctx, "/"); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	<-slowDone
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []keeper.State{keeper.Connected, keeper.Closed}) {
		t.Fatalf("events %v", got)
	}
}

func TestConnectSaysWhyItFailed(t *testing.T) {
	t.Parallel()
	port, _ := zktest.FreePort()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := keeper.Connect(ctx, fmt.Sprintf("127.0.0.1:%d", port))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v", err)
	}
	if !strings.Contains(err.Error(), "last attempt") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Connect error does not say why: %v", err)
	}
}

// TestRequestTooLarge: a request over the servers' jute.maxbuffer fails at
// once with ErrRequestTooLarge naming the limit, never sent; one at the
// limit is taken by the server.
func TestRequestTooLarge(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/big", nil); err != nil {
		t.Fatal(err)
	}
	// setData: header 8, path 4+len, data 4+len, version 4.
	full := c.Chroot() + "/big"
	atLimit := keeper.DefaultMaxRequestSize - 8 - (4 + len(full)) - 4 - 4
	if _, err := c.Set(ctx, "/big", make([]byte, atLimit), -1); err != nil {
		t.Fatalf("Set of a request exactly at the limit: %v", err)
	}
	_, err := c.Set(ctx, "/big", make([]byte, atLimit+1), -1)
	if !errors.Is(err, keeper.ErrRequestTooLarge) || !keeper.SafeToRetry(err) || !strings.Contains(err.Error(), "1048575") {
		t.Fatalf("Set one byte over the limit = %v (safe %v); want ErrRequestTooLarge naming 1048575", err, keeper.SafeToRetry(err))
	}
	if c.State() != keeper.Connected {
		t.Fatalf("state %v after a refused request", c.State())
	}
	big, err := keeper.New(srv.Servers(), keeper.WithMaxRequestSize(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	// The server's own limit then applies: it drops the connection.
	if _, err := big.Set(ctx, full, make([]byte, 2<<20), -1); errors.Is(err, keeper.ErrRequestTooLarge) || err == nil {
		t.Fatalf("Set of 2 MiB with WithMaxRequestSize(4 MiB) = %v; want the server's refusal", err)
	}
}

// TestDone: Done is open while the client runs and closed once Close
// starts, and calls made after it fail with ErrClosed.
func TestDone(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	select {
	case <-c.Done():
		t.Fatal("Done closed before Close")
	default:
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open after Close")
	}
	if _, err := c.Exists(context.Background(), "/"); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("Exists after Close = %v", err)
	}
}

// TestOwnReadCancelled: a call made on an idle connection reads its own
// reply; when the server goes silent its context still ends it at once,
// and the connection goes on working (the late reply is discarded, the
// next calls get their own replies, events are delivered).
func TestOwnReadCancelled(t *testing.T) {
	t.Parallel()
	c, p := testutil.Proxied(t, srv)
	ctx := ctxT(t)
	if _, err := c.Create(ctx, "/x", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, _, err := c.Get(ctx, "/x"); err != nil {
			t.Fatal(err)
		}
		p.Pause()
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, _, err := c.Get(short, "/x")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: Get on a silent server = %v", i, err)
		}
		gone, cancel2 := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := c.Exists(gone, "/x"); done <- err }()
		cancel2()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: cancelled Exists on a silent server = %v", i, err)
		}
		p.Resume()
		d, _, err := c.Get(ctx, "/x")
		if err != nil || string(d) != "v" {
			t.Fatalf("round %d: Get after the stall = %q, %v", i, d, err)
		}
	}
	_, ch, err := c.ExistsW(ctx, "/x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testutil.Connect(t, srv, c).Set(ctx, "/x", []byte("w"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != keeper.EventNodeDataChanged {
			t.Fatalf("event %v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event on the idle connection")
	}
}

// TestSilenceWhileReadingOwnReply: a server that goes silent while a call
// reads its own reply is noticed within the read timeout, as when the
// reader goroutine waits: the client is Suspended before the session can
// be presumed lost.
func TestSilenceWhileReadingOwnReply(t *testing.T) {
	t.Parallel()
	c, p := testutil.Proxied(t, srv, keeper.WithSessionTimeout(4*time.Second))
	ctx := ctxT(t)
	states := make(chan keeper.State, 16)
	stop := c.Listen(func(ev keeper.StateEvent) {
		if ev.State == keeper.Suspended || ev.State == keeper.Lost {
			select {
			case states <- ev.State:
			default:
			}
		}
	})
	defer stop()
	if _, _, err := c.Get(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	defer p.Resume()
	done := make(chan error, 1)
	go func() { _, _, err := c.Get(context.Background(), "/"); done <- err }()
	select {
	case st := <-states:
		if st != keeper.Suspended {
			t.Fatalf("first state after the server went silent: %v, want Suspended", st)
		}
	case <-ctx.Done():
		t.Fatal("the silence was never noticed")
	}
	// Reads are retried on a new connection: the session is presumed lost
	// meanwhile.
	select {
	case err := <-done:
		if !errors.Is(err, keeper.ErrConnectionLoss) && !errors.Is(err, keeper.ErrSessionExpired) {
			t.Fatalf("Get on the silent server = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Get on the silent server never returned")
	}
}
