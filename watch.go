package keeper

import (
	"context"
	"errors"
	"fmt"
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
	defer wr.mu.Unlock()
	switch reg.kind {
	case kindData:
		if code == CodeOK {
			wr.data[reg.path] = append(wr.data[reg.path], reg.ch)
		}
	case kindExists:
		switch code {
		case CodeOK:
			wr.data[reg.path] = append(wr.data[reg.path], reg.ch)
		case CodeNoNode:
			wr.exist[reg.path] = append(wr.exist[reg.path], reg.ch)
		}
	case kindChild:
		if code == CodeOK {
			wr.child[reg.path] = append(wr.child[reg.path], reg.ch)
		}
	case kindPersistent, kindRecursive:
		if code == CodeOK {
			m := wr.pers
			if reg.kind == kindRecursive {
				m = wr.rec
			}
			for _, w := range m[reg.path] {
				if w == reg.w {
					return // re-armed after a reconnect: already there
				}
			}
			if !reg.w.isEnded() {
				m[reg.path] = append(m[reg.path], reg.w)
			}
		}
	}
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
func (wr *watchRegistry) sessionLost(cause error) { wr.endShots(cause) }

// suspended is called when the connection drops; watches stay registered.
func (wr *watchRegistry) suspended() {}

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

// restore builds the requests that re-establish watches on a new
// connection: SetWatches batches (with the last zxid, so the server
// replays missed changes) on a resumed session, AddWatch for persistent
// watchers on a new session. Persistent watchers get EventResync once
// re-armed.
func (wr *watchRegistry) restore(cn *conn) []*request {
	c := wr.c
	if cn.newSession {
		wr.endShots(ErrSessionExpired)
	}
	wr.mu.Lock()
	defer wr.mu.Unlock()
	var reqs []*request
	if cn.newSession {
		for _, kind := range []watchKind{kindPersistent, kindRecursive} {
			m := wr.pers
			mode := int32(wire.AddWatchPersistent)
			if kind == kindRecursive {
				m, mode = wr.rec, int32(wire.AddWatchPersistentRecursive)
			}
			for p, ws := range m {
				ws := append([]*Watcher(nil), ws...)
				r := newRequest(wire.OpAddWatch, &wire.AddWatchRequest{Path: c.root.add(p), Mode: mode}, &wire.ErrorResponse{})
				r.internal = true
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
		var batch [5][]string
		size := 0
		for i := range lists {
			for len(lists[i]) > 0 && size < setWatchesBatch {
				batch[i] = append(batch[i], lists[i][0])
				size += len(lists[i][0])
				lists[i] = lists[i][1:]
			}
		}
		var body wire.Record
		op := wire.OpSetWatches
		if len(batch[3])+len(batch[4]) > 0 {
			op = wire.OpSetWatches2
			body = &wire.SetWatches2{RelativeZxid: zxid, DataWatches: nonNil(batch[0]), ExistWatches: nonNil(batch[1]),
				ChildWatches: nonNil(batch[2]), PersistentWatches: nonNil(batch[3]), PersistentRecursiveWatches: nonNil(batch[4])}
		} else {
			body = &wire.SetWatches{RelativeZxid: zxid, DataWatches: nonNil(batch[0]), ExistWatches: nonNil(batch[1]), ChildWatches: nonNil(batch[2])}
		}
		r := newRequest(op, body, nil)
		r.internal = true
		r.onDone = func(r *request) {
			if r.err == nil && r.code != CodeOK {
				c.log.Warn("restoring watches failed", slog.String("server", cn.addr), slog.Any("err", &Error{Op: "setWatches", Code: r.code}))
				// Drop the connection: the next one tries again.
				go cn.fail(&Error{Op: "setWatches", Code: r.code})
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Watcher receives the events of a persistent (or persistent recursive)
// watch, in order, through an unbounded queue. Create one with
// Client.Watch; Close it when done.
type Watcher struct {
	c         *Client
	path      string
	recursive bool
	q         *queue[Event]
	out       chan Event
	stop      chan struct{}
	stopOnce  sync.Once
	mu        sync.Mutex
	err       error
}

// Events returns the channel of events. It is closed when the watcher ends
// (Close, client closed, too slow a consumer); Err then says why.
func (w *Watcher) Events() <-chan Event { return w.out }

// Path returns the watched path.
func (w *Watcher) Path() string { return w.path }

// Err returns why the watcher ended: ErrClosed after Close or when the
// client closed, ErrSlowConsumer when it fell behind WithMaxQueued, or a
// server error. nil while it runs.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Watcher) isEnded() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// deliver queues an event; it never blocks.
func (w *Watcher) deliver(ev Event) {
	n := w.q.push(ev)
	if max := w.c.cfg.maxQueued; max > 0 && n > max {
		w.c.log.Warn("watcher too slow; ending it", slog.String("path", w.path), slog.Int("backlog", n))
		go w.closeWith(ErrSlowConsumer)
	}
}

// end stops the watcher with err, dropping undelivered events.
func (w *Watcher) end(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.q.close()
	w.stopOnce.Do(func() { close(w.stop) })
}

// pump moves events from the queue to the channel.
func (w *Watcher) pump() {
	defer w.c.wg.Done()
	defer close(w.out)
	for {
		ev, ok := w.q.pop()
		if !ok {
			if w.q.isClosed() {
				return
			}
			select {
			case <-w.q.signal:
				continue
			case <-w.stop:
				return
			}
		}
		select {
		case w.out <- ev:
		case <-w.stop:
			return
		}
	}
}

// Close removes the watch; the server-side watch is removed once no other
// Watcher of this client watches the same path in the same mode. It
// returns nil, or the error of removing the server-side watch.
func (w *Watcher) Close() error { return w.closeWith(ErrClosed) }

func (w *Watcher) closeWith(cause error) error {
	c := w.c
	wr := &c.watches
	wr.mu.Lock()
	m := wr.pers
	if w.recursive {
		m = wr.rec
	}
	l := m[w.path]
	found := false
	for i, x := range l {
		if x == w {
			l = append(l[:i:i], l[i+1:]...)
			found = true
			break
		}
	}
	if len(l) == 0 {
		delete(m, w.path)
	} else {
		m[w.path] = l
	}
	last := found && len(l) == 0
	others := len(wr.data[w.path])+len(wr.exist[w.path])+len(wr.child[w.path]) > 0
	if w.recursive {
		others = others || len(wr.pers[w.path]) > 0
	} else {
		others = others || len(wr.rec[w.path]) > 0
	}
	wr.mu.Unlock()
	w.end(cause)
	if !last {
		return nil
	}
	v := c.ServerVersion()
	wt := int32(wire.WatcherAny)
	if v.AtLeast(3, 9, 0) {
		wt = int32(wire.WatcherPersistent)
		if w.recursive {
			wt = int32(wire.WatcherPersistentRecursive)
		}
	} else if others {
		// Before 3.9 a persistent watch can only be removed together with
		// every other watch on the path; keep it: events for it are
		// ignored locally.
		return nil
	}
	ctx, cancel := context.WithTimeout(c.baseCtx, c.SessionTimeout())
	defer cancel()
	_, err := c.call(ctx, wire.OpRemoveWatches, "removeWatches", w.path,
		&wire.RemoveWatchesRequest{Path: c.root.add(w.path), Type: wt}, nil, nil)
	if err == nil || errors.Is(err, ErrNoWatcher) || errors.Is(err, ErrClosed) || errors.Is(err, ErrSessionExpired) {
		return nil
	}
	return err
}

// Watch adds a persistent watch on path (ZooKeeper 3.6+): every change of
// the node (recursive false) or of the node and all its descendants
// (recursive true; NodeChildrenChanged is not reported then) is delivered
// on the Watcher's channel, in order, until Close. After a reconnect the
// watch is re-armed and an EventResync event tells the consumer to re-read
// (the server does not replay what changed meanwhile); after a session
// loss it is re-added on the new session, also with EventResync. Against a
// server older than 3.6 it returns ErrUnimplemented without sending
// anything.
func (c *Client) Watch(ctx context.Context, path string, recursive bool) (*Watcher, error) {
	if err := validatePath(path, false); err != nil {
		return nil, err
	}
	if err := c.requireVersion("addWatch", path, 3, 6, 0); err != nil {
		return nil, err
	}
	w := &Watcher{c: c, path: path, recursive: recursive, q: newQueue[Event](),
		out: make(chan Event), stop: make(chan struct{})}
	kind, mode := kindPersistent, int32(wire.AddWatchPersistent)
	if recursive {
		kind, mode = kindRecursive, int32(wire.AddWatchPersistentRecursive)
	}
	_, err := c.call(ctx, wire.OpAddWatch, "addWatch", path,
		&wire.AddWatchRequest{Path: c.root.add(path), Mode: mode}, &wire.ErrorResponse{}, &watchReg{kind: kind, path: path, w: w})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.state == Closed {
		c.mu.Unlock()
		w.end(ErrClosed)
		close(w.out)
		return nil, ErrClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go w.pump()
	return w, nil
}

// requireVersion fails an operation the connected server is known to lack.
func (c *Client) requireVersion(op, path string, major, minor, patch int) error {
	v := c.ServerVersion()
	if v.IsZero() || v.AtLeast(major, minor, patch) {
		return nil
	}
	return &requestError{err: fmt.Errorf("keeper: %s %s: server %s lacks it (needs %d.%d.%d): %w",
		op, path, v, major, minor, patch, ErrUnimplemented)}
}

// WatchKind selects the one-shot watches RemoveWatches and CheckWatches
// act on.
type WatchKind int32

// Kinds of one-shot watch.
const (
	WatchChildren WatchKind = 1 // getChildren watches
	WatchData     WatchKind = 2 // getData and exists watches
	WatchAny      WatchKind = 3 // all of them (and, before ZooKeeper 3.9, persistent watches too)
)

// RemoveWatches removes this client's one-shot watches of kind on path,
// on the server and locally: each removed watch receives an
// EventDataWatchRemoved or EventChildWatchRemoved event and its channel is
// closed. It returns ErrNoWatcher when there is none.
func (c *Client) RemoveWatches(ctx context.Context, path string, kind WatchKind) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	_, err := c.call(ctx, wire.OpRemoveWatches, "removeWatches", path,
		&wire.RemoveWatchesRequest{Path: c.root.add(path), Type: int32(kind)}, nil, nil)
	if err != nil {
		return err
	}
	wr := &c.watches
	var dataShots, childShots []chan Event
	wr.mu.Lock()
	if kind == WatchData || kind == WatchAny {
		dataShots = append(append(dataShots, wr.data[path]...), wr.exist[path]...)
		delete(wr.data, path)
		delete(wr.exist, path)
	}
	if kind == WatchChildren || kind == WatchAny {
		childShots = append(childShots, wr.child[path]...)
		delete(wr.child, path)
	}
	wr.mu.Unlock()
	fire(dataShots, Event{Type: EventDataWatchRemoved, Path: path, Zxid: -1})
	fire(childShots, Event{Type: EventChildWatchRemoved, Path: path, Zxid: -1})
	return nil
}

// CheckWatches reports (nil) whether the server holds a watch of kind on
// path for this client, or returns ErrNoWatcher.
func (c *Client) CheckWatches(ctx context.Context, path string, kind WatchKind) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	_, err := c.call(ctx, wire.OpCheckWatches, "checkWatches", path,
		&wire.CheckWatchesRequest{Path: c.root.add(path), Type: int32(kind)}, nil, nil)
	return err
}
