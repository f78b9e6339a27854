package cache_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/cache"
	"github.com/keeper-go/keeper/zktest"
)

// modes runs a test with a persistent recursive watch and with one-shot
// watches.
var modes = []struct {
	name string
	opts []cache.Option
}{
	{"persistent", nil},
	{"oneshot", []cache.Option{cache.OneShotWatches()}},
}

// recorder collects a cache's events.
type recorder struct {
	mu   sync.Mutex
	evs  []cache.Event
	done chan struct{}
}

func record(tc *cache.TreeCache) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range tc.Events() {
			r.mu.Lock()
			r.evs = append(r.evs, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) events() []cache.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cache.Event(nil), r.evs...)
}

// since returns the events after the first n.
func (r *recorder) since(n int) []cache.Event { return r.events()[n:] }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evs)
}

// waitFor waits until an event of type typ (on path, unless "") comes
// after the first n events, and returns its index.
func (r *recorder) waitFor(t *testing.T, n int, typ cache.EventType, path string) int {
	t.Helper()
	idx := -1
	testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("%v %s (have %v)", typ, path, r.tail()), func() bool {
		for i, ev := range r.since(n) {
			if ev.Type == typ && (path == "" || ev.Path == path) {
				idx = n + i
				return true
			}
		}
		return false
	})
	return idx
}

func (r *recorder) tail() string {
	evs := r.events()
	if len(evs) > 20 {
		evs = evs[len(evs)-20:]
	}
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%v %s; ", ev.Type, ev.Path)
	}
	return b.String()
}

func start(t *testing.T, c *keeper.Client, root string, opts ...cache.Option) (*cache.TreeCache, *recorder) {
	t.Helper()
	tc, err := cache.NewTreeCache(c, root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Start(testutil.Ctx(t, 0)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	return tc, record(tc)
}

func TestTreeCacheEvents(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c := srv.Client(t)
			other := testutil.Connect(t, srv, c)
			tc, rec := start(t, c, "/r", mode.opts...)
			n := rec.waitFor(t, 0, cache.Initialized, "") + 1
			if _, _, ok := tc.Get("/r"); ok {
				t.Fatal("missing root cached")
			}
			for _, p := range []string{"/r", "/r/a", "/r/a/b", "/r/c"} {
				if _, err := other.Create(ctx, p, []byte("d"+p)); err != nil {
					t.Fatal(err)
				}
			}
			rec.waitFor(t, n, cache.NodeAdded, "/r/c")
			rec.waitFor(t, n, cache.NodeAdded, "/r/a/b")
			order := map[string]int{}
			for i, ev := range rec.since(n) {
				if ev.Type != cache.NodeAdded {
					t.Fatalf("unexpected %v %s", ev.Type, ev.Path)
				}
				if string(ev.Data) != "d"+ev.Path || ev.Stat == nil || ev.Stat.Czxid == 0 {
					t.Fatalf("NodeAdded %s carries %q %+v", ev.Path, ev.Data, ev.Stat)
				}
				order[ev.Path] = i
			}
			if !(order["/r"] < order["/r/a"] && order["/r/a"] < order["/r/a/b"] && order["/r"] < order["/r/c"]) {
				t.Fatalf("NodeAdded not parent first: %v", order)
			}
			data, st, ok := tc.Get("/r/a/b")
			if !ok || string(data) != "d/r/a/b" || st.Version != 0 {
				t.Fatalf("Get = %q %+v %v", data, st, ok)
			}
			if kids, ok := tc.Children("/r"); !ok || !slices.Equal(kids, []string{"a", "c"}) {
				t.Fatalf("Children = %v %v", kids, ok)
			}
			if kids, ok := tc.Children("/r/a/b"); !ok || len(kids) != 0 {
				t.Fatalf("Children of a leaf = %v %v", kids, ok)
			}
			if _, ok := tc.Children("/elsewhere"); ok {
				t.Fatal("Children outside the tree")
			}

			n = rec.count()
			if _, err := other.Set(ctx, "/r/a", []byte("new"), -1); err != nil {
				t.Fatal(err)
			}
			i := rec.waitFor(t, n, cache.NodeUpdated, "/r/a")
			if ev := rec.events()[i]; string(ev.Data) != "new" || ev.Stat.Version != 1 {
				t.Fatalf("NodeUpdated carries %q %+v", ev.Data, ev.Stat)
			}
			if data, _, _ := tc.Get("/r/a"); string(data) != "new" {
				t.Fatalf("Get after update = %q", data)
			}

			n = rec.count()
			if err := other.DeleteAll(ctx, "/r/a"); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, n, cache.NodeRemoved, "/r/a")
			var removed []string
			for _, ev := range rec.since(n) {
				if ev.Type == cache.NodeRemoved {
					removed = append(removed, ev.Path)
				}
			}
			if !slices.Equal(removed, []string{"/r/a/b", "/r/a"}) {
				t.Fatalf("NodeRemoved order %v, want deepest first", removed)
			}
			if _, _, ok := tc.Get("/r/a"); ok {
				t.Fatal("removed node still cached")
			}
			if kids, _ := tc.Children("/r"); !slices.Equal(kids, []string{"c"}) {
				t.Fatalf("Children after removal = %v", kids)
			}

			// The root itself goes and comes back.
			n = rec.count()
			if err := other.DeleteAll(ctx, "/r"); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, n, cache.NodeRemoved, "/r")
			if _, err := other.Create(ctx, "/r", []byte("again")); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, n, cache.NodeAdded, "/r")

			if err := tc.Close(); err != nil {
				t.Fatal(err)
			}
			<-rec.done
			if !errors.Is(tc.Err(), cache.ErrClosed) {
				t.Fatalf("Err after Close = %v", tc.Err())
			}
			if _, _, ok := tc.Get("/r"); ok {
				t.Fatal("cache not emptied by Close")
			}
			testutil.NoWatches(t, srv.Addr(0), c.SessionID())
		})
	}
}

func TestTreeCacheConnectionEvents(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c, p, direct := testutil.ProxiedWithDirect(t, srv)
			if _, err := direct.Create(ctx, "/r", nil); err != nil {
				t.Fatal(err)
			}
			tc, rec := start(t, c, "/r", mode.opts...)
			<-tc.Ready()
			n := rec.waitFor(t, 0, cache.Initialized, "") + 1
			p.Drop()
			rec.waitFor(t, n, cache.ConnSuspended, "")
			rec.waitFor(t, n, cache.ConnReconnected, "")
			if _, err := direct.Create(ctx, "/r/after-drop", nil); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, n, cache.NodeAdded, "/r/after-drop")

			n = rec.count()
			if err := zktest.ExpireSession(ctx, c); err != nil {
				t.Fatal(err)
			}
			i := rec.waitFor(t, n, cache.ConnLost, "")
			if ev := rec.events()[i]; !errors.Is(ev.Err, keeper.ErrSessionExpired) {
				t.Fatalf("ConnLost carries %v", ev.Err)
			}
			rec.waitFor(t, i, cache.ConnReconnected, "")
			if _, err := direct.Create(ctx, "/r/after-expiry", nil); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, i, cache.NodeAdded, "/r/after-expiry")
			// Initialized came once, not again after the re-reads.
			inits := 0
			for _, ev := range rec.events() {
				if ev.Type == cache.Initialized {
					inits++
				}
			}
			if inits != 1 {
				t.Fatalf("%d Initialized events, want 1: %s", inits, rec.tail())
			}
			if kids, _ := tc.Children("/r"); !slices.Equal(kids, []string{"after-drop", "after-expiry"}) {
				t.Fatalf("children %v", kids)
			}
			if err := tc.Close(); err != nil {
				t.Fatal(err)
			}
			testutil.NoWatches(t, srv.Addr(0), c.SessionID())
		})
	}
}

// TestTreeCacheRecreatedWhileCutOff deletes and re-creates a node (same
// data, same version) while the cache's client is cut off: the cache
// reports NodeRemoved then NodeAdded.
func TestTreeCacheRecreatedWhileCutOff(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c, p, direct := testutil.ProxiedWithDirect(t, srv)
			for _, n := range []string{"/r", "/r/a", "/r/a/kid", "/r/same"} {
				if _, err := direct.Create(ctx, n, []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			tc, rec := start(t, c, "/r", mode.opts...)
			<-tc.Ready()
			n := rec.waitFor(t, 0, cache.Initialized, "") + 1
			_, before, _ := tc.Get("/r/a")
			p.Pause()
			p.Drop()
			testutil.WaitFor(t, 20*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
			if err := direct.DeleteAll(ctx, "/r/a"); err != nil {
				t.Fatal(err)
			}
			if _, err := direct.Create(ctx, "/r/a", []byte("v")); err != nil {
				t.Fatal(err)
			}
			p.Resume()
			rec.waitFor(t, n, cache.NodeAdded, "/r/a")
			var got []string
			for _, ev := range rec.since(n) {
				if strings.HasPrefix(ev.Path, "/r/a") {
					got = append(got, ev.Type.String()+" "+ev.Path)
				}
			}
			want := []string{"NodeRemoved /r/a/kid", "NodeRemoved /r/a", "NodeAdded /r/a"}
			if !slices.Equal(got, want) {
				t.Fatalf("events %v, want %v", got, want)
			}
			_, after, _ := tc.Get("/r/a")
			if after.Czxid == before.Czxid || after.Version != before.Version {
				t.Fatalf("stat before %+v after %+v", before, after)
			}
			for _, ev := range rec.since(n) {
				if ev.Path == "/r/same" {
					t.Fatalf("untouched node reported: %v", ev.Type)
				}
			}
		})
	}
}

// tree is a subtree as a map from path to "data czxid mzxid".
type tree map[string]string

// serverTree reads the subtree at root afresh from the server.
func serverTree(ctx context.Context, c *keeper.Client, root string) (tree, error) {
	out := tree{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := c.Get(ctx, p)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%q %x %x", data, st.Czxid, st.Mzxid)
		kids, err := c.Children(ctx, p)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := walk(keeper.JoinPath(p, k)); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(root)
}

// cacheTree reads the subtree at root from the cache.
func cacheTree(tc *cache.TreeCache, root string) tree {
	out := tree{}
	var walk func(p string)
	walk = func(p string) {
		data, st, ok := tc.Get(p)
		if !ok {
			return
		}
		out[p] = fmt.Sprintf("%q %x %x", data, st.Czxid, st.Mzxid)
		kids, _ := tc.Children(p)
		for _, k := range kids {
			walk(keeper.JoinPath(p, k))
		}
	}
	walk(root)
	return out
}

// diff describes how two trees differ (empty when equal).
func diff(want, got tree) string {
	var d []string
	for p, v := range want {
		if g, ok := got[p]; !ok {
			d = append(d, "missing "+p)
		} else if g != v {
			d = append(d, fmt.Sprintf("%s: %s, want %s", p, g, v))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			d = append(d, "extra "+p)
		}
	}
	sort.Strings(d)
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("... %d more", len(d)-10))
	}
	return strings.Join(d, "; ")
}

// mutator makes random changes in its own subtree.
type mutator struct {
	c    *keeper.Client
	rnd  *rand.Rand
	root string
	live []string // nodes under root, root excluded
}

func (m *mutator) step(ctx context.Context) error {
	pick := func() string { return m.live[m.rnd.IntN(len(m.live))] }
	data := []byte(fmt.Sprint(m.rnd.IntN(1000)))
	switch op := m.rnd.IntN(10); {
	case op < 4 || len(m.live) < 5: // create
		parent := m.root
		if len(m.live) > 0 && m.rnd.IntN(2) == 0 {
			parent = pick()
		}
		if strings.Count(parent, "/") > 6 {
			parent = m.root
		}
		p, err := m.c.Create(ctx, keeper.JoinPath(parent, "n"), data, keeper.Sequential())
		if err != nil {
			return err
		}
		m.live = append(m.live, p)
	case op < 7: // set
		if _, err := m.c.Set(ctx, pick(), data, -1); err != nil {
			return err
		}
	case op < 9: // delete a subtree
		p := pick()
		if err := m.c.DeleteAll(ctx, p); err != nil {
			return err
		}
		m.live = slices.DeleteFunc(m.live, func(q string) bool { return q == p || strings.HasPrefix(q, p+"/") })
	default: // delete and create again with the same data (same version)
		p := pick()
		d, _, err := m.c.Get(ctx, p)
		if err != nil {
			return err
		}
		if err := m.c.DeleteAll(ctx, p); err != nil {
			return err
		}
		m.live = slices.DeleteFunc(m.live, func(q string) bool { return strings.HasPrefix(q, p+"/") })
		if _, err := m.c.Create(ctx, p, d); err != nil {
			return err
		}
	}
	return nil
}

// TestTreeCacheRandomChanges makes 10,000 random changes (creates, sets,
// deletes, re-creates) from other clients while the cache's client is cut
// off now and then (proxy drops and pauses), and checks that the cache
// ends equal to the server's tree.
func TestTreeCacheRandomChanges(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		const changes = 10_000
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			c, p, direct := testutil.ProxiedWithDirect(t, srv)
			const writers = 32
			ms := make([]*mutator, writers)
			if _, err := direct.Create(ctx, "/r", nil); err != nil {
				t.Fatal(err)
			}
			run := func(steps int) {
				t.Helper()
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				for _, m := range ms {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := 0; j < steps; j++ {
							if err := m.step(ctx); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
			}
			for i := range ms {
				ms[i] = &mutator{c: direct, rnd: rand.New(rand.NewPCG(uint64(i), 42)), root: fmt.Sprintf("/r/w%d", i)}
				if _, err := direct.Create(ctx, ms[i].root, nil); err != nil {
					t.Fatal(err)
				}
			}
			run(40) // a tree to load first
			tc, _ := start(t, c, "/r", mode.opts...)
			stop := make(chan struct{})
			faults := make(chan int)
			go func() {
				n := 0
				defer func() { faults <- n }()
				rnd := rand.New(rand.NewPCG(7, 7))
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(200+rnd.IntN(400)) * time.Millisecond):
					}
					n++
					switch rnd.IntN(3) {
					case 0:
						p.Drop()
					case 1:
						p.Pause()
						time.Sleep(time.Duration(50+rnd.IntN(300)) * time.Millisecond)
						p.Resume()
					default:
						p.Pause()
						p.Drop()
						time.Sleep(time.Duration(50+rnd.IntN(300)) * time.Millisecond)
						p.Resume()
					}
				}
			}()
			t0 := time.Now()
			run((changes + writers - 1) / writers)
			t.Logf("%d changes took %v", changes, time.Since(t0))
			close(stop)
			t.Logf("%d faults injected", <-faults)
			// The cache catches up within a second or two on an idle
			// machine; on a loaded one it may take longer, so it fails
			// only when the difference stops changing for 60s (a change
			// lost for good), not after a fixed time.
			t0 = time.Now()
			last, since := "", time.Now()
			for {
				want, err := serverTree(ctx, direct, "/r")
				if err != nil {
					t.Fatal(err)
				}
				d := diff(want, cacheTree(tc, "/r"))
				if d == "" {
					t.Logf("%d nodes, equal %v after the last change", len(want), time.Since(t0))
					break
				}
				if d != last {
					last, since = d, time.Now()
				}
				if time.Since(since) > 60*time.Second {
					t.Fatalf("the cache still differs from the server after %v (no change for 60s; cache error %v): %s",
						time.Since(t0).Round(time.Second), tc.Err(), d)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := tc.Close(); err != nil {
				t.Fatal(err)
			}
			if c.ServerVersion().AtLeast(3, 6, 0) {
				testutil.NoWatches(t, srv.Addr(0), c.SessionID())
			} else {
				noLiveWatches(t, c)
			}
			want, err := serverTree(ctx, direct, "/r")
			if err != nil {
				t.Fatal(err)
			}
			paths := make([]string, 0, len(want))
			for q := range want {
				paths = append(paths, q)
			}
			testutil.NoChildWatches(t, c, paths...)
		})
	}
}

// noLiveWatches waits (up to 20s) until the connection of c holds no data
// watch, and fails the test otherwise. Before 3.6 ZooKeeper's watch
// manager registers the watch of a read that it processes after the
// connection that sent it has closed (3.6 drops those as dead watchers):
// after the proxy's drops, wchc may list such a watch under the session,
// held by the dead connection and never fired or removed. So each path
// wchc lists is asked on c's own connection with checkWatches, and only
// a watch held there fails the test.
func noLiveWatches(t *testing.T, c *keeper.Client) {
	t.Helper()
	var live []string
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var listed []string
		listed, err = testutil.Watches(ctx, srv.Addr(0), c.SessionID())
		live = live[:0]
		for _, q := range listed {
			if err != nil {
				break
			}
			rel := strings.TrimPrefix(q, c.Chroot())
			switch e := c.CheckWatches(ctx, rel, keeper.WatchData); {
			case e == nil:
				live = append(live, rel)
			case !errors.Is(e, keeper.ErrNoWatcher):
				err = e
			}
		}
		cancel()
		if err == nil && len(live) == 0 {
			if len(listed) > 0 {
				t.Logf("on %s wchc lists watches of a dead connection of the session: %q", c.ServerVersion(), listed)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the session still holds data watches on %q (%v)", live, err)
}

// TestTreeCacheRootCreatedLater starts a cache on a root that does not
// exist, then creates the root and children from another client: the
// cache must load them, and keep following changes below them (the path
// of a ServiceCache started before the first instance registers).
func TestTreeCacheRootCreatedLater(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c := srv.Client(t)
			other := testutil.Connect(t, srv, c)
			tc, rec := start(t, c, "/svc/a", mode.opts...)
			select {
			case <-tc.Ready():
			case <-ctx.Done():
				t.Fatal("not ready")
			}
			// As Curator registers a service instance: the parents as
			// containers, then the instances, ephemeral.
			for _, p := range []string{"/svc", "/svc/a"} {
				if _, err := other.Create(ctx, p, nil, keeper.Container()); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []string{"/svc/a/x", "/svc/a/y"} {
				if _, err := other.Create(ctx, p, []byte(p), keeper.Ephemeral()); err != nil {
					t.Fatal(err)
				}
			}
			rec.waitFor(t, 0, cache.NodeAdded, "/svc/a")
			rec.waitFor(t, 0, cache.NodeAdded, "/svc/a/x")
			rec.waitFor(t, 0, cache.NodeAdded, "/svc/a/y")
			if _, err := other.Create(ctx, "/svc/a/z", nil); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, 0, cache.NodeAdded, "/svc/a/z")
			if _, err := other.Set(ctx, "/svc/a/x", []byte("new"), -1); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, 0, cache.NodeUpdated, "/svc/a/x")
		})
	}
}
