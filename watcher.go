package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/keeper-go/keeper/internal/queue"
	"github.com/keeper-go/keeper/internal/wire"
)

// Watcher receives the events of a persistent (or persistent recursive)
// watch, in order, through an unbounded queue. Create one with
// Client.Watch; Close it when done.
type Watcher struct {
	c         *Client
	path      string
	recursive bool
	q         *queue.Queue[Event]
	out       chan Event
	stop      chan struct{}
	stopOnce  sync.Once
	slow      atomic.Bool // ended by deliver for falling behind
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

// deliver queues an event; it never blocks. A watcher whose backlog
// passes WithMaxQueued ends with ErrSlowConsumer at once (later events are
// refused), and its server-side watch is removed in the background.
func (w *Watcher) deliver(ev Event) {
	n, ok := w.q.Push(ev)
	if ok {
		w.c.cfg.metrics.backlog(ConsumerWatcher, n)
	}
	if max := w.c.cfg.maxQueued; max > 0 && n > max && w.slow.CompareAndSwap(false, true) {
		w.c.log.Warn("watcher too slow; ending it", slog.String("path", w.path), slog.Int("backlog", n))
		w.end(ErrSlowConsumer)
		w.c.cfg.metrics.slow(ConsumerWatcher)
		// deliver runs on the reader, while the session loop is counted
		// in wg, so this Add cannot race with Close's Wait.
		w.c.wg.Add(1)
		go func() {
			defer w.c.wg.Done()
			_ = w.closeWith(ErrSlowConsumer)
		}()
	}
}

// end stops the watcher with err, dropping undelivered events.
func (w *Watcher) end(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.q.Close()
	w.stopOnce.Do(func() { close(w.stop) })
}

// pump moves events from the queue to the channel.
func (w *Watcher) pump() {
	defer w.c.wg.Done()
	defer close(w.out)
	w.q.Run(w.stop, func(ev Event) bool {
		select {
		case w.out <- ev:
			return true
		case <-w.stop:
			return false
		}
	})
}

// Close removes the watch; the server-side watch is removed once no other
// Watcher of this client watches the same path in the same mode. It
// returns nil, or the error of removing the server-side watch.
func (w *Watcher) Close() error { return w.closeWith(ErrClosed) }

func (w *Watcher) closeWith(cause error) error {
	wr := &w.c.watches
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
	wr.mu.Unlock()
	w.end(cause)
	if !last {
		return nil
	}
	return wr.release(w.path, w.recursive)
}

// Watch adds a persistent watch on path (ZooKeeper 3.6+): every change of
// the node (recursive false) or of the node and all its descendants
// (recursive true; NodeChildrenChanged is not reported then) is delivered
// on the Watcher's channel, in order, until Close. After a reconnect the
// watch is re-armed and an EventResync event tells the consumer to re-read
// (the server does not replay what changed meanwhile); after a session
// loss it is re-added on the new session, also with EventResync. Against a
// server older than 3.6 it returns ErrUnimplemented without sending
// anything. Adding the watch is retried on connection loss, like a read;
// ctx bounds the call.
//
// Before ZooKeeper 3.9 the server keeps one watch per path and connection,
// so a one-shot watch (GetW, ExistsW, ChildrenW) set on the very path of a
// persistent watch replaces it there. The client then adds the persistent
// watch again at once; if anything was committed on the server in between,
// the Watcher gets EventResync (Err says why), since a change may have
// been missed.
func (c *Client) Watch(ctx context.Context, path string, recursive bool) (*Watcher, error) {
	if err := validatePath(path, false); err != nil {
		return nil, err
	}
	if err := c.requireVersion("addWatch", path, 3, 6, 0); err != nil {
		return nil, err
	}
	w := &Watcher{c: c, path: path, recursive: recursive, q: queue.New[Event](),
		out: make(chan Event), stop: make(chan struct{})}
	kind, mode := kindPersistent, int32(wire.AddWatchPersistent)
	if recursive {
		kind, mode = kindRecursive, int32(wire.AddWatchPersistentRecursive)
	}
	unlock, err := c.watches.lockPath(ctx, path)
	if err != nil {
		return nil, ctxError(ctx, "addWatch", path, false)
	}
	// Adding a watch is idempotent: retried like a read.
	var rs retryState
	for {
		_, err = c.call(ctx, wire.OpAddWatch, "addWatch", path,
			&wire.AddWatchRequest{Path: c.root.add(path), Mode: mode}, &wire.ErrorResponse{}, &watchReg{kind: kind, path: path, w: w})
		if err == nil || !c.cfg.retry.again(ctx, &rs, err) {
			break
		}
	}
	unlock()
	if err != nil {
		// The reply of an abandoned attempt may still register it.
		_ = w.closeWith(err)
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
	WatchAny      WatchKind = 3 // both
)

// RemoveWatches removes this client's one-shot watches of kind on path,
// on the server and locally: each removed watch receives an
// EventDataWatchRemoved or EventChildWatchRemoved event and its channel is
// closed. It returns ErrNoWatcher, without asking the server, when the
// client has no such watch. Persistent watchers (Watch) are never
// affected; before ZooKeeper 3.9, where the server keeps one watch per path
// that a removal would take from them too, the one-shot watches they cover
// are only removed locally.
func (c *Client) RemoveWatches(ctx context.Context, path string, kind WatchKind) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	if kind != WatchData && kind != WatchChildren && kind != WatchAny {
		return fmt.Errorf("keeper: removeWatches %s: WatchKind(%d): %w", path, kind, ErrBadArguments)
	}
	wr := &c.watches
	wr.mu.Lock()
	data := kind&WatchData != 0 && len(wr.data[path])+len(wr.exist[path]) > 0
	child := kind&WatchChildren != 0 && len(wr.child[path]) > 0
	pers, rec := len(wr.pers[path]) > 0, len(wr.rec[path]) > 0
	wr.mu.Unlock()
	if !data && !child {
		return &Error{Op: "removeWatches", Path: path, Code: CodeNoWatcher}
	}
	var onServer WatchKind
	old := modesInterfere(c.ServerVersion())
	if data && !(old && (pers || rec)) {
		onServer |= WatchData
	}
	if child && !(old && pers) {
		onServer |= WatchChildren
	}
	if onServer != 0 {
		_, err := c.call(ctx, wire.OpRemoveWatches, "removeWatches", path,
			&wire.RemoveWatchesRequest{Path: c.root.add(path), Type: int32(onServer)}, nil, nil)
		// ErrNoWatcher: the watch fired meanwhile, its event on the way.
		if err != nil && !errors.Is(err, ErrNoWatcher) {
			return err
		}
	}
	var dataShots, childShots []chan Event
	wr.mu.Lock()
	if kind&WatchData != 0 {
		dataShots = append(append(dataShots, wr.data[path]...), wr.exist[path]...)
		delete(wr.data, path)
		delete(wr.exist, path)
	}
	if kind&WatchChildren != 0 {
		childShots = append(childShots, wr.child[path]...)
		delete(wr.child, path)
	}
	wr.mu.Unlock()
	fire(dataShots, Event{Type: EventDataWatchRemoved, Path: path, Zxid: -1})
	fire(childShots, Event{Type: EventChildWatchRemoved, Path: path, Zxid: -1})
	return nil
}

// RemoveWatch removes one one-shot watch: the one whose channel ch was
// returned by GetW, ExistsW or ChildrenW for path. ch receives
// EventDataWatchRemoved (or EventChildWatchRemoved) and is closed. The
// server-side watch is removed once no other one-shot watch of the client
// needs it; other watches on path, one-shot or persistent, keep working.
// It returns ErrNoWatcher when ch is not armed (it fired already, or
// belongs to another path).
func (c *Client) RemoveWatch(ctx context.Context, path string, ch <-chan Event) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	wr := &c.watches
	wr.mu.Lock()
	var shot chan Event
	isChild := false
	for i, x := range []map[string][]chan Event{wr.data, wr.exist, wr.child} {
		for j, s := range x[path] {
			if s == ch {
				shot, isChild = s, i == 2
				l := append(x[path][:j:j], x[path][j+1:]...)
				if len(l) == 0 {
					delete(x, path)
				} else {
					x[path] = l
				}
				break
			}
		}
		if shot != nil {
			break
		}
	}
	if shot == nil {
		wr.mu.Unlock()
		return &Error{Op: "removeWatch", Path: path, Code: CodeNoWatcher}
	}
	old := modesInterfere(c.ServerVersion())
	var needed, covered bool
	if isChild {
		needed = len(wr.child[path]) > 0
		covered = old && len(wr.pers[path]) > 0
	} else {
		needed = len(wr.data[path])+len(wr.exist[path]) > 0
		covered = old && len(wr.pers[path])+len(wr.rec[path]) > 0
	}
	wr.mu.Unlock()
	kind, typ := WatchData, EventDataWatchRemoved
	if isChild {
		kind, typ = WatchChildren, EventChildWatchRemoved
	}
	fire([]chan Event{shot}, Event{Type: typ, Path: path, Zxid: -1})
	c.mu.Lock()
	live := c.cur != nil
	c.mu.Unlock()
	if needed || covered || !live {
		// Without a connection the server holds none of our watches: the
		// next connection sets again only those still registered.
		return nil
	}
	zxid, err := c.call(ctx, wire.OpRemoveWatches, "removeWatch", path,
		&wire.RemoveWatchesRequest{Path: c.root.add(path), Type: int32(kind)}, nil, nil)
	if errors.Is(err, ErrNoWatcher) {
		return nil // it fired meanwhile on the server; the event finds no one
	}
	if err != nil {
		return err
	}
	// Watches of the same kind set meanwhile may have been registered on
	// the server before the removal took them: set them again, relative
	// to the removal, so that what changed since fires them.
	wr.mu.Lock()
	sw := wire.SetWatches{RelativeZxid: zxid, DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{}}
	full := c.root.add(path)
	if isChild && len(wr.child[path]) > 0 {
		sw.ChildWatches = append(sw.ChildWatches, full)
	}
	if !isChild && len(wr.data[path]) > 0 {
		sw.DataWatches = append(sw.DataWatches, full)
	}
	if !isChild && len(wr.exist[path]) > 0 {
		sw.ExistWatches = append(sw.ExistWatches, full)
	}
	clobbered := old && (len(wr.pers[path]) > 0 || !isChild && len(wr.rec[path]) > 0)
	wr.mu.Unlock()
	if clobbered {
		// A Watcher came meanwhile; the removal took its watch too.
		wr.repair(path, zxid)
	}
	if len(sw.DataWatches)+len(sw.ExistWatches)+len(sw.ChildWatches) == 0 {
		return nil
	}
	_, err = c.call(ctx, wire.OpSetWatches, "setWatches", path, &sw, nil, nil)
	return err
}

// CheckWatches reports (nil) whether the server holds a watch of kind on
// path for this client, or returns ErrNoWatcher. It asks the server: a
// persistent watch on path counts as both kinds (before ZooKeeper 3.9 a
// recursive one counts as a data watch).
func (c *Client) CheckWatches(ctx context.Context, path string, kind WatchKind) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	_, err := c.call(ctx, wire.OpCheckWatches, "checkWatches", path,
		&wire.CheckWatchesRequest{Path: c.root.add(path), Type: int32(kind)}, nil, nil)
	return err
}
