package cache

import (
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
	tc, err := NewTreeCache(&keeper.Client{}, "/r")
	if err != nil {
		t.Fatal(err)
	}
	tc.persistent = true
	pop := func() job {
		t.Helper()
		js := tc.jobs.PopN(2, nil)
		if len(js) != 1 {
			t.Fatalf("%d reads queued, want 1: %+v", len(js), js)
		}
		return js[0]
	}
	handle := func(m msg) {
		t.Helper()
		if err := tc.handle(&m); err != nil {
			t.Fatal(err)
		}
	}

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
