package cache_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/cache"
)

// Request opcodes, as the protocol numbers them.
const (
	opGetData     = 4
	opGetChildren = 8
	opExists      = 3
	opChildren2   = 12
	opMultiRead   = 22
	opAddWatch    = 106
)

// requests counts the requests a client sends through a proxy, by opcode
// (pings and other negative xids left out).
type requests struct {
	mu sync.Mutex
	n  map[int32]int
}

func (r *requests) tap(fromServer bool, frame []byte) {
	if fromServer || len(frame) < 8 {
		return
	}
	xid := int32(binary.BigEndian.Uint32(frame))
	op := int32(binary.BigEndian.Uint32(frame[4:]))
	if xid <= 0 {
		return
	}
	r.mu.Lock()
	r.n[op]++
	r.mu.Unlock()
}

func (r *requests) reset() {
	r.mu.Lock()
	r.n = map[int32]int{}
	r.mu.Unlock()
}

// reads returns the reads and the watch additions counted.
func (r *requests) reads() (reads, watches int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, op := range []int32{opGetData, opGetChildren, opExists, opChildren2, opMultiRead} {
		reads += r.n[op]
	}
	return reads, r.n[opAddWatch]
}

// TestNodeCache: a single-node view costs one watch and one read to load
// and one read per change of the node, none for its children, and sees the
// node deleted and created again.
func TestNodeCache(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, p, direct := testutil.ProxiedWithDirect(t, srv)
	for _, n := range []string{"/n", "/n/kid"} {
		if _, err := direct.Create(ctx, n, []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
	reqs := &requests{}
	reqs.reset()
	p.Tap(reqs.tap)
	defer p.Tap(nil)
	tc, err := cache.NewNodeCache(c, "/n")
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	rec := record(tc)
	<-tc.Ready()
	// Before 3.6 there are no persistent watches: the cache uses one-shot
	// ones, at other costs, which these counts do not describe.
	persistent := c.ServerVersion().AtLeast(3, 6, 0)
	if reads, watches := reqs.reads(); persistent && (reads != 1 || watches != 1) {
		t.Fatalf("loading cost %d reads and %d watches, want 1 and 1", reads, watches)
	}
	if data, _, ok := tc.Get("/n"); !ok || string(data) != "v1" {
		t.Fatalf("Get = %q, %v", data, ok)
	}
	if _, _, ok := tc.Get("/n/kid"); ok {
		t.Fatal("a child is cached")
	}
	if kids, ok := tc.Children("/n"); !ok || len(kids) != 0 {
		t.Fatalf("Children = %v, %v", kids, ok)
	}
	// A child's changes cost nothing; the node's own cost one read each.
	if _, err := direct.Create(ctx, "/n/kid2", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Set(ctx, "/n/kid", []byte("x"), keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Set(ctx, "/n", []byte("v2"), keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 0, cache.NodeUpdated, "/n")
	if reads, watches := reqs.reads(); persistent && (reads != 2 || watches != 1) {
		t.Fatalf("after a change: %d reads and %d watches, want 2 and 1", reads, watches)
	}
	if err := direct.DeleteAll(ctx, "/n"); err != nil {
		t.Fatal(err)
	}
	n := rec.waitFor(t, 0, cache.NodeRemoved, "/n")
	if _, err := direct.Create(ctx, "/n", []byte("v3")); err != nil {
		t.Fatal(err)
	}
	n = rec.waitFor(t, n, cache.NodeAdded, "/n")
	// Changed while the client is cut off: the re-read after the
	// reconnect reports it.
	p.Pause()
	p.Drop()
	testutil.WaitFor(t, 20*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	if _, err := direct.Set(ctx, "/n", []byte("v4"), keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	p.Resume()
	rec.waitFor(t, n, cache.NodeUpdated, "/n")
	if data, _, _ := tc.Get("/n"); string(data) != "v4" {
		t.Fatalf("after the reconnect: %q", data)
	}
	for _, ev := range rec.events() {
		if ev.Path != "" && ev.Path != "/n" {
			t.Fatalf("event for %s", ev.Path)
		}
	}
	if err := tc.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// TestPathChildrenCache: a one-level view caches the node and its
// children, not the grandchildren, with one watch.
func TestPathChildrenCache(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c, p, direct := testutil.ProxiedWithDirect(t, srv)
			for _, n := range []string{"/p", "/p/a", "/p/b", "/p/a/deep"} {
				if _, err := direct.Create(ctx, n, []byte(n)); err != nil {
					t.Fatal(err)
				}
			}
			reqs := &requests{}
			reqs.reset()
			p.Tap(reqs.tap)
			defer p.Tap(nil)
			tc, err := cache.NewPathChildrenCache(c, "/p", mode.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer tc.Close()
			rec := record(tc)
			<-tc.Ready()
			if kids, _ := tc.Children("/p"); !slices.Equal(kids, []string{"a", "b"}) {
				t.Fatalf("children %v", kids)
			}
			if data, _, ok := tc.Get("/p/a"); !ok || string(data) != "/p/a" {
				t.Fatalf("Get(/p/a) = %q, %v", data, ok)
			}
			if _, _, ok := tc.Get("/p/a/deep"); ok {
				t.Fatal("a grandchild is cached")
			}
			// Before 3.6 the persistent mode falls back to one-shot watches.
			if _, watches := reqs.reads(); mode.opts == nil && c.ServerVersion().AtLeast(3, 6, 0) && watches != 1 {
				t.Fatalf("%d watches added, want 1", watches)
			}
			if _, err := direct.Set(ctx, "/p/a/deep", []byte("x"), keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			if _, err := direct.Create(ctx, "/p/a/deep2", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := direct.Create(ctx, "/p/c", []byte("c")); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, 0, cache.NodeAdded, "/p/c")
			if _, err := direct.Set(ctx, "/p/b", []byte("b2"), keeper.AnyVersion); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, 0, cache.NodeUpdated, "/p/b")
			for _, ev := range rec.events() {
				if strings.Count(ev.Path, "/") > 2 {
					t.Fatalf("event for %s", ev.Path)
				}
			}
			if err := tc.Close(); err != nil {
				t.Fatal(err)
			}
			testutil.NoWatches(t, srv.Addr(0), c.SessionID())
		})
	}
}

// TestTreeCacheDepthAndFilter: WithMaxDepth and WithFilter leave out the
// nodes below the limit and those the filter rejects, with their subtrees.
func TestTreeCacheDepthAndFilter(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := testutil.Ctx(t, 0)
			c := srv.Client(t)
			for _, n := range []string{"/t", "/t/a", "/t/a/b", "/t/a/b/c", "/t/skip", "/t/skip/x", "/t/a/skip"} {
				if _, err := c.Create(ctx, n, nil); err != nil {
					t.Fatal(err)
				}
			}
			keep := func(p string) bool { return !strings.HasSuffix(p, "/skip") }
			tc, rec := start(t, c, "/t", append(mode.opts[:len(mode.opts):len(mode.opts)],
				cache.WithMaxDepth(2), cache.WithFilter(keep))...)
			rec.waitFor(t, 0, cache.Initialized, "")
			var got []string
			for _, ev := range rec.events() {
				if ev.Type == cache.NodeAdded {
					got = append(got, ev.Path)
				}
			}
			if want := []string{"/t", "/t/a", "/t/a/b"}; !slices.Equal(got, want) {
				t.Fatalf("added %v, want %v", got, want)
			}
			if kids, _ := tc.Children("/t/a/b"); len(kids) != 0 {
				t.Fatalf("children at the depth limit %v", kids)
			}
			n := rec.count()
			for _, p := range []string{"/t/a/b/c2", "/t/skip/y", "/t/a/skip/z", "/t/d"} {
				if _, err := c.Create(ctx, p, nil); err != nil {
					t.Fatal(err)
				}
			}
			rec.waitFor(t, n, cache.NodeAdded, "/t/d")
			for _, ev := range rec.since(n) {
				if ev.Path != "/t/d" && ev.Path != "/t" {
					t.Fatalf("event %v %s", ev.Type, ev.Path)
				}
			}
			if _, err := cache.NewTreeCache(c, "/t", cache.WithMaxDepth(-2)); err == nil {
				t.Fatal("a negative depth was accepted")
			}
			if err := tc.Close(); err != nil {
				t.Fatal(err)
			}
			testutil.NoWatches(t, srv.Addr(0), c.SessionID())
		})
	}
}
