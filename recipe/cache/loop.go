package cache

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// The loop owns the tree. Every change goes through it: events of the
// watches only ask for reads; reads of one node run one at a time, so a
// node's results are applied in the order the server produced them; a
// node's read that finds it changed gives the events. Deletion and
// re-creation show as a new czxid, an update as a new mzxid.

func (tc *TreeCache) loop() {
	defer close(tc.loopDone)
	var ms []msg
	for {
		ms = tc.inbox.PopN(256, ms[:0])
		if len(ms) == 0 {
			select {
			case <-tc.inbox.Ready():
			case <-tc.stop:
				return
			}
			continue
		}
		for i := range ms {
			if err := tc.handle(&ms[i]); err != nil {
				// Results not handled keep their watches: hand them back.
				for _, m := range ms[i+1:] {
					tc.inbox.Push(m)
				}
				go tc.shutdown(err)
				return
			}
			ms[i] = msg{}
		}
		if tc.loading && tc.outstanding == 0 {
			tc.loading = false
			if !tc.readyOnce {
				tc.readyOnce = true
				tc.emit(Event{Type: Initialized})
				close(tc.ready)
			}
		}
	}
}

// handle processes one input; an error ends the cache.
func (tc *TreeCache) handle(m *msg) error {
	switch {
	case m.start:
		tc.loading = true
		tc.schedule(job{path: tc.root, data: true, kids: kidsAlways})
	case m.ev != nil:
		ev := m.ev
		if ev.Type == keeper.EventResync {
			tc.resync()
			return nil
		}
		if !tc.wanted(ev.Path) {
			return nil
		}
		switch ev.Type {
		case keeper.EventNodeChildrenChanged:
			if tc.listsKids(ev.Path) {
				tc.schedule(job{path: ev.Path, data: true, kids: kidsAlways})
			}
		case keeper.EventNodeCreated:
			tc.schedule(job{path: ev.Path, data: true, kids: kidsAlways})
		case keeper.EventNodeDataChanged, keeper.EventNodeDeleted:
			tc.schedule(job{path: ev.Path, data: true})
		}
	case m.watchEnd != nil:
		select {
		case <-tc.stop:
			return nil // our own Close
		default:
		}
		return m.watchEnd
	case m.shot != nil:
		return tc.handleShot(m.shot)
	case m.state != nil:
		return tc.handleState(m.state)
	}
	for i, r := range m.results {
		if err := tc.finish(r); err != nil {
			m.results = m.results[i+1:]
			tc.inbox.Push(msg{results: m.results})
			return err
		}
	}
	return nil
}

func (tc *TreeCache) handleShot(s *shot) error {
	switch s.ev.Type {
	case keeper.EventNotWatching:
		if errors.Is(s.ev.Err, keeper.ErrClosed) {
			return s.ev.Err
		}
		// The session was lost: the re-read on the new one re-arms it.
		tc.forget(s)
		return nil
	case keeper.EventDataWatchRemoved, keeper.EventChildWatchRemoved:
		return nil // ours, replaced
	}
	if !tc.forget(s) {
		return nil // an older watch, already replaced
	}
	switch s.kind {
	case shotExist:
		tc.schedule(job{path: tc.root, data: true, kids: kidsAlways})
	case shotData:
		tc.schedule(job{path: s.path, data: true})
	case shotKids:
		tc.schedule(job{path: s.path, kids: kidsAlways})
	}
	return nil
}

// forget drops a fired one-shot watch from its node; false when it was
// not the node's current one.
func (tc *TreeCache) forget(s *shot) bool {
	if s.kind == shotExist {
		if tc.rootExist == s.ch {
			tc.rootExist = nil
			return true
		}
		return false
	}
	n := tc.nodes[s.path]
	switch {
	case n == nil:
	case s.kind == shotData && n.dataW == s.ch:
		n.dataW = nil
		return true
	case s.kind == shotKids && n.kidsW == s.ch:
		n.kidsW = nil
		return true
	}
	return false
}

func (tc *TreeCache) handleState(ev *keeper.StateEvent) error {
	prev := tc.lastState
	tc.lastState = ev.State
	switch ev.State {
	case keeper.Suspended:
		tc.emit(Event{Type: ConnSuspended})
	case keeper.Lost:
		tc.emit(Event{Type: ConnLost, Err: ev.Err})
	case keeper.Connected, keeper.ConnectedReadOnly:
		if prev == keeper.Suspended || prev == keeper.Lost {
			tc.emit(Event{Type: ConnReconnected})
		}
		if prev == keeper.Lost && !tc.persistent {
			// One-shot watches died with the session (the persistent
			// watcher says Resync itself).
			tc.resync()
		}
	case keeper.Closed:
		return keeper.ErrClosed
	}
	return nil
}

// resync re-reads every cached node, and the root: nodes gone give
// NodeRemoved, changed ones NodeUpdated (or NodeRemoved and NodeAdded
// when re-created), and children are listed again where the node's pzxid
// moved (with one-shot watches, everywhere, to re-arm the watches). The
// nodes whose reads are parked until their parent is in are read again
// too: a parked read may predate what happened while the events were
// missed, and the parent's listing, naming the node, would not re-read
// it.
func (tc *TreeCache) resync() {
	tc.loading = true
	paths := make([]string, 0, len(tc.nodes))
	for p := range tc.nodes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if tc.persistent {
			tc.schedule(job{path: p, data: true, kids: kidsIfChanged})
		} else {
			tc.schedule(job{path: p, data: true, kids: kidsAlways})
		}
	}
	paths = paths[:0]
	for _, kids := range tc.orphans {
		for k := range kids {
			paths = append(paths, k)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		tc.schedule(job{path: p, data: true, kids: kidsAlways})
	}
	if tc.nodes[tc.root] == nil {
		tc.schedule(job{path: tc.root, data: true, kids: kidsAlways})
	}
}

func (tc *TreeCache) inTree(p string) bool {
	return p == tc.root || tc.root == "/" || strings.HasPrefix(p, tc.root+"/")
}

// depth returns how many levels p is below the root (p in the tree).
func (tc *TreeCache) depth(p string) int {
	if p == tc.root {
		return 0
	}
	if tc.root == "/" {
		return strings.Count(p, "/")
	}
	return strings.Count(p[len(tc.root):], "/")
}

// wanted reports whether the node at p belongs in the cache: in the tree,
// within the depth limit, and kept by the filter with all its ancestors
// below the root.
func (tc *TreeCache) wanted(p string) bool {
	if !tc.inTree(p) {
		return false
	}
	if p == tc.root {
		return true
	}
	if tc.cfg.maxDepth >= 0 && tc.depth(p) > tc.cfg.maxDepth {
		return false
	}
	if tc.cfg.filter == nil {
		return true
	}
	for q := p; q != tc.root && q != "/"; q = path.Dir(q) {
		if !tc.cfg.filter(q) {
			return false
		}
	}
	return true
}

// listsKids reports whether the cache lists the children of the node at
// p: not at the depth limit.
func (tc *TreeCache) listsKids(p string) bool {
	return tc.cfg.maxDepth < 0 || tc.depth(p) < tc.cfg.maxDepth
}

// schedule asks for a read of j.path; when one is in flight, for another
// one after it (merged with any other request meanwhile).
func (tc *TreeCache) schedule(j job) {
	if f, ok := tc.reading[j.path]; ok {
		if !f.dirty {
			f.dirty, f.next = true, j
			return
		}
		f.next.data = f.next.data || j.data
		f.next.kids = max(f.next.kids, j.kids)
		return
	}
	if !tc.listsKids(j.path) {
		j.kids, j.data = kidsNo, true
	}
	tc.reading[j.path] = &flight{}
	tc.readingPeak = max(tc.readingPeak, len(tc.reading))
	tc.outstanding++
	if tc.persistent {
		j.data = true
	}
	j.size = unknownBytes
	if n := tc.nodes[j.path]; n != nil {
		j.size = int(n.stat.DataLength)
		if j.kids == kidsIfChanged {
			j.pzxid = n.listed
		}
	} else if j.kids == kidsIfChanged {
		j.kids = kidsAlways
	}
	if !tc.persistent && j.kids == kidsIfChanged {
		j.kids = kidsAlways
	}
	tc.jobs.Push(j)
}

// finish applies a read's result, then starts the read asked for meanwhile.
func (tc *TreeCache) finish(r *result) error {
	p := r.job.path
	f := tc.reading[p]
	delete(tc.reading, p)
	if len(tc.reading) == 0 && tc.readingPeak > keepReading {
		// A map never shrinks: the initial load's, which had a read
		// of every node in flight at some time, would otherwise stay
		// as large as the tree for the cache's life.
		tc.reading, tc.readingPeak = map[string]*flight{}, 0
	}
	tc.outstanding--
	if err := tc.apply(r); err != nil {
		return err
	}
	if f != nil && f.dirty {
		tc.schedule(f.next)
	}
	return nil
}

func (tc *TreeCache) apply(r *result) error {
	p := r.job.path
	if r.existW != nil {
		if tc.rootExist != nil && tc.rootExist != r.existW {
			tc.dropWatch(p, tc.rootExist)
		}
		tc.rootExist = r.existW
		tc.waitShot(p, r.existW, shotExist)
		r.existW = nil
	}
	if r.err != nil {
		tc.discard(r)
		if errors.Is(r.err, keeper.ErrClosed) {
			return r.err
		}
		// A node this client cannot read (no permission) is left out.
		tc.removeTree(p)
		return nil
	}
	if !r.exists {
		tc.discard(r)
		tc.removeTree(p)
		if p == tc.root && !tc.persistent && tc.rootExist == nil {
			// Watch for the root's creation.
			tc.schedule(job{path: p, data: true, kids: kidsAlways})
		}
		return nil
	}
	if p != tc.root {
		if parent := path.Dir(p); tc.nodes[parent] == nil {
			// Its parent is not in yet: wait for it, so that NodeAdded
			// goes top-down.
			kids := tc.orphans[parent]
			if kids == nil {
				kids = map[string]*result{}
				tc.orphans[parent] = kids
			}
			if old := kids[p]; old != nil {
				tc.discard(old)
			}
			kids[p] = r
			tc.schedule(job{path: parent, data: true, kids: kidsAlways})
			return nil
		}
	}
	old := tc.nodes[p]
	if old != nil && r.stat != nil && r.stat.Czxid != old.stat.Czxid {
		tc.removeTree(p) // deleted and created again
		old = nil
	}
	if old == nil {
		if !r.dataRead {
			tc.discard(r)
			tc.schedule(job{path: p, data: true, kids: kidsAlways})
			return nil
		}
		n := &znode{data: r.data, stat: *r.stat} // kids is made with the first child: most nodes are leaves
		tc.mu.Lock()
		tc.nodes[p] = n
		if p != tc.root {
			parent := tc.nodes[path.Dir(p)]
			if parent.kids == nil {
				parent.kids = map[string]struct{}{}
			}
			parent.kids[path.Base(p)] = struct{}{}
		}
		tc.mu.Unlock()
		tc.adopt(p, n, r)
		tc.emit(Event{Type: NodeAdded, Path: p, Data: n.data, Stat: r.stat}) // the read's own: n holds a copy
		if err := tc.unpark(p); err != nil {
			return err
		}
		if r.kidsRead {
			n.listed = n.stat.Pzxid // not r.stat's: the event's consumer owns that
			tc.diffKids(p, n, r.kids)
		} else if tc.listsKids(p) {
			tc.schedule(job{path: p, kids: kidsAlways})
		}
		return nil
	}
	var listed int64
	if r.stat != nil {
		listed = r.stat.Pzxid // r.stat may go out with an event below
	}
	if r.dataRead && r.stat.Mzxid >= old.stat.Mzxid {
		changed := r.stat.Mzxid != old.stat.Mzxid
		tc.mu.Lock()
		old.data, old.stat = r.data, *r.stat
		tc.mu.Unlock()
		if changed {
			tc.emit(Event{Type: NodeUpdated, Path: p, Data: old.data, Stat: r.stat})
		}
	}
	tc.adopt(p, old, r)
	if r.kidsRead {
		if r.stat != nil {
			old.listed = listed
		}
		tc.diffKids(p, old, r.kids)
	}
	return nil
}

// diffKids reads the listed children the cache lacks, and re-reads the
// cached ones not listed (to confirm that they are gone).
func (tc *TreeCache) diffKids(p string, n *znode, kids []string) {
	if len(kids) == 0 && len(n.kids) == 0 {
		return // a leaf still: nothing to read
	}
	listed := make(map[string]struct{}, len(kids))
	for _, k := range kids {
		if !tc.wanted(keeper.JoinPath(p, k)) {
			continue
		}
		listed[k] = struct{}{}
		if _, ok := n.kids[k]; !ok {
			tc.schedule(job{path: keeper.JoinPath(p, k), data: true, kids: kidsAlways})
		}
	}
	var gone []string
	for k := range n.kids {
		if _, ok := listed[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		tc.schedule(job{path: keeper.JoinPath(p, k), data: true})
	}
}

// unpark applies the parked reads of p's children, now that p is in.
func (tc *TreeCache) unpark(p string) error {
	kids := tc.orphans[p]
	if kids == nil {
		return nil
	}
	delete(tc.orphans, p)
	paths := make([]string, 0, len(kids))
	for k := range kids {
		paths = append(paths, k)
	}
	slices.Sort(paths)
	for _, k := range paths {
		if err := tc.apply(kids[k]); err != nil {
			return err
		}
	}
	return nil
}

// dropParked discards p's own parked read, if any (see removeTree).
func (tc *TreeCache) dropParked(p string) {
	parent := path.Dir(p)
	kids := tc.orphans[parent]
	if r := kids[p]; r != nil {
		tc.discard(r)
		delete(kids, p)
		if len(kids) == 0 {
			delete(tc.orphans, parent)
		}
	}
}

// dropOrphans discards the parked reads under p.
func (tc *TreeCache) dropOrphans(p string) {
	kids := tc.orphans[p]
	delete(tc.orphans, p)
	for k, r := range kids {
		tc.discard(r)
		tc.dropOrphans(k)
	}
}

// removeTree drops p and its cached descendants, deepest first, each with
// a NodeRemoved event. For a p not cached it discards the parked reads of
// p and under it: p was found gone (or unreadable), and an older read must
// not add it when its parent comes in.
func (tc *TreeCache) removeTree(p string) {
	n := tc.nodes[p]
	if n == nil {
		tc.dropParked(p)
		tc.dropOrphans(p)
		return
	}
	kids := make([]string, 0, len(n.kids))
	for k := range n.kids {
		kids = append(kids, k)
	}
	slices.Sort(kids)
	for _, k := range kids {
		tc.removeTree(keeper.JoinPath(p, k))
	}
	tc.dropOrphans(p)
	tc.mu.Lock()
	delete(tc.nodes, p)
	if parent := tc.nodes[path.Dir(p)]; parent != nil && p != tc.root {
		delete(parent.kids, path.Base(p))
	}
	tc.mu.Unlock()
	tc.dropWatch(p, n.dataW)
	tc.dropWatch(p, n.kidsW)
	st := n.stat
	tc.emit(Event{Type: NodeRemoved, Path: p, Data: n.data, Stat: &st})
}

// adopt makes the watches a read armed the node's own, replacing older ones.
func (tc *TreeCache) adopt(p string, n *znode, r *result) {
	if r.dataW != nil {
		if n.dataW != nil {
			tc.dropWatch(p, n.dataW)
		}
		n.dataW = r.dataW
		tc.waitShot(p, r.dataW, shotData)
		r.dataW = nil
	}
	if r.kidsW != nil {
		if n.kidsW != nil {
			tc.dropWatch(p, n.kidsW)
		}
		n.kidsW = r.kidsW
		tc.waitShot(p, r.kidsW, shotKids)
		r.kidsW = nil
	}
}

// discard removes the watches of a result that is not kept.
func (tc *TreeCache) discard(r *result) {
	p := r.job.path
	tc.dropWatch(p, r.dataW)
	tc.dropWatch(p, r.kidsW)
	tc.dropWatch(p, r.existW)
	r.dataW, r.kidsW, r.existW = nil, nil, nil
}

func (tc *TreeCache) dropWatch(p string, ch <-chan keeper.Event) {
	if ch != nil {
		tc.disarms.Push(disarm{p, ch})
	}
}

func (tc *TreeCache) emit(ev Event) { tc.events.Push(ev) }

// worker runs reads until the cache ends.
func (tc *TreeCache) worker(io context.Context) {
	defer tc.workers.Done()
	n := 1
	if tc.persistent {
		n = batchPaths
	}
	var batch []job
	for {
		batch = tc.jobs.PopN(n, batch[:0])
		if len(batch) == 0 {
			if tc.jobs.Closed() {
				return
			}
			select {
			case <-tc.jobs.Ready():
			case <-tc.stop:
				return
			}
			continue
		}
		var rs []*result
		if tc.persistent {
			rs = tc.readBatch(io, batch)
		} else {
			for _, j := range batch {
				rs = append(rs, tc.readOne(io, j))
			}
		}
		if _, ok := tc.inbox.Push(msg{results: rs}); !ok {
			var l []disarm
			for _, r := range rs {
				l = appendWatches(l, r)
			}
			tc.removeWatches(l)
		}
	}
}

// again waits before retrying a failed read: until the client is
// connected, then the backoff pause. False when the cache is ending.
func (tc *TreeCache) again(io context.Context, b *node.Backoff) bool {
	return io.Err() == nil && b.SleepConnected(io, tc.c) == nil
}

// readOne reads a node with one-shot watches: GetW for the data and
// ChildrenW for the children (ExistsW for a missing root).
func (tc *TreeCache) readOne(io context.Context, j job) *result {
	r := &result{job: j}
	var b node.Backoff
	tc.retryRead(io, r, &b, func() error { return tc.readOnce(io, r) })
	return r
}

// readOnce does what r still lacks; the watches it arms are kept in r.
func (tc *TreeCache) readOnce(io context.Context, r *result) error {
	c, p := tc.c, r.job.path
	if r.job.data && !r.dataRead {
		data, st, ch, err := c.GetW(io, p)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			if p == tc.root && r.existW == nil {
				st, ch, err := c.ExistsW(io, p)
				if err != nil {
					return err
				}
				if st != nil {
					// Created meanwhile: read it again.
					_ = c.RemoveWatch(io, p, ch)
					return tc.readOnce(io, r)
				}
				r.existW = ch
			}
			r.dataRead, r.exists = true, false
			return nil
		case err != nil:
			return err
		}
		r.dataRead, r.exists, r.data, r.stat, r.dataW = true, true, data, st, ch
	}
	if r.job.kids != kidsNo && !r.kidsRead {
		kids, st, ch, err := c.ChildrenW(io, p)
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			r.kidsRead, r.exists = true, false
			return nil
		case err != nil:
			return err
		}
		r.kidsRead, r.kids, r.kidsW = true, kids, ch
		if !r.job.data {
			r.exists, r.stat = true, st
		}
	}
	return nil
}

// readBatch reads nodes with multi-reads (the persistent watch covers
// them): MultiGet for data and Stat, then MultiChildren where needed. A
// multi-read costs one request for up to batchPaths nodes: a walk with
// GetAsync and ChildrenAsync loads a tree 10 to 12 times slower, with 5 to
// 6.5 times the client's CPU (BenchmarkTreeLoad).
func (tc *TreeCache) readBatch(io context.Context, batch []job) []*result {
	rs := make([]*result, len(batch))
	for i, j := range batch {
		rs[i] = &result{job: j}
	}
	// Cut the batch so that no reply grows too large.
	for start := 0; start < len(rs); {
		end, size := start, 0
		for end < len(rs) && (end == start || size+rs[end].job.size <= batchBytes) {
			size += rs[end].job.size
			end++
		}
		tc.readChunk(io, rs[start:end])
		start = end
	}
	return rs
}

func (tc *TreeCache) readChunk(io context.Context, rs []*result) {
	var b node.Backoff
	paths := make([]string, len(rs))
	for i, r := range rs {
		paths[i] = r.job.path
	}
	gets, err := tc.c.MultiGet(io, paths...)
	if err != nil {
		if errors.Is(err, keeper.ErrUnimplemented) && io.Err() == nil {
			// A server without multi-reads: read one by one.
			for _, r := range rs {
				tc.readSingle(io, r)
			}
			return
		}
		if io.Err() != nil || node.IsPermanent(err) || !tc.again(io, &b) {
			for _, r := range rs {
				r.err = err
				if io.Err() != nil || !node.IsPermanent(err) {
					r.err = keeper.ErrClosed
				}
			}
			return
		}
		// After a connection loss, read one by one: a too large reply
		// may have been the cause.
		for _, r := range rs {
			tc.readSingle(io, r)
		}
		return
	}
	var need []*result
	for i, g := range gets {
		r := rs[i]
		r.dataRead = true
		switch {
		case errors.Is(g.Err, keeper.ErrNoNode):
			continue
		case g.Err != nil:
			r.err = g.Err
			continue
		}
		r.exists, r.data, r.stat = true, g.Data, g.Stat
		switch {
		case r.job.kids == kidsNo, r.job.kids == kidsIfChanged && r.stat.Pzxid == r.job.pzxid:
		case r.stat.NumChildren == 0:
			r.kidsRead, r.kids = true, []string{}
		default:
			need = append(need, r)
		}
	}
	if len(need) == 0 {
		return
	}
	paths = paths[:0]
	for _, r := range need {
		paths = append(paths, r.job.path)
	}
	for {
		kids, err := tc.c.MultiChildren(io, paths...)
		if err == nil {
			for i, k := range kids {
				r := need[i]
				switch {
				case errors.Is(k.Err, keeper.ErrNoNode):
					r.exists = false // deleted since: its event follows
				case k.Err != nil:
					r.err = k.Err
				default:
					r.kidsRead, r.kids = true, k.Children
				}
			}
			return
		}
		if node.IsPermanent(err) || io.Err() != nil || !tc.again(io, &b) {
			for _, r := range need {
				r.err = keeper.ErrClosed
			}
			return
		}
	}
}

// readSingle reads one node with Get and Children.
func (tc *TreeCache) readSingle(io context.Context, r *result) {
	var b node.Backoff
	ok := tc.retryRead(io, r, &b, func() error {
		data, st, err := tc.c.Get(io, r.job.path)
		switch {
		case err == nil:
			r.dataRead, r.exists, r.data, r.stat = true, true, data, st
		case errors.Is(err, keeper.ErrNoNode):
			r.dataRead = true
		default:
			return err
		}
		return nil
	})
	if !ok || !r.exists || r.job.kids == kidsNo || r.job.kids == kidsIfChanged && r.stat.Pzxid == r.job.pzxid {
		return
	}
	tc.retryRead(io, r, &b, func() error {
		kids, err := tc.c.Children(io, r.job.path)
		switch {
		case err == nil:
			r.kidsRead, r.kids = true, kids
		case errors.Is(err, keeper.ErrNoNode):
			r.exists = false // deleted since: its event follows
		default:
			return err
		}
		return nil
	})
}

// retryRead calls read until it returns nil, and reports true then. When
// the read cannot succeed it records the error in r, and when the cache is
// ending (or the client closed) keeper.ErrClosed, and reports false.
func (tc *TreeCache) retryRead(io context.Context, r *result, b *node.Backoff, read func() error) bool {
	for {
		err := read()
		if err == nil {
			return true
		}
		switch {
		case io.Err() != nil:
			r.err = keeper.ErrClosed
			return false
		case node.IsPermanent(err):
			r.err = err
			return false
		case !tc.again(io, b):
			r.err = keeper.ErrClosed // the cache ends, or the client was closed
			return false
		}
	}
}
