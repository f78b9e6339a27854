package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
	"github.com/keeper-go/keeper/recipe/watch"
)

// observers are a TreeCache of the whole chroot (on slot 4's client) and a
// DataWatch of the lock counter (on slot 5's): both must end with the
// server's state, and see each node's changes in order.
type observers struct {
	mu       sync.Mutex
	tc       *cache.TreeCache
	tcDone   chan struct{} // closed when the event reader of tc has exited
	dw       *watch.DataWatch
	dwLast   *keeper.Stat
	dwData   []byte
	ready    chan struct{}
	once     sync.Once
	events   atomic.Int64 // TreeCache events
	dwCalls  atomic.Int64
	restarts atomic.Int64
}

func (o *observers) init() {
	o.once.Do(func() { o.ready = make(chan struct{}) })
}

// startCache starts a TreeCache on c and a reader of its events that checks
// each node's events are in order.
func (o *observers) startCache(ctx context.Context, c *keeper.Client, rep *report) error {
	o.init()
	tc, err := cache.NewTreeCache(c, "/")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	if err := tc.Start(sctx); err != nil {
		tc.Close()
		return fmt.Errorf("TreeCache.Start: %w", err)
	}
	done := make(chan struct{})
	o.mu.Lock()
	if o.tc != nil {
		o.restarts.Add(1)
	}
	o.tc, o.tcDone = tc, done
	o.mu.Unlock()
	go func() {
		defer close(done)
		last := map[string]*keeper.Stat{}
		for ev := range tc.Events() {
			o.events.Add(1)
			switch ev.Type {
			case cache.Initialized:
				select {
				case <-o.ready:
				default:
					close(o.ready)
				}
			case cache.NodeAdded, cache.NodeUpdated:
				if p := last[ev.Path]; p != nil && p.Czxid == ev.Stat.Czxid && ev.Stat.Mzxid < p.Mzxid {
					rep.violation(checkCache, "%s: event %v with mzxid 0x%x after 0x%x", ev.Path, ev.Type, ev.Stat.Mzxid, p.Mzxid)
				}
				last[ev.Path] = ev.Stat
			case cache.NodeRemoved:
				delete(last, ev.Path)
			}
		}
	}()
	return nil
}

// startDataWatch watches the lock counter on c.
func (o *observers) startDataWatch(c *keeper.Client, rep *report) error {
	o.init()
	dw, err := watch.NewDataWatch(c, "/lockctr", func(data []byte, st *keeper.Stat, _ *keeper.Event) bool {
		o.dwCalls.Add(1)
		o.mu.Lock()
		defer o.mu.Unlock()
		if st == nil {
			rep.violation(checkDataWatch, "the DataWatch saw /lockctr missing")
			return true
		}
		if p := o.dwLast; p != nil && st.Mzxid <= p.Mzxid {
			rep.violation(checkDataWatch, "call with version %d (mzxid 0x%x) after version %d (mzxid 0x%x)", st.Version, st.Mzxid, p.Version, p.Mzxid)
		}
		o.dwLast, o.dwData = st, bytes.Clone(data)
		return true
	})
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.dw = dw
	o.mu.Unlock()
	return nil
}

// waitReady waits until the first TreeCache is loaded.
func (o *observers) waitReady(ctx context.Context) error {
	o.init()
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	select {
	case <-o.ready:
		return nil
	case <-wctx.Done():
		return errors.New("the TreeCache never loaded")
	}
}

// stop closes the observer on slot s's client, if any.
func (o *observers) stop(s int) {
	o.mu.Lock()
	tc, done, dw := o.tc, o.tcDone, o.dw
	o.mu.Unlock()
	switch {
	case s == 4 && tc != nil:
		tc.Close()
		<-done
	case s == 5 && dw != nil:
		dw.Close()
		<-dw.Done()
		o.mu.Lock()
		o.dwLast = nil // a new watch starts afresh
		o.mu.Unlock()
	}
}

// node is one znode as the server or the cache holds it.
type node struct {
	data         []byte
	czxid, mzxid int64
}

// serverTree reads the chroot's tree from the server (after a sync).
func (ch *chaos) serverTree(ctx context.Context) (map[string]node, error) {
	if err := ch.admin.Sync(ctx, ch.chroot); err != nil {
		return nil, err
	}
	tree := map[string]node{}
	var walk func(rel string) error
	walk = func(rel string) error {
		full := ch.chroot + rel
		if rel == "/" {
			full = ch.chroot
		}
		data, st, err := ch.admin.Get(ctx, full)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		tree[rel] = node{data: data, czxid: st.Czxid, mzxid: st.Mzxid}
		kids, err := ch.admin.Children(ctx, full)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := walk(keeper.JoinPath(rel, k)); err != nil {
				return err
			}
		}
		return nil
	}
	return tree, walk("/")
}

// cacheTree reads the TreeCache's view.
func cacheTree(tc *cache.TreeCache) map[string]node {
	tree := map[string]node{}
	var walk func(p string)
	walk = func(p string) {
		data, st, ok := tc.Get(p)
		if !ok {
			return
		}
		tree[p] = node{data: data, czxid: st.Czxid, mzxid: st.Mzxid}
		kids, _ := tc.Children(p)
		for _, k := range kids {
			walk(keeper.JoinPath(p, k))
		}
	}
	walk("/")
	return tree
}

// diffTrees describes how got differs from want, or returns "".
func diffTrees(want, got map[string]node) string {
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+p)
		case g.czxid != w.czxid || g.mzxid != w.mzxid || !bytes.Equal(g.data, w.data):
			diffs = append(diffs, fmt.Sprintf("stale %s (mzxid 0x%x, server 0x%x)", p, g.mzxid, w.mzxid))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "extra "+p)
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("... %d more", len(diffs)-5))
	}
	return fmt.Sprint(diffs)
}

// checkObservers waits until both observers show the server's state and
// fails the checks when they do not within settle.
func (ch *chaos) checkObservers(ctx context.Context) {
	o := &ch.obs
	o.mu.Lock()
	tc := o.tc
	o.mu.Unlock()
	deadline := time.Now().Add(settle)
	var diff string
	nodes := 0
	for {
		want, err := ch.serverTree(ctx)
		if err == nil {
			nodes = len(want)
			diff = diffTrees(want, cacheTree(tc))
			if diff == "" {
				break
			}
		} else {
			diff = "reading the server's tree: " + err.Error()
		}
		if time.Now().After(deadline) {
			ch.rep.violation(checkCache, "after %v: %s", settle, diff)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ch.rep.detail(checkCache, "%d nodes compared; %d events read; cache restarted %d times", nodes, o.events.Load(), o.restarts.Load())

	var last string
	for {
		data, st, err := ch.admin.Get(ctx, ch.chroot+"/lockctr")
		if err == nil {
			o.mu.Lock()
			seen, seenData := o.dwLast, o.dwData
			o.mu.Unlock()
			if seen != nil && seen.Mzxid == st.Mzxid && bytes.Equal(seenData, data) {
				ch.rep.detail(checkDataWatch, "%d calls; last version %d = server's", o.dwCalls.Load(), st.Version)
				return
			}
			last = fmt.Sprintf("server has version %d (%q), the watch saw %v (%q)", st.Version, data, versionOf(seen), seenData)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			ch.rep.violation(checkDataWatch, "after %v: %s", settle, last)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func versionOf(st *keeper.Stat) any {
	if st == nil {
		return "nothing"
	}
	return st.Version
}
