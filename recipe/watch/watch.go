package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// Option configures a ChildrenWatch.
type Option func(*options)

type options struct {
	sendEvent bool
}

// SendEvent makes a ChildrenWatch pass fn the event that caused each call
// after the first (Kazoo's send_event). Without it, the default, fn always
// gets a nil event.
func SendEvent() Option { return func(o *options) { o.sendEvent = true } }

// runner is the loop shared by DataWatch and ChildrenWatch: one goroutine
// that reads, calls fn and waits for the armed one-shot watch to fire.
type runner struct {
	c    *keeper.Client
	path string
	// stop ends waits at Close; ioCancel ends reads, a grace period later,
	// so that a read that arms a watch is not abandoned on the wire (its
	// watch would then be registered with nobody to remove it).
	stop     context.CancelFunc
	ioCancel context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	stopped bool  // no further call of fn
	inFn    bool  // fn is running
	err     error // why the watch ended
}

// newRunner returns the runner and the two contexts its loop uses: io
// for reads, stop (derived from io) for waits.
func newRunner(c *keeper.Client, path string, fnNil bool) (r *runner, io, stop context.Context, err error) {
	if c == nil {
		return nil, nil, nil, errors.New("watch: nil client")
	}
	if fnNil {
		return nil, nil, nil, fmt.Errorf("watch: %s: nil function", path)
	}
	if err := keeper.ValidatePath(path); err != nil {
		return nil, nil, nil, fmt.Errorf("watch: %w", err)
	}
	io, ioCancel := context.WithCancel(context.Background())
	stop, stopCancel := context.WithCancel(io)
	return &runner{c: c, path: path, stop: stopCancel, ioCancel: ioCancel, done: make(chan struct{})}, io, stop, nil
}

// exit runs when the loop ends.
func (r *runner) exit() {
	r.stop()
	r.ioCancel()
	close(r.done)
}

// call runs fn unless the watch was stopped; it reports whether to go on.
func (r *runner) call(fn func() bool) bool {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return false
	}
	r.inFn = true
	r.mu.Unlock()
	more := false
	defer func() {
		r.mu.Lock()
		r.inFn = false
		if !more {
			r.stopped = true
		}
		r.mu.Unlock()
	}()
	more = fn()
	return more
}

// fail ends the watch with err (nil for a normal stop).
func (r *runner) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.stopped = true
	r.mu.Unlock()
}

// close stops the watch and, unless fn is running (Close called from fn,
// or while fn runs), waits until the goroutine has cleaned up and exited.
func (r *runner) close() error {
	r.mu.Lock()
	r.stopped = true
	busy := r.inFn
	r.mu.Unlock()
	r.stop()
	grace := time.AfterFunc(r.c.SessionTimeout(), r.ioCancel)
	if !busy {
		<-r.done
		grace.Stop()
	}
	return nil
}

// errOf returns why the watch ended.
func (r *runner) errOf() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// pause waits before the next attempt after a failed read: until the
// client is connected again, then the backoff delay. It returns false
// when the watch must end (stopped, the client closed, or a read that
// cannot succeed: node.IsPermanent). ctx is the loop's stop context.
func (r *runner) pause(ctx context.Context, err error, b *node.Backoff) bool {
	if ctx.Err() != nil && !errors.Is(err, keeper.ErrClosed) {
		return false
	}
	if node.IsPermanent(err) {
		r.fail(err)
		return false
	}
	if err := b.SleepConnected(ctx, r.c); err != nil {
		if errors.Is(err, keeper.ErrClosed) {
			r.fail(err)
		}
		return false
	}
	return true
}

// run is the watch's loop, on its own goroutine: read (which arms a
// one-shot watch), call notify when same says the node changed since the
// last call (always the first time), with the event that told of the
// change, and wait for the watch to fire. Failed reads are retried (see
// pause). io bounds reads, stop the waits.
func (r *runner) run(io, stop context.Context, read func(context.Context) (*keeper.Stat, <-chan keeper.Event, error),
	same func(a, b *keeper.Stat) bool, notify func(st *keeper.Stat, ev *keeper.Event) bool) {
	defer r.exit()
	var last *keeper.Stat
	var ev *keeper.Event
	first := true
	var b node.Backoff
	for {
		st, ch, err := read(io)
		if stop.Err() != nil {
			r.disarm(ch)
			return
		}
		if err != nil {
			if !r.pause(stop, err, &b) {
				return
			}
			continue
		}
		b.Reset()
		if first || !same(last, st) {
			first = false
			last = st
			cev := ev
			if !r.call(func() bool { return notify(st, cev) }) {
				r.disarm(ch)
				return
			}
		}
		select {
		case e, ok := <-ch:
			if !ok {
				continue
			}
			if e.Type == keeper.EventNotWatching && errors.Is(e.Err, keeper.ErrClosed) {
				r.fail(e.Err)
				return
			}
			ev = &e
		case <-stop.Done():
			r.disarm(ch)
			return
		}
	}
}

// disarm removes the armed one-shot watch when the watch ends, so that no
// server-side watch outlives it.
func (r *runner) disarm(ch <-chan keeper.Event) {
	if ch == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.c.SessionTimeout())
	defer cancel()
	_ = r.c.RemoveWatch(ctx, r.path, ch)
}

// DataWatch calls a function with a node's data and Stat now and after
// every change, as Kazoo's DataWatch does. Create one with NewDataWatch.
type DataWatch struct {
	r  *runner
	fn func(data []byte, st *keeper.Stat, ev *keeper.Event) bool
}

// NewDataWatch watches the node at path and calls fn with its data and
// Stat: first as soon as the node is read (ev nil), then after every
// change (ev is the event that told of it). When the node does not
// exist, fn gets nil data and a nil Stat; its creation is a change.
//
// fn runs on the watch's own goroutine, one call at a time, never on the
// client's I/O goroutines. It is called once per change seen: a change is
// a different czxid or mzxid (a delete and re-create, a Set even with the
// same data), or the node appearing or vanishing. Changes that follow each
// other quickly may be seen as one, but the last call always has the
// node's latest state. The watch survives reconnects and session expiry
// (it reads again on the new session and calls fn if the node changed
// meanwhile).
//
// The watch ends when fn returns false, on Close, or when the client is
// closed. NewDataWatch returns at once; it fails only for a nil client or
// function, or a malformed path.
func NewDataWatch(c *keeper.Client, path string, fn func(data []byte, st *keeper.Stat, ev *keeper.Event) bool) (*DataWatch, error) {
	r, io, stop, err := newRunner(c, path, fn == nil)
	if err != nil {
		return nil, err
	}
	w := &DataWatch{r: r, fn: fn}
	go w.run(io, stop)
	return w, nil
}

// Close stops the watch: fn is not called again, and the armed server-side
// watch is removed. Close waits until that is done, except when fn is
// running (so fn may call Close; Done then closes after fn returns).
// It returns nil.
func (w *DataWatch) Close() error { return w.r.close() }

// Done is closed when the watch has ended (fn returned false, Close, or
// the client closed) and cleaned up.
func (w *DataWatch) Done() <-chan struct{} { return w.r.done }

// Err returns why the watch ended on its own: keeper.ErrClosed when the
// client was closed, or the error of a read that cannot succeed (such as
// an invalid path or no permission). It is nil while the watch runs and
// after fn returned false or Close.
func (w *DataWatch) Err() error { return w.r.errOf() }

// sameData reports whether two reads show the same version of the node.
func sameData(a, b *keeper.Stat) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Czxid == b.Czxid && a.Mzxid == b.Mzxid && a.Version == b.Version
}

// readData reads the node and arms a one-shot watch that fires on its
// next change, whether it exists or not.
func (w *DataWatch) readData(ctx context.Context) ([]byte, *keeper.Stat, <-chan keeper.Event, error) {
	c, path := w.r.c, w.r.path
	data, st, ch, err := c.GetW(ctx, path)
	if !errors.Is(err, keeper.ErrNoNode) {
		return data, st, ch, err
	}
	st, ch, err = c.ExistsW(ctx, path)
	if err != nil || st == nil {
		return nil, nil, ch, err
	}
	// Created in between: the exists watch is armed; read the data.
	data, st, err = c.Get(ctx, path)
	if errors.Is(err, keeper.ErrNoNode) {
		return nil, nil, ch, nil // deleted again: the watch fires for it
	}
	if err != nil {
		w.r.disarm(ch)
		return nil, nil, nil, err
	}
	return data, st, ch, nil
}

func (w *DataWatch) run(io, stop context.Context) {
	var data []byte
	w.r.run(io, stop, func(ctx context.Context) (*keeper.Stat, <-chan keeper.Event, error) {
		d, st, ch, err := w.readData(ctx)
		data = d
		return st, ch, err
	}, sameData, func(st *keeper.Stat, ev *keeper.Event) bool { return w.fn(data, st, ev) })
}

// ChildrenWatch calls a function with a node's children now and after
// every change, as Kazoo's ChildrenWatch does. Create one with
// NewChildrenWatch.
type ChildrenWatch struct {
	r    *runner
	fn   func(children []string, ev *keeper.Event) bool
	opts options
}

// NewChildrenWatch watches the children of the node at path and calls fn
// with their names, sorted: first as soon as they are read, then after
// every change. When the node does not exist fn gets nil children (an
// existing node without children gives an empty, non-nil slice); unlike
// Kazoo's, the watch does not end then but waits for the node to be
// created. With SendEvent, fn also gets the event that caused each call
// after the first; otherwise ev is nil.
//
// fn runs on the watch's own goroutine, one call at a time, never on the
// client's I/O goroutines. It is called once per change seen: a change of
// the node's children version (cversion), of its pzxid or czxid (a delete
// and re-create), or the node appearing or vanishing. Changes that follow
// each other quickly may be seen as one, but the last call always has the
// latest children. The watch survives reconnects and session expiry.
//
// The watch ends when fn returns false, on Close, or when the client is
// closed. NewChildrenWatch returns at once; it fails only for a nil client
// or function, or a malformed path.
func NewChildrenWatch(c *keeper.Client, path string, fn func(children []string, ev *keeper.Event) bool, opts ...Option) (*ChildrenWatch, error) {
	r, io, stop, err := newRunner(c, path, fn == nil)
	if err != nil {
		return nil, err
	}
	w := &ChildrenWatch{r: r, fn: fn}
	node.ApplyOptions(&w.opts, opts)
	go w.run(io, stop)
	return w, nil
}

// Close stops the watch: fn is not called again, and the armed server-side
// watch is removed. Close waits until that is done, except when fn is
// running (so fn may call Close; Done then closes after fn returns).
// It returns nil.
func (w *ChildrenWatch) Close() error { return w.r.close() }

// Done is closed when the watch has ended (fn returned false, Close, or
// the client closed) and cleaned up.
func (w *ChildrenWatch) Done() <-chan struct{} { return w.r.done }

// Err returns why the watch ended on its own: keeper.ErrClosed when the
// client was closed, or the error of a read that cannot succeed (such as
// an invalid path or no permission). It is nil while the watch runs and
// after fn returned false or Close.
func (w *ChildrenWatch) Err() error { return w.r.errOf() }

// sameChildren reports whether two reads show the same children.
func sameChildren(a, b *keeper.Stat) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Czxid == b.Czxid && a.Pzxid == b.Pzxid && a.Cversion == b.Cversion
}

// readChildren reads the children and arms a one-shot watch that fires on
// their next change, or on the node's creation when it does not exist.
func (w *ChildrenWatch) readChildren(ctx context.Context) ([]string, *keeper.Stat, <-chan keeper.Event, error) {
	c, path := w.r.c, w.r.path
	for {
		kids, st, ch, err := c.ChildrenW(ctx, path)
		if !errors.Is(err, keeper.ErrNoNode) {
			if err == nil {
				slices.Sort(kids)
			}
			return kids, st, ch, err
		}
		st, ch, err = c.ExistsW(ctx, path)
		if err != nil || st == nil {
			return nil, nil, ch, err
		}
		// Created in between: watch its children instead.
		w.r.disarm(ch)
	}
}

func (w *ChildrenWatch) run(io, stop context.Context) {
	var kids []string
	w.r.run(io, stop, func(ctx context.Context) (*keeper.Stat, <-chan keeper.Event, error) {
		k, st, ch, err := w.readChildren(ctx)
		kids = k
		return st, ch, err
	}, sameChildren, func(_ *keeper.Stat, ev *keeper.Event) bool {
		if !w.opts.sendEvent {
			ev = nil
		}
		return w.fn(kids, ev)
	})
}
