package keeper

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/keeper-go/keeper/internal/wire"
)

// The asynchronous calls (GetAsync, ExistsAsync, ChildrenAsync,
// CreateAsync, SetAsync, DeleteAsync, Txn.CommitAsync) queue a request and
// return at once; the result goes to a callback. Many requests can be in
// flight from one goroutine this way, without a goroutine per request.
//
// Callbacks run one at a time, in the order the calls were made, on one
// goroutine of the client that delivers nothing else: never on the
// goroutine reading the connection, so a slow callback delays only the
// callbacks after it. A callback may make further calls, synchronous or
// asynchronous. The delivery goroutine starts with the first asynchronous
// call and ends at Close, once every callback has run: those of calls
// made while Close runs (ErrClosed) too, so goroutines that go on making
// calls through Close, faster than their callbacks run, keep it waiting.
// Blocking such calls instead would deadlock a caller holding a lock that
// an earlier callback takes.
//
// ctx bounds only the wait for room in the in-flight window
// (WithMaxInflight): an asynchronous call blocks while the window is
// full, and when ctx ends first, its callback gets ctx's error (a request
// that was never sent: SafeToRetry is true). Once queued, a request runs
// to its reply. Asynchronous calls are not retried: a connection loss
// reaches the callback as ErrConnectionLoss. Flush waits for the
// callbacks of every call made before it.

// asyncQueue is the client's queue of asynchronous requests, in the order
// they were made, and the state of the goroutine that delivers them.
type asyncQueue struct {
	mu        sync.Mutex
	q         []*request // made and not yet delivered, in order
	head      int
	wake      chan struct{} // 1-buffered: a request completed
	running   bool          // the delivery goroutine is running
	closed    bool          // Close has run: the goroutine ends once q is empty
	exited    chan struct{} // closed when the delivery goroutine ends
	gid       uint64        // the delivery goroutine's id
	made      uint64        // asynchronous calls made
	delivered uint64        // callbacks returned
	flushers  []flusher
	// sent counts the asynchronous requests handed to the wire and not yet
	// completed; unwoken, those completed since the delivery goroutine was
	// last woken by a reader (conn.wakeAsync). Atomic: the socket's owner
	// reads them after every run of buffered replies.
	sent    atomic.Int64
	unwoken atomic.Int64
}

// flusher is a Flush waiting for delivered to reach target.
type flusher struct {
	target uint64
	ch     chan struct{}
}

// asyncKind says which callback a request's acb holds.
type asyncKind uint8

const (
	asyncGet asyncKind = iota + 1
	asyncExists
	asyncChildren
	asyncCreate
	asyncSet
	asyncDelete
	asyncTxn
)

// asyncDone is the onDone of every asynchronous request: it runs on
// whichever goroutine completes the request (see request.onDone), frees
// its in-flight slot at once, so that a callback making further calls
// never waits for itself, and wakes the delivery goroutine.
func asyncDone(r *request) {
	// Once r is marked done, the delivery goroutine (busy with earlier
	// callbacks, so needing no wake-up to see it) may run its callback
	// and recycle it: r must not be read after that.
	c := r.ac
	asyncDoneHeld(r)
	c.async.kick()
}

// asyncDoneHeld is asyncDone without the wake-up: the socket's owner
// completing a reply wakes the delivery goroutine in runs of replies
// (conn.wakeAsync), not once per reply.
func asyncDoneHeld(r *request) {
	r.ac.async.sent.Add(-1)
	r.ac.async.unwoken.Add(1)
	r.ac.releaseSlot()
	r.adone.Store(true) // last: r may be recycled from here on
}

// kick wakes the delivery goroutine. Only for a client whose delivery
// goroutine has started (an asynchronous call was queued).
func (a *asyncQueue) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// startAsync takes a pooled request for an asynchronous call of kind k.
func (c *Client) startAsync(op wire.OpCode, k asyncKind, path string, cb any) *request {
	r := startRequest(op)
	r.ac, r.akind, r.apath, r.acb = c, k, path, cb
	r.onDone = asyncDone
	if m := c.cfg.metrics; m != nil {
		r.at0 = m.opBegin()
	}
	return r
}

// submitAsync queues r (built with startAsync, its frame ended): it waits
// for an in-flight slot within ctx, puts r in the delivery queue and hands
// it to the writer. A failure before the request is queued reaches the
// callback as well, in its turn.
func (c *Client) submitAsync(ctx context.Context, r *request, opName string) {
	if err := ctx.Err(); err != nil {
		c.failAsync(r, ctxError(ctx, opName, r.apath, false))
		return
	}
	if n := len(r.frame) - r.start - 4; c.cfg.maxRequest > 0 && n > c.cfg.maxRequest {
		c.failAsync(r, &requestError{err: fmt.Errorf("keeper: %s %s: %w: %d bytes encoded, over the limit of %d (the servers' jute.maxbuffer; see WithMaxRequestSize)",
			opName, r.apath, ErrRequestTooLarge, n, c.cfg.maxRequest)})
		return
	}
	if err := c.acquireSlot(ctx, opName, r.apath); err != nil {
		c.failAsync(r, err)
		return
	}
	if !c.queueAsync(r) {
		c.releaseSlot()
		c.deliverNow(r, &requestError{err: fmt.Errorf("keeper: %s %s: %w", opName, r.apath, ErrClosed)})
		return
	}
	c.async.sent.Add(1)
	if err := c.enqueue(r); err != nil {
		// Never queued for the wire: nobody else completes it.
		r.complete(CodeOK, err)
	}
}

// failAsync delivers err to r's callback in its turn; r was never sent.
func (c *Client) failAsync(r *request, err error) {
	r.releaseFrame()
	r.onDone = nil
	r.aerr = err
	r.adone.Store(true)
	if !c.queueAsync(r) {
		c.deliverNow(r, err)
		return
	}
	// Nothing else may wake the delivery goroutine: it may be idle, every
	// earlier callback delivered.
	c.async.kick()
}

// queueAsync appends r to the delivery queue, starting the delivery
// goroutine if it is not running; false once the client is closed and the
// goroutine has ended.
func (c *Client) queueAsync(r *request) bool {
	a := &c.async
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.running {
		if a.closed {
			return false
		}
		a.running = true
		a.wake = make(chan struct{}, 1)
		a.exited = make(chan struct{})
		started := make(chan uint64)
		go c.deliverLoop(started)
		a.gid = <-started
	}
	a.q = append(a.q, r)
	a.made++
	return true
}

// deliverNow runs r's callback on the calling goroutine: only for calls
// made after Close, when no callback is left to run before it.
func (c *Client) deliverNow(r *request, err error) {
	r.onDone = nil
	r.aerr = err
	c.deliver(r)
}

// deliverLoop runs the callbacks in order until Close.
func (c *Client) deliverLoop(started chan<- uint64) {
	a := &c.async
	started <- goid()
	defer close(a.exited)
	for {
		a.mu.Lock()
		for a.head < len(a.q) && a.q[a.head].adone.Load() {
			r := a.q[a.head]
			a.q[a.head] = nil
			a.head++
			a.mu.Unlock()
			c.deliver(r)
			a.mu.Lock()
			a.delivered++
			if len(a.flushers) > 0 {
				a.releaseFlushersLocked()
			}
		}
		if a.head == len(a.q) {
			a.q, a.head = a.q[:0], 0
			if a.closed {
				a.running = false
				a.mu.Unlock()
				return
			}
		}
		a.mu.Unlock()
		<-a.wake
	}
}

func (a *asyncQueue) releaseFlushersLocked() {
	keep := a.flushers[:0]
	for _, f := range a.flushers {
		if a.delivered >= f.target {
			close(f.ch)
		} else {
			keep = append(keep, f)
		}
	}
	clear(a.flushers[len(keep):])
	a.flushers = keep
}

// closeAsync runs at the end of every Close, once the first has completed
// every request: the delivery goroutine runs the callbacks left and ends.
// Close waits for it, unless Close was called from a callback (it would
// wait for itself).
func (c *Client) closeAsync() {
	a := &c.async
	a.mu.Lock()
	a.closed = true
	running, exited, gid := a.running, a.exited, a.gid
	a.mu.Unlock()
	if !running {
		return
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
	if goid() != gid {
		<-exited
	}
}

// Flush waits until the callback of every asynchronous call made before
// it has returned, or ctx ends. Called from a callback, it returns an
// error at once: the callbacks it would wait for run after its own.
func (c *Client) Flush(ctx context.Context) error {
	a := &c.async
	a.mu.Lock()
	if a.delivered >= a.made {
		a.mu.Unlock()
		return nil
	}
	if a.running && goid() == a.gid {
		a.mu.Unlock()
		return errors.New("keeper: flush called from an asynchronous call's callback, which would wait for itself")
	}
	f := flusher{target: a.made, ch: make(chan struct{})}
	a.flushers = append(a.flushers, f)
	a.mu.Unlock()
	select {
	case <-f.ch:
		return nil
	case <-ctx.Done():
		a.mu.Lock()
		for i, g := range a.flushers {
			if g.ch == f.ch {
				a.flushers = append(a.flushers[:i], a.flushers[i+1:]...)
				break
			}
		}
		a.mu.Unlock()
		return ctxError(ctx, "flush", "", false)
	}
}

// deliver turns r's outcome into its callback's arguments, runs the
// callback and recycles r.
func (c *Client) deliver(r *request) {
	var err error
	switch {
	case r.aerr != nil:
		err = r.aerr
	case r.err != nil:
		err = wrapOpErr(asyncOpName(r.akind), r.apath, r.err)
	case r.code != CodeOK:
		err = opError(asyncOpName(r.akind), r.apath, r.code)
	}
	if m := c.cfg.metrics; m != nil {
		m.opEnd(asyncOpName(r.akind), r.at0, &err)
	}
	cb := r.acb
	switch r.akind {
	case asyncGet:
		var data []byte
		var st *Stat
		if err == nil {
			data, st = r.gd.Data, new(Stat)
			*st = Stat(r.gd.Stat)
		}
		r.recycle()
		cb.(func([]byte, *Stat, error))(data, st, err)
	case asyncExists:
		var st *Stat
		if err == nil {
			st = new(Stat)
			*st = Stat(r.ex.Stat)
		} else if errors.Is(err, ErrNoNode) {
			err = nil
		}
		r.recycle()
		cb.(func(*Stat, error))(st, err)
	case asyncSet:
		var st *Stat
		if err == nil {
			st = new(Stat)
			*st = Stat(r.sd.Stat)
		}
		r.recycle()
		cb.(func(*Stat, error))(st, err)
	case asyncChildren:
		var children []string
		var st *Stat
		if err == nil {
			children, st = nonNil(r.gc.Children), new(Stat)
			*st = Stat(r.gc.Stat)
		}
		r.recycle()
		cb.(func([]string, *Stat, error))(children, st, err)
	case asyncCreate:
		var p string
		if err == nil {
			if r.op == wire.OpCreate {
				p = c.root.strip(r.cr.Path)
			} else {
				p = c.root.strip(r.c2.Path)
				if r.astat != nil {
					*r.astat = Stat(r.c2.Stat)
				}
			}
		}
		r.recycle()
		cb.(func(string, error))(p, err)
	case asyncDelete:
		r.recycle()
		cb.(func(error))(err)
	case asyncTxn:
		t := r.atxn
		var res []TxnResult
		if err == nil {
			res, err = t.results(r.resp.(*wire.MultiResponse))
		}
		r.recycle()
		cb.(func([]TxnResult, error))(res, err)
	}
}

func asyncOpName(k asyncKind) string {
	switch k {
	case asyncGet:
		return "get"
	case asyncExists:
		return "exists"
	case asyncChildren:
		return "children"
	case asyncCreate:
		return "create"
	case asyncSet:
		return "set"
	case asyncDelete:
		return "delete"
	default:
		return "multi"
	}
}

// goid returns the calling goroutine's id, read from its stack header
// ("goroutine 18 [running]:"). Only Close and Flush use it, to tell
// whether they run on the delivery goroutine.
func goid() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	const prefix = "goroutine "
	var id uint64
	for _, ch := range b[min(len(prefix), n):n] {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}

// GetAsync is Get without waiting: cb gets the node's data and Stat, or
// the error, on the client's delivery goroutine (see Flush for the
// order and lifetime of callbacks). ctx bounds only the wait for room in
// the in-flight window.
func (c *Client) GetAsync(ctx context.Context, path string, cb func(data []byte, st *Stat, err error)) {
	r := c.startAsync(wire.OpGetData, asyncGet, path, cb)
	if err := validatePath(path, false); err != nil {
		c.failAsync(r, err)
		return
	}
	r.frame = wire.AppendBool(c.root.appendPath(r.frame, path), false)
	r.endFrame()
	r.resp = &r.gd
	c.submitAsync(ctx, r, "get")
}

// ExistsAsync is Exists without waiting: cb gets the node's Stat, or nil
// and no error when it does not exist (see GetAsync).
func (c *Client) ExistsAsync(ctx context.Context, path string, cb func(st *Stat, err error)) {
	r := c.startAsync(wire.OpExists, asyncExists, path, cb)
	if err := validatePath(path, false); err != nil {
		c.failAsync(r, err)
		return
	}
	r.frame = wire.AppendBool(c.root.appendPath(r.frame, path), false)
	r.endFrame()
	r.resp = &r.ex
	c.submitAsync(ctx, r, "exists")
}

// ChildrenAsync is ChildrenStat without waiting: cb gets the names of the
// node's children, in no particular order, and its Stat (see GetAsync).
func (c *Client) ChildrenAsync(ctx context.Context, path string, cb func(children []string, st *Stat, err error)) {
	r := c.startAsync(wire.OpGetChildren2, asyncChildren, path, cb)
	if err := validatePath(path, false); err != nil {
		c.failAsync(r, err)
		return
	}
	r.frame = wire.AppendBool(c.root.appendPath(r.frame, path), false)
	r.endFrame()
	r.resp = &r.gc
	c.submitAsync(ctx, r, "children")
}

// CreateAsync is Create without waiting: cb gets the path created (with
// the server's suffix for a sequential node), or the error (see
// GetAsync). The options are Create's but for MakeParents, which needs
// more than one request and fails with ErrBadArguments. Like Create, it
// is never retried.
func (c *Client) CreateAsync(ctx context.Context, path string, data []byte, cb func(path string, err error), opts ...CreateOption) {
	o := applyCreateOpts(opts)
	if o.makeParents {
		o.errs = append(o.errs, "MakeParents is not available to CreateAsync")
	}
	flags, op, ferr := o.flags()
	if op == wire.OpCreate2 && o.stat == nil {
		op = wire.OpCreate // no Stat wanted: the shorter reply will do
	}
	r := c.startAsync(op, asyncCreate, path, cb)
	if err := validatePath(path, o.sequential); err != nil {
		c.failAsync(r, err)
		return
	}
	if ferr != nil {
		c.failAsync(r, fmt.Errorf("keeper: create %s: %w", path, ferr))
		return
	}
	wacl := c.defaultACL
	if o.acl != nil {
		wacl = toWireACL(o.acl)
	}
	r.frame = c.root.appendCreate(r.frame, op, path, data, wacl, flags, o.ttl)
	r.endFrame()
	if op == wire.OpCreate {
		r.resp = &r.cr
	} else {
		r.resp = &r.c2
		r.astat = o.stat
	}
	c.submitAsync(ctx, r, "create")
}

// SetAsync is Set without waiting: cb gets the node's new Stat, or the
// error (see GetAsync). Like Set, it is never retried.
func (c *Client) SetAsync(ctx context.Context, path string, data []byte, version int32, cb func(st *Stat, err error)) {
	r := c.startAsync(wire.OpSetData, asyncSet, path, cb)
	if err := validatePath(path, false); err != nil {
		c.failAsync(r, err)
		return
	}
	r.frame = wire.AppendInt32(wire.AppendBuffer(c.root.appendPath(r.frame, path), data), version)
	r.endFrame()
	r.resp = &r.sd
	c.submitAsync(ctx, r, "set")
}

// DeleteAsync is Delete without waiting: cb gets nil once the node is
// deleted, or the error (see GetAsync).
func (c *Client) DeleteAsync(ctx context.Context, path string, version int32, cb func(err error)) {
	r := c.startAsync(wire.OpDelete, asyncDelete, path, cb)
	if err := validatePath(path, false); err != nil {
		c.failAsync(r, err)
		return
	}
	if path == "/" {
		c.failAsync(r, fmt.Errorf("%w \"/\": cannot delete the root", ErrInvalidPath))
		return
	}
	r.frame = wire.AppendInt32(c.root.appendPath(r.frame, path), version)
	r.endFrame()
	c.submitAsync(ctx, r, "delete")
}

// CommitAsync is Commit without waiting: cb gets the results, or the
// error, on the client's delivery goroutine (see Client.GetAsync). The
// transaction's client must be open; like Commit, it is never retried
// and a Txn can be committed once.
func (t *Txn) CommitAsync(ctx context.Context, cb func(results []TxnResult, err error)) {
	c := t.c
	r := c.startAsync(wire.OpMulti, asyncTxn, "", cb)
	r.atxn = t
	switch {
	case t.committed:
		c.failAsync(r, errTxnCommitted)
		return
	case t.bad != nil:
		t.committed = true
		c.failAsync(r, t.fail(t.bad.Index, t.bad.Errs[0]))
		return
	}
	t.committed = true
	if len(t.ops) == 0 {
		r.aerr = nil
		r.releaseFrame()
		r.onDone = nil
		r.adone.Store(true)
		r.resp = &wire.MultiResponse{}
		if !c.queueAsync(r) {
			c.deliver(r)
			return
		}
		c.async.kick() // as failAsync's
		return
	}
	req := wire.MultiRequest{Ops: t.ops}
	r.frame = req.Append(r.frame)
	r.endFrame()
	r.resp = new(wire.MultiResponse)
	c.submitAsync(ctx, r, "multi")
}
