package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

// seqWalk is walk without reading ahead, as it was before: one Get (with
// data) and one ChildrenStat per node, in visiting order. The tests
// compare walk against it.
func seqWalk(ctx context.Context, a *app, c *keeper.Client, root string, o walkOpts, fn func(n *node) error) error {
	var visit func(p string, depth int) error
	visit = func(p string, depth int) error {
		n := &node{path: p, depth: depth}
		w := &walker{a: a, c: c, o: o, ctx: ctx}
		gone, err := w.readOne(n)
		if err != nil || gone {
			return err
		}
		sort.Strings(n.children)
		if o.skipSystem && p == "/" && c.Chroot() == "" {
			n.children = deleteString(n.children, "zookeeper")
		}
		if err := fn(n); err != nil {
			return err
		}
		for _, ch := range n.children {
			if err := visit(keeper.JoinPath(p, ch), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(root, 0)
}

// walkLine is what a test keeps of a node met by a walk.
func walkLine(n *node) string {
	return fmt.Sprintf("%s d=%d data=%q kids=%v nil=%v czxid=%d len=%d num=%d acl=%v",
		n.path, n.depth, n.data, n.children, n.children == nil, n.stat.Czxid, n.stat.DataLength, n.stat.NumChildren, n.acl)
}

// makeWalkTree creates under root: /t with 50 nodes of 100 children each
// (more than one batch and more than walk reads ahead), data of sizes up to
// 8 KiB, a node without data, and a deeper chain.
func makeWalkTree(t *testing.T, ctx context.Context, c *keeper.Client) {
	t.Helper()
	if _, err := c.Create(ctx, "/t", []byte("top")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var failed error
	done := func(_ string, err error) {
		if err != nil {
			mu.Lock()
			failed = errors.Join(failed, err)
			mu.Unlock()
		}
	}
	for i := range 50 {
		c.CreateAsync(ctx, fmt.Sprintf("/t/a%02d", i), []byte(strings.Repeat("x", i*160)), done)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		for j := range 100 {
			c.CreateAsync(ctx, fmt.Sprintf("/t/a%02d/b%02d", i, j), []byte(fmt.Sprint(i*j)), done)
		}
	}
	c.CreateAsync(ctx, "/t/nodata", nil, done)
	c.CreateAsync(ctx, "/t/a07/b07/c", []byte("deep"), done)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c.CreateAsync(ctx, "/t/a07/b07/c/d", []byte{}, done)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if failed != nil {
		t.Fatal(failed)
	}
}

// TestWalkSameAsSequential: walk meets the nodes of a tree of 5 000 in the
// same order and with the same contents as a walk without reading ahead,
// with and without data, ACLs and a depth limit, with multi-reads and on a
// client that takes its server for 3.5 (no multi-reads: each batch reads
// its nodes one by one).
func TestWalkSameAsSequential(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := srv.Client(t)
	makeWalkTree(t, ctx, c)
	old := testutil.Connect(t, srv, c, keeper.WithServerVersion("3.5.9"))
	a := newApp(nil, io.Discard, io.Discard)
	all := []walkOpts{
		{maxDepth: -1},
		{data: true, maxDepth: -1},
		{data: true, acl: true, maxDepth: -1},
		{maxDepth: 1},
		{data: true, maxDepth: 2},
		{maxDepth: 0},
	}
	for _, cl := range []struct {
		name string
		c    *keeper.Client
		opts []walkOpts
	}{{"multi", c, all}, {"3.5", old, all[1:3]}} {
		for _, o := range cl.opts {
			t.Run(fmt.Sprintf("%s/%+v", cl.name, o), func(t *testing.T) {
				var want, got []string
				if err := seqWalk(ctx, a, cl.c, "/t", o, func(n *node) error {
					want = append(want, walkLine(n))
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if err := a.walk(ctx, cl.c, "/t", o, func(n *node) error {
					got = append(got, walkLine(n))
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("walk met %d nodes, the sequential walk %d; first difference:\n%s", len(got), len(want), firstDiff(got, want))
				}
			})
		}
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d got  %s\nat %d want %s", i, g, i, w)
		}
	}
	return ""
}

// TestWalkVanished: nodes deleted before their turn are left out, without
// an error: a subtree deleted while its parent's listing was being read,
// and a leaf deleted long before the walk reaches it.
func TestWalkVanished(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := srv.Client(t)
	makeWalkTree(t, ctx, c)
	a := newApp(nil, io.Discard, io.Discard)
	var got []string
	err := a.walk(ctx, c, "/t", walkOpts{data: true, maxDepth: -1}, func(n *node) error {
		if n.depth == 0 {
			if err := c.Delete(ctx, "/t/a49/b99", -1); err != nil {
				return err
			}
			for j := range 100 {
				if err := c.Delete(ctx, fmt.Sprintf("/t/a48/b%02d", j), -1); err != nil {
					return err
				}
			}
			if err := c.Delete(ctx, "/t/a48", -1); err != nil {
				return err
			}
		}
		got = append(got, n.path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p == "/t/a49/b99" || strings.HasPrefix(p, "/t/a48/") {
			t.Errorf("walk met %s, deleted before its parent was read", p)
		}
	}
	if !slices.Contains(got, "/t/a49/b98") || !slices.Contains(got, "/t/nodata") {
		t.Errorf("walk missed nodes still there: %d met", len(got))
	}
}

// TestWalkErrorInTurn: a node the client may not read stops the walk in
// its turn, with the error of a walk without reading ahead, after the
// nodes before it and none after it.
func TestWalkErrorInTurn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := srv.Client(t)
	makeWalkTree(t, ctx, c)
	noRead := []keeper.ACL{{Perms: keeper.PermAll &^ keeper.PermRead, Scheme: "world", ID: "anyone"}}
	const secret = "/t/a20/b50/secret"
	if _, err := c.Create(ctx, secret, []byte("s"), keeper.WithACL(noRead...)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The chroot's cleanup could not list its children.
		if err := c.Delete(ctx, secret, -1); err != nil {
			t.Error(err)
		}
	}()
	a := newApp(nil, io.Discard, io.Discard)
	for _, o := range []walkOpts{{maxDepth: -1}, {data: true, maxDepth: -1}} {
		var want, got []string
		werr := seqWalk(ctx, a, c, "/t", o, func(n *node) error {
			want = append(want, walkLine(n))
			return nil
		})
		gerr := a.walk(ctx, c, "/t", o, func(n *node) error {
			got = append(got, walkLine(n))
			return nil
		})
		if werr == nil || gerr == nil || gerr.Error() != werr.Error() {
			t.Fatalf("%+v: walk's error %v, the sequential walk's %v", o, gerr, werr)
		}
		if !errors.Is(gerr, keeper.ErrNoAuth) {
			t.Errorf("%+v: error %v, want one matching ErrNoAuth", o, gerr)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%+v: walk met %d nodes before the error, the sequential walk %d; first difference:\n%s", o, len(got), len(want), firstDiff(got, want))
		}
	}
}
