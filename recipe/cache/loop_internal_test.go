package cache

import (
	"fmt"
	"testing"

	"github.com/keeper-go/keeper"
)

// TestResyncListsChildrenMissedWhileAway drives the loop by hand (no
// reads are sent): a persistent-watch cache has /r with no children
// listed at Pzxid 10; a data change of /r starts a data-only read; the
// connection drops, a child is created unseen (no event), and the
// watcher says Resync while that read is in flight. The read then brings
// /r's Stat with Pzxid 12, and the re-read Resync asked for must still
// list /r's children: the Pzxid moved since they were last listed, even if
// not since the last read of the data.
func TestResyncListsChildrenMissedWhileAway(t *testing.T) {
	tc, handle, pop := newHandDriven(t)
	tc.schedule(job{path: "/r", data: true, kids: kidsAlways})
	j := pop()
	handle(msg{results: []*result{{job: j, exists: true, dataRead: true, kidsRead: true, kids: []string{},
		stat: &keeper.Stat{Czxid: 1, Mzxid: 5, Pzxid: 10}}}})

	handle(msg{ev: &keeper.Event{Type: keeper.EventNodeDataChanged, Path: "/r"}})
	j = pop()
	if j.kids != kidsNo {
		t.Fatalf("read for a data change lists children (%v)", j.kids)
	}
	handle(msg{ev: &keeper.Event{Type: keeper.EventResync, Path: "/r"}})
	handle(msg{results: []*result{{job: j, exists: true, dataRead: true, data: []byte("x"),
		stat: &keeper.Stat{Czxid: 1, Mzxid: 11, Pzxid: 12, NumChildren: 1}}}})

	j = pop()
	if j.kids == kidsNo || j.kids == kidsIfChanged && j.pzxid == 12 {
		t.Fatalf("the re-read after Resync does not list the children of /r (%+v)", j)
	}
}

// fakeTree answers the loop's reads by hand, from a map of the server's
// nodes, as the persistent-watch workers would.
type fakeTree map[string]fakeNode

type fakeNode struct {
	stat keeper.Stat
	data string
	kids []string
}

func (f fakeTree) serve(j job) *result {
	r := &result{job: j, dataRead: true}
	n, ok := f[j.path]
	if !ok {
		return r
	}
	st := n.stat
	r.exists, r.data, r.stat = true, []byte(n.data), &st
	if j.kids == kidsAlways || j.kids == kidsIfChanged && st.Pzxid != j.pzxid {
		r.kidsRead, r.kids = true, append([]string{}, n.kids...)
	}
	return r
}

// drain answers every read the loop asks for until it asks for none.
func drain(t *testing.T, tc *TreeCache, f fakeTree) {
	t.Helper()
	for range 100 {
		js := tc.jobs.PopN(64, nil)
		if len(js) == 0 {
			return
		}
		for _, j := range js {
			m := msg{results: []*result{f.serve(j)}}
			if err := tc.handle(&m); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("the loop keeps asking for reads")
}

func newHandDriven(t *testing.T) (*TreeCache, func(msg), func() job) {
	t.Helper()
	tc, err := NewTreeCache(&keeper.Client{}, "/r")
	if err != nil {
		t.Fatal(err)
	}
	tc.persistent = true
	handle := func(m msg) {
		t.Helper()
		if err := tc.handle(&m); err != nil {
			t.Fatal(err)
		}
	}
	pop := func() job {
		t.Helper()
		js := tc.jobs.PopN(2, nil)
		if len(js) != 1 {
			t.Fatalf("%d reads queued, want 1: %+v", len(js), js)
		}
		return js[0]
	}
	return tc, handle, pop
}

// TestResyncRereadsParkedNodes: a read of /r/p/x came back before its
// parent /r/p was in, and waits (parked) for it; the connection drops,
// /r/p/x is deleted and created again unseen (same data, a new czxid),
// and the watcher says Resync while /r/p's read is in flight. That read
// then lists x, which names the node the parked read holds: the cache
// must still end with the new incarnation, not the parked old one.
func TestResyncRereadsParkedNodes(t *testing.T) {
	tc, handle, pop := newHandDriven(t)
	tc.schedule(job{path: "/r", data: true, kids: kidsAlways})
	handle(msg{results: []*result{{job: pop(), exists: true, dataRead: true, kidsRead: true, kids: []string{},
		stat: &keeper.Stat{Czxid: 1, Mzxid: 1, Pzxid: 1}}}})

	handle(msg{ev: &keeper.Event{Type: keeper.EventNodeCreated, Path: "/r/p"}})
	jp := pop()
	handle(msg{ev: &keeper.Event{Type: keeper.EventNodeCreated, Path: "/r/p/x"}})
	old := fakeTree{"/r/p/x": {stat: keeper.Stat{Czxid: 3, Mzxid: 3, Pzxid: 3}, data: "d"}}
	handle(msg{results: []*result{old.serve(pop())}}) // parked: /r/p is not in yet

	handle(msg{ev: &keeper.Event{Type: keeper.EventResync, Path: "/r"}})
	now := fakeTree{
		"/r":     {stat: keeper.Stat{Czxid: 1, Mzxid: 1, Pzxid: 2, NumChildren: 1}, kids: []string{"p"}},
		"/r/p":   {stat: keeper.Stat{Czxid: 2, Mzxid: 2, Pzxid: 5, NumChildren: 1}, kids: []string{"x"}},
		"/r/p/x": {stat: keeper.Stat{Czxid: 5, Mzxid: 5, Pzxid: 5}, data: "d"},
	}
	handle(msg{results: []*result{now.serve(jp)}})
	drain(t, tc, now)

	n := tc.nodes["/r/p/x"]
	switch {
	case n == nil:
		t.Fatal("/r/p/x is not cached")
	case n.stat.Czxid != 5:
		t.Fatalf("/r/p/x cached with czxid %d (the incarnation from before the drop), want 5", n.stat.Czxid)
	}
}

// TestGoneNodeNotAddedFromParkedRead: a parked read of /r/p/x, then a
// later read finding it deleted, then /r/p comes in with a listing made
// before the deletion. The cache must not add /r/p/x (a NodeAdded for a
// node already known to be gone) from the older, parked read: nothing
// would remove it, as the deletion's event has been handled and the
// listing names x.
func TestGoneNodeNotAddedFromParkedRead(t *testing.T) {
	tc, handle, pop := newHandDriven(t)
	tc.schedule(job{path: "/r", data: true, kids: kidsAlways})
	handle(msg{results: []*result{{job: pop(), exists: true, dataRead: true, kidsRead: true, kids: []string{},
		stat: &keeper.Stat{Czxid: 1, Mzxid: 1, Pzxid: 1}}}})
	tc.events.PopN(1<<10, nil)

	handle(msg{ev: &keeper.Event{Type: keeper.EventNodeCreated, Path: "/r/p/x"}})
	before := fakeTree{
		"/r/p":   {stat: keeper.Stat{Czxid: 2, Mzxid: 2, Pzxid: 3, NumChildren: 1}, kids: []string{"x"}},
		"/r/p/x": {stat: keeper.Stat{Czxid: 3, Mzxid: 3, Pzxid: 3}, data: "d"},
	}
	handle(msg{results: []*result{before.serve(pop())}}) // parked; asks for /r/p
	jp := pop()
	handle(msg{ev: &keeper.Event{Type: keeper.EventNodeDeleted, Path: "/r/p/x"}})
	handle(msg{results: []*result{(fakeTree{}).serve(pop())}}) // gone
	handle(msg{results: []*result{before.serve(jp)}})          // listed before the deletion
	evs := tc.events.PopN(1<<10, nil)
	if len(evs) == 0 || evs[0].Type != NodeAdded || evs[0].Path != "/r/p" {
		t.Fatalf("events %+v, want NodeAdded /r/p first", evs)
	}
	for _, ev := range evs {
		if ev.Path == "/r/p/x" {
			t.Fatalf("%v for /r/p/x after a read found it deleted", ev.Type)
		}
	}
	drain(t, tc, fakeTree{"/r/p": {stat: keeper.Stat{Czxid: 2, Mzxid: 2, Pzxid: 4}}})
	if tc.nodes["/r/p/x"] != nil {
		t.Fatal("/r/p/x, deleted, is cached")
	}
}

// TestLoadReadingMapMadeAnew loads a root with 3 000 children by hand:
// at one time every child's read is in flight, and once they are all
// answered the map of reads in flight must be a new one (a map never
// shrinks, and the load's would stay as large as the tree), while the
// cache holds every node with the Stat it read, and an event's Stat is
// the event's own.
func TestLoadReadingMapMadeAnew(t *testing.T) {
	tc, handle, pop := newHandDriven(t)
	f := fakeTree{}
	root := fakeNode{stat: keeper.Stat{Czxid: 1, Mzxid: 1, Pzxid: 2, NumChildren: 3000}}
	for i := range 3000 {
		name := fmt.Sprintf("c%04d", i)
		root.kids = append(root.kids, name)
		f["/r/"+name] = fakeNode{stat: keeper.Stat{Czxid: int64(10 + i), Mzxid: int64(10 + i), Version: int32(i)}, data: name}
	}
	f["/r"] = root
	tc.schedule(job{path: "/r", data: true, kids: kidsAlways})
	handle(msg{results: []*result{f.serve(pop())}})
	if n := len(tc.reading); n != 3000 {
		t.Fatalf("%d reads in flight after the root's, want 3000", n)
	}
	drain(t, tc, f)
	if tc.outstanding != 0 || len(tc.reading) != 0 {
		t.Fatalf("%d reads outstanding, %d in the map", tc.outstanding, len(tc.reading))
	}
	if tc.readingPeak > keepReading {
		t.Errorf("the load's map of reads in flight is kept (it held %d)", tc.readingPeak)
	}
	var added *Event
	for {
		ev, ok := tc.events.Pop()
		if !ok {
			break
		}
		if ev.Type == NodeAdded && ev.Path == "/r/c0042" {
			added = &ev
		}
	}
	if added == nil {
		t.Fatal("no NodeAdded for /r/c0042")
	}
	added.Stat.Version = -7 // the consumer's to change
	_, st, ok := tc.Get("/r/c0042")
	if !ok || st.Version != 42 || st.Czxid != 52 {
		t.Fatalf("cached /r/c0042: %v, %+v", ok, st)
	}
}
