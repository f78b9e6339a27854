package keeper

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/keeper-go/keeper/internal/wire"
)

type watchKind uint8

const (
	kindData   watchKind = iota // getData
	kindExists                  // exists: data watch if the node exists, else exist watch
	kindChild                   // getChildren
	kindPersistent
	kindRecursive
)

// watchReg asks the reader to register a watch when the reply succeeds.
type watchReg struct {
	kind watchKind
	path string     // client path
	ch   chan Event // one-shot
	w    *Watcher   // persistent
}

// watchRegistry holds the client's watches, keyed by client path.
type watchRegistry struct {
	c     *Client
	mu    sync.Mutex
	data  map[string][]chan Event
	exist map[string][]chan Event
	child map[string][]chan Event
	pers  map[string][]*Watcher
	rec   map[string][]*Watcher
	locks map[string]*pathLock // see lockPath
}

func (wr *watchRegistry) init(c *Client) {
	wr.c = c
	wr.data = map[string][]chan Event{}
	wr.exist = map[string][]chan Event{}
	wr.child = map[string][]chan Event{}
	wr.pers = map[string][]*Watcher{}
	wr.rec = map[string][]*Watcher{}
}

// register records a watch after its request's reply (on the reader).
func (wr *watchRegistry) register(reg *watchReg, code Code) {
	wr.mu.Lock()
	added := false
	switch reg.kind {
	case kindData:
		if code == CodeOK {
			wr.data[reg.path] = append(wr.data[reg.path], reg.ch)
			added = true
		}
	case kindExists:
		switch code {
		case CodeOK:
			wr.data[reg.path] = append(wr.data[reg.path], reg.ch)
			added = true
		case CodeNoNode:
			wr.exist[reg.path] = append(wr.exist[reg.path], reg.ch)
			added = true
		}
	case kindChild:
		if code == CodeOK {
			wr.child[reg.path] = append(wr.child[reg.path], reg.ch)
			added = true
		}
	case kindPersistent, kindRecursive:
		if code == CodeOK {
			m := wr.pers
			if reg.kind == kindRecursive {
				m = wr.rec
			}
			known := false
			for _, w := range m[reg.path] {
				known = known || w == reg.w
			}
			switch {
			case known:
			case reg.w.isEnded():
				// Its Watch call gave up: remove what the server added.
				defer wr.releaseLater(reg.path, reg.kind == kindRecursive)
			default:
				m[reg.path] = append(m[reg.path], reg.w)
				added = true
			}
		}
	}
	clobbered := added && wr.clobbersLocked(reg.kind, reg.path)
	wr.mu.Unlock()
	if clobbered && modesInterfere(wr.c.ServerVersion()) {
		// The reply's zxid, noted by the reader just before.
		wr.repair(reg.path, wr.c.lastZxid.Load())
	}
}

// modesInterfere reports whether server v keeps a single watch mode per
// path and connection, so that a one-shot watch set on a path replaces a
// persistent one there, and removing one-shot watches removes persistent
// ones (ZooKeeper before 3.9: ZOOKEEPER-4466, ZOOKEEPER-4471). An unknown
// version is taken to be old.
func modesInterfere(v Version) bool { return !v.AtLeast(3, 9, 0) }

// clobbersLocked reports whether the server, keeping one mode per path
// and connection, lost a persistent watch of ours at path when it
// registered a watch of kind there: a one-shot data or exist watch
// replaces a persistent or recursive one (they share the server's data
// watch table), a one-shot child watch a persistent one (recursive
// watches are not in the child table), and a persistent watch a
// recursive one. Caller holds wr.mu.
func (wr *watchRegistry) clobbersLocked(kind watchKind, path string) bool {
	pers, rec := len(wr.pers[path]) > 0, len(wr.rec[path]) > 0
	switch kind {
	case kindData, kindExists:
		return pers || rec
	case kindChild:
		return pers
	case kindPersistent:
		return rec
	}
	return false
}

// errRearmed is the cause in the EventResync a persistent watcher gets
// when its server-side watch had to be re-added.
var errRearmed = errors.New("keeper: persistent watch re-added after another watch on the same path replaced it " +
	"(ZooKeeper before 3.9 keeps one watch mode per path); changes may have been missed")

// repair re-adds the persistent and recursive watches at path after the
// server replaced them (see clobbersLocked), persistent first so that the
// recursive mode wins in the server's data watch table. It runs on the
// reader and only queues requests. When the server committed anything
// after from (the zxid at which the watch was replaced) and before the
// re-add, the watchers at path may have missed an event: they get
// EventResync. A watcher closed meanwhile has its server-side watch
// removed again.
func (wr *watchRegistry) repair(path string, from int64) {
	c := wr.c
	wr.mu.Lock()
	var modes []int32
	if len(wr.pers[path]) > 0 {
		modes = append(modes, int32(wire.AddWatchPersistent))
	}
	if len(wr.rec[path]) > 0 {
		modes = append(modes, int32(wire.AddWatchPersistentRecursive))
	}
	wr.mu.Unlock()
	for i, mode := range modes {
		r := newRequest(wire.OpAddWatch, &wire.AddWatchRequest{Path: c.root.add(path), Mode: mode}, &wire.ErrorResponse{})
		last := i == len(modes)-1
		r.onDone = func(r *request) {
			if r.err != nil {
				return // not sent, or the connection dropped: restore re-adds it
			}
			recursive := mode == int32(wire.AddWatchPersistentRecursive)
			wr.mu.Lock()
			gone := len(wr.pers[path]) == 0
			if recursive {
				gone = len(wr.rec[path]) == 0
			}
			wr.mu.Unlock()
			if gone && r.code == CodeOK {
				wr.releaseLater(path, recursive) // closed while we re-added it
			}
			if r.code != CodeOK {
				c.log.Warn("re-adding a persistent watch failed", slog.String("path", path),
					slog.Any("err", &Error{Op: "addWatch", Path: path, Code: r.code}))
			}
			if last && (r.zxid > from || r.code != CodeOK) {
				wr.resync(path, errRearmed)
			}
		}
		if err := c.enqueue(r); err != nil {
			return
		}
	}
}

// releaseLater runs release on a goroutine of its own. It is called on
// the reader, while the session loop is counted in the client's wg, so the
// Add cannot race with Close's Wait.
func (wr *watchRegistry) releaseLater(path string, recursive bool) {
	wr.c.wg.Add(1)
	go func() {
		defer wr.c.wg.Done()
		_ = wr.release(path, recursive)
	}()
}

// resync sends EventResync, with cause, to every watcher at path.
func (wr *watchRegistry) resync(path string, cause error) {
	wr.mu.Lock()
	ws := append(append([]*Watcher(nil), wr.pers[path]...), wr.rec[path]...)
	wr.mu.Unlock()
	for _, w := range ws {
		w.deliver(Event{Type: EventResync, Path: path, Zxid: -1, Err: cause})
	}
}

// unwatch removes the server-side persistent (or recursive) watch at
// path once no Watcher uses it. From ZooKeeper 3.9 it removes just that
// mode. Before, only WatcherAny removes a persistent watch, and it
// removes every watch of ours at path: what the client still watches
// there is set again with SetWatches, relative to the removal's zxid, so
// the server replays what changed in between to the one-shot watches,
// and the remaining watchers get EventResync when anything did.
func (wr *watchRegistry) unwatch(path string, recursive bool) error {
	c := wr.c
	ctx, cancel := context.WithTimeout(c.baseCtx, c.SessionTimeout())
	defer cancel()
	ignore := func(err error) bool {
		return err == nil || errors.Is(err, ErrNoWatcher) || errors.Is(err, ErrClosed) || errors.Is(err, ErrSessionExpired)
	}
	wr.mu.Lock()
	inUse := recursive && len(wr.rec[path]) > 0 || !recursive && len(wr.pers[path]) > 0
	wr.mu.Unlock()
	if inUse {
		return nil // a new watcher came meanwhile
	}
	if !modesInterfere(c.ServerVersion()) {
		wt := int32(wire.WatcherPersistent)
		if recursive {
			wt = int32(wire.WatcherPersistentRecursive)
		}
		_, err := c.call(ctx, wire.OpRemoveWatches, "removeWatches", path,
			&wire.RemoveWatchesRequest{Path: c.root.add(path), Type: wt}, nil, nil)
		if ignore(err) {
			return nil
		}
		return err
	}
	zxid, err := c.call(ctx, wire.OpRemoveWatches, "removeWatches", path,
		&wire.RemoveWatchesRequest{Path: c.root.add(path), Type: int32(wire.WatcherAny)}, nil, nil)
	if err != nil {
		if ignore(err) {
			return nil
		}
		return err
	}
	wr.mu.Lock()
	sw := &wire.SetWatches2{RelativeZxid: zxid, DataWatches: []string{}, ExistWatches: []string{},
		ChildWatches: []string{}, PersistentWatches: []string{}, PersistentRecursiveWatches: []string{}}
	full := c.root.add(path)
	pick := func(l []string, n int) []string {
		if n > 0 {
			return append(l, full)
		}
		return l
	}
	sw.DataWatches = pick(sw.DataWatches, len(wr.data[path]))
	sw.ExistWatches = pick(sw.ExistWatches, len(wr.exist[path]))
	sw.ChildWatches = pick(sw.ChildWatches, len(wr.child[path]))
	sw.PersistentWatches = pick(sw.PersistentWatches, len(wr.pers[path]))
	sw.PersistentRecursiveWatches = pick(sw.PersistentRecursiveWatches, len(wr.rec[path]))
	wr.mu.Unlock()
	persistent := len(sw.PersistentWatches)+len(sw.PersistentRecursiveWatches) > 0
	if len(sw.DataWatches)+len(sw.ExistWatches)+len(sw.ChildWatches) == 0 && !persistent {
		return nil
	}
	var rearm int64
	if persistent {
		rearm, err = c.call(ctx, wire.OpSetWatches2, "setWatches", path, sw, nil, nil)
	} else {
		rearm, err = c.call(ctx, wire.OpSetWatches, "setWatches", path, &wire.SetWatches{RelativeZxid: zxid,
			DataWatches: sw.DataWatches, ExistWatches: sw.ExistWatches, ChildWatches: sw.ChildWatches}, nil, nil)
	}
	if err != nil {
		if ignore(err) {
			return nil
		}
		return err
	}
	if persistent && rearm > zxid {
		wr.resync(path, errRearmed)
	}
	return nil
}

// fire sends ev to each one-shot channel and closes it.
func fire(chs []chan Event, ev Event) {
	for _, ch := range chs {
		ch <- ev
		close(ch)
	}
}

// dispatch routes a server event to the watches it fires, in wire order.
func (wr *watchRegistry) dispatch(ev Event) {
	var shots []chan Event
	var ws []*Watcher
	p := ev.Path
	switch ev.Type {
	case EventNodeCreated, EventNodeDeleted, EventNodeDataChanged, EventNodeChildrenChanged:
	default:
		return // nothing a server should send; no watch expects it
	}
	wr.mu.Lock()
	take := func(m map[string][]chan Event) {
		if l, ok := m[p]; ok {
			shots = append(shots, l...)
			delete(m, p)
		}
	}
	switch ev.Type {
	case EventNodeCreated, EventNodeDataChanged:
		take(wr.data)
		take(wr.exist)
	case EventNodeChildrenChanged:
		take(wr.child)
	case EventNodeDeleted:
		take(wr.data)
		take(wr.exist)
		take(wr.child)
	}
	ws = append(ws, wr.pers[p]...)
	if ev.Type != EventNodeChildrenChanged {
		for a := p; ; a = parentPath(a) {
			ws = append(ws, wr.rec[a]...)
			if a == "/" {
				break
			}
		}
	}
	wr.mu.Unlock()
	fire(shots, ev)
	for _, w := range ws {
		w.deliver(ev)
	}
}

// endShots ends every one-shot watch with an EventNotWatching event.
func (wr *watchRegistry) endShots(cause error) {
	wr.mu.Lock()
	var all []chan Event
	for _, m := range []map[string][]chan Event{wr.data, wr.exist, wr.child} {
		for p, l := range m {
			all = append(all, l...)
			delete(m, p)
		}
	}
	wr.mu.Unlock()
	fire(all, Event{Type: EventNotWatching, Zxid: -1, Err: cause})
}

// sessionLost ends one-shot watches: the server forgot them with the
// session. Persistent watchers stay, to be re-added on the next session.
// (A dropped connection changes nothing here: watches stay registered and
// restore sets them again on the next connection.)
func (wr *watchRegistry) sessionLost(cause error) { wr.endShots(cause) }

// closeAll ends every watch when the client closes.
func (wr *watchRegistry) closeAll(cause error) {
	wr.endShots(cause)
	wr.mu.Lock()
	var ws []*Watcher
	for _, m := range []map[string][]*Watcher{wr.pers, wr.rec} {
		for p, l := range m {
			ws = append(ws, l...)
			delete(m, p)
		}
	}
	wr.mu.Unlock()
	for _, w := range ws {
		w.end(cause)
	}
}

// setWatchesBatch is the summed path length at which a SetWatches batch is
// cut, as the Java client does.
const setWatchesBatch = 128 << 10

// restore builds the requests that re-establish the watches on a new
// connection, written before any caller's request (see serve).
func (wr *watchRegistry) restore(cn *conn) []*request {
	if cn.newSession {
		return wr.restoreNewSession()
	}
	return wr.restoreResumed(cn)
}

// restoreNewSession handles a connection that opened a new session: the
// server holds none of our watches. One-shot watches end (the changes
// they waited for may have happened unseen); each persistent watcher is
// added again with AddWatch and gets EventResync (Err ErrSessionExpired)
// once re-armed, or ends with the server's error.
func (wr *watchRegistry) restoreNewSession() []*request {
	c := wr.c
	wr.endShots(ErrSessionExpired)
	wr.mu.Lock()
	defer wr.mu.Unlock()
	var reqs []*request
	for _, kind := range []watchKind{kindPersistent, kindRecursive} {
		m := wr.pers
		mode := int32(wire.AddWatchPersistent)
		if kind == kindRecursive {
			m, mode = wr.rec, int32(wire.AddWatchPersistentRecursive)
		}
		for p, ws := range m {
			ws := append([]*Watcher(nil), ws...)
			r := newRequest(wire.OpAddWatch, &wire.AddWatchRequest{Path: c.root.add(p), Mode: mode}, &wire.ErrorResponse{})
			r.onDone = func(r *request) {
				var err error
				if r.err != nil {
					return // connection lost again: retried on the next one
				}
				if r.code != CodeOK {
					err = &Error{Op: "addWatch", Path: p, Code: r.code}
				}
				for _, w := range ws {
					if err != nil {
						w.end(err)
					} else {
						w.deliver(Event{Type: EventResync, Path: w.path, Zxid: -1, Err: ErrSessionExpired})
					}
				}
			}
			reqs = append(reqs, r)
		}
	}
	return reqs
}

// restoreResumed handles a connection that resumed the session: the
// watches are set again with SetWatches (SetWatches2 when persistent ones
// are among them), in batches, relative to the last zxid seen, so the
// server fires at once the one-shot watches whose change happened while
// we were away. Persistent watchers get EventResync once the last batch
// is accepted, since the server does not replay changes to them. A batch
// the server refuses drops the connection, so the next one tries again.
func (wr *watchRegistry) restoreResumed(cn *conn) []*request {
	c := wr.c
	wr.mu.Lock()
	defer wr.mu.Unlock()
	var reqs []*request
	keys := func(m map[string][]chan Event) []string {
		out := make([]string, 0, len(m))
		for p := range m {
			out = append(out, c.root.add(p))
		}
		return out
	}
	wkeys := func(m map[string][]*Watcher) []string {
		out := make([]string, 0, len(m))
		for p := range m {
			out = append(out, c.root.add(p))
		}
		return out
	}
	data, exist, child := keys(wr.data), keys(wr.exist), keys(wr.child)
	pers, rec := wkeys(wr.pers), wkeys(wr.rec)
	var resync []*Watcher
	for _, m := range []map[string][]*Watcher{wr.pers, wr.rec} {
		for _, l := range m {
			resync = append(resync, l...)
		}
	}
	if len(data)+len(exist)+len(child)+len(pers)+len(rec) == 0 {
		return nil
	}
	zxid := c.lastZxid.Load()
	lists := [][]string{data, exist, child, pers, rec}
	for len(lists[0])+len(lists[1])+len(lists[2])+len(lists[3])+len(lists[4]) > 0 {
		batch, frame := cutWatchBatch(lists)
		var body wire.Record
		op := wire.OpSetWatches
		if len(batch[3])+len(batch[4]) > 0 {
			op = wire.OpSetWatches2
			body = &wire.SetWatches2{RelativeZxid: zxid, DataWatches: nonNil(batch[0]), ExistWatches: nonNil(batch[1]),
				ChildWatches: nonNil(batch[2]), PersistentWatches: nonNil(batch[3]), PersistentRecursiveWatches: nonNil(batch[4])}
		} else {
			body = &wire.SetWatches{RelativeZxid: zxid, DataWatches: nonNil(batch[0]), ExistWatches: nonNil(batch[1]), ChildWatches: nonNil(batch[2])}
		}
		r := newRequestSized(op, body, nil, frame)
		r.onDone = func(r *request) {
			if r.err == nil && r.code != CodeOK {
				c.log.Warn("restoring watches failed", slog.String("server", cn.addr), slog.Any("err", &Error{Op: "setWatches", Code: r.code}))
				// Drop the connection: the next one tries again.
				cn.fail(&Error{Op: "setWatches", Code: r.code})
			}
		}
		reqs = append(reqs, r)
	}
	if len(resync) > 0 && len(reqs) > 0 {
		last := reqs[len(reqs)-1]
		prev := last.onDone
		last.onDone = func(r *request) {
			prev(r)
			if r.err == nil && r.code == CodeOK {
				for _, w := range resync {
					w.deliver(Event{Type: EventResync, Path: w.path, Zxid: -1})
				}
			}
		}
	}
	return reqs
}

// cutWatchBatch takes the next SetWatches batch off lists: consecutive
// paths of each list in turn (subslices, not copies) until their summed
// length reaches setWatchesBatch. It returns the batch and the size its
// frame takes at most, so that the frame is allocated once at that size:
// grown by doubling, a restore's frames cost three times their size, and
// the collections that garbage set off cost more CPU than the rest of
// the restore.
func cutWatchBatch(lists [][]string) (batch [5][]string, frame int) {
	size := 0
	frame = 12 + 8 + 4*len(lists) // length, xid, opcode; zxid; a count per list
	for i := range lists {
		k := 0
		for k < len(lists[i]) && size < setWatchesBatch {
			size += len(lists[i][k])
			frame += 4 + len(lists[i][k])
			k++
		}
		batch[i], lists[i] = lists[i][:k:k], lists[i][k:]
	}
	return batch, frame
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// release removes the server-side persistent (or recursive) watch at path
// unless a Watcher uses it again, under the path's lock (see lockPath).
func (wr *watchRegistry) release(path string, recursive bool) error {
	ctx, cancel := context.WithTimeout(wr.c.baseCtx, wr.c.SessionTimeout())
	defer cancel()
	unlock, err := wr.lockPath(ctx, path)
	if err != nil {
		return nil // the client is closing: the watch ends with the session
	}
	defer unlock()
	return wr.unwatch(path, recursive)
}

// lockPath serializes adding and removing persistent watches at path, so
// that a removal never overtakes, on the wire, the addition of a watcher
// that came meanwhile. It fails when ctx ends first.
func (wr *watchRegistry) lockPath(ctx context.Context, path string) (unlock func(), err error) {
	wr.mu.Lock()
	if wr.locks == nil {
		wr.locks = map[string]*pathLock{}
	}
	l := wr.locks[path]
	if l == nil {
		l = &pathLock{ch: make(chan struct{}, 1)}
		wr.locks[path] = l
	}
	l.users++
	wr.mu.Unlock()
	release := func() {
		wr.mu.Lock()
		if l.users--; l.users == 0 {
			delete(wr.locks, path)
		}
		wr.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// pathLock is a lock for one path that a waiter can give up on.
type pathLock struct {
	ch    chan struct{} // holds a token while locked
	users int           // holders and waiters; guarded by watchRegistry.mu
}
