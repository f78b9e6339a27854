package election

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// lockMarker is what Kazoo's Lock (and so its Election) puts between a
// contender's uuid and its sequence number.
const lockMarker = "__lock__"

// Election runs a function in one process at a time among those that
// contend on the same path: Kazoo's Election, which is Kazoo's Lock. Each
// contender queues with an ephemeral-sequential node
// "<path>/<uuid hex>__lock__<seq>" holding its identifier; the lowest
// sequence leads. Create one with New. Its methods are safe for concurrent
// use; one Run at a time.
type Election struct {
	c    *keeper.Client
	path string
	data []byte
	cfg  config
	// prefix is fixed per Election, as Kazoo fixes it per Lock object.
	prefix string

	mu      sync.Mutex
	running bool
	cancel  context.CancelCauseFunc // ends the current Run
	term    term                    // the current term, while fn runs
}

// New returns a contender in the election at path for client c; identifier
// (any text, may be empty) is stored in its node and listed by Contenders.
// Nothing is sent until Run.
func New(c *keeper.Client, path, identifier string, opts ...Option) *Election {
	return &Election{
		c:      c,
		path:   path,
		data:   []byte(identifier),
		cfg:    newConfig(opts),
		prefix: node.UUIDHex() + lockMarker,
	}
}

// Run contends for leadership, blocks until elected, then calls fn and
// returns when fn has returned, after giving leadership up (deleting its
// node), so the next contender leads.
//
// fn's ctx is cancelled when leadership is lost while fn runs (the
// session is lost, the node is deleted, or, with StopOnSuspend, the
// connection drops), with a cause matching ErrLost; when ctx ends; and when
// Cancel is called. fn must stop acting as leader then: a lost leader's
// successor may already run. Run returns fn's error; when leadership was
// lost, the error matches ErrLost (and the loss's cause, such as
// keeper.ErrSessionExpired) as well.
//
// While waiting, Run rides out disconnects and session losses (it queues
// again in the new session). It returns ctx's error when ctx ends first,
// an error matching ErrCancelled when Cancel is called first, and
// keeper.ErrClosed when the client is closed; its node is deleted in every
// case. Unlike Kazoo's run, Run is not retried after fn: call it again to
// contend again.
func (e *Election) Run(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if fn == nil {
		return wrap("run", e.path, errors.New("nil function"))
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return wrap("run", e.path, errors.New("Run is already running for this Election"))
	}
	e.running, e.cancel = true, cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running, e.cancel = false, nil
		e.mu.Unlock()
	}()

	k := &candidate{c: e.c, dir: e.path, prefix: e.prefix, marker: lockMarker, data: e.data}
	defer func() {
		// Give leadership (or our place) up, even after a panic in fn.
		derr := giveUp(ctx, e.c, k.purge)
		if err == nil && derr != nil && !gone(derr) {
			err = wrap("run", e.path, fmt.Errorf("give up leadership: %w", derr))
		}
	}()

	var fence *node.Fence
	for fence == nil {
		if err := k.await(rctx); err != nil {
			return wrap("run", e.path, err)
		}
		f := node.NewFence(e.c, k.node, k.session, nil)
		if !f.Held() {
			// The session changed between the check and the fence.
			f.Stop()
			continue
		}
		fence = f
	}
	defer fence.Stop()
	e.mu.Lock()
	e.term = term{fence: fence, token: k.czxid, last: k.node}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.term.fence = nil
		e.mu.Unlock()
	}()

	fctx, fcancel := context.WithCancelCause(rctx)
	defer fcancel(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		suspended := fence.Suspended()
		if !e.cfg.stopOnSuspend {
			suspended = nil
		}
		select {
		case <-fence.Lost():
			if cause := fence.Err(); cause != nil {
				fcancel(fmt.Errorf("%w: %w", ErrLost, cause))
			}
		case <-suspended:
			fcancel(fmt.Errorf("%w: connection suspended", ErrLost))
		case <-fctx.Done():
		}
	}()
	ferr := fn(fctx)
	lost := context.Cause(fctx)
	fcancel(nil)
	wg.Wait()
	if errors.Is(lost, ErrLost) {
		if ferr == nil || errors.Is(ferr, context.Canceled) {
			return lost
		}
		return errors.Join(lost, ferr)
	}
	return ferr
}

// Cancel ends the current Run: a Run still waiting returns an error
// matching ErrCancelled, and a running leader's ctx is cancelled with
// ErrCancelled as its cause (Run returns once fn has returned). Unlike
// Kazoo's cancel, it also reaches a running leader. It has no effect when
// no Run is in progress.
func (e *Election) Cancel() {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel(ErrCancelled)
	}
}

// Guard adds to t the condition that this Election's current term of
// leadership still holds: a Check that the leader's node exists. The node
// is ephemeral and unique to the term, so the server applies the
// transaction only while this process leads, and refuses it (ErrNoNode in a
// *keeper.TxnError) once the session or the node is gone, whatever this
// process believes. Call it from the function Run runs; outside a term it
// checks the last term's node (gone) or one that never exists.
func (e *Election) Guard(t *keeper.Txn) *keeper.Txn {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term.guard(t)
}

// Token returns the current term's fencing token, the leader's node's
// czxid (larger for every later term), or 0 outside a term.
func (e *Election) Token() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term.tokenNow()
}

// Verified returns a channel that is closed when, after a disconnect
// during the current term, leadership is known to be still held (the
// client reconnected in the same session and the node is still there and
// the session's). It is closed already while connected, and at the term's
// end. A leader that pauses at a disconnect resumes on it.
func (e *Election) Verified() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term.verified()
}

// Suspended returns a channel that is closed at the next disconnect during
// the current term, or when no term runs; after each verification (see
// Verified) it returns a new channel.
func (e *Election) Suspended() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.term.suspended()
}

// Contenders returns the identifiers of the contenders, in queue order:
// the first is the leader. A missing election path means no contenders.
func (e *Election) Contenders(ctx context.Context) ([]string, error) {
	ids, err := node.Contenders(ctx, e.c, e.path, lockMarker)
	if err != nil {
		return nil, wrap("contenders", e.path, err)
	}
	return ids, nil
}

// gone reports whether err means the session (and so our ephemeral node)
// is gone anyway.
func gone(err error) bool {
	return errors.Is(err, keeper.ErrClosed) || errors.Is(err, keeper.ErrSessionExpired)
}

// term is one term of leadership: its node's fence and fencing token, and
// the last term's node for Guard afterwards.
type term struct {
	fence *node.Fence
	token int64
	last  string
}

func (t *term) guard(txn *keeper.Txn) *keeper.Txn { return node.GuardPath(txn, t.last) }

func (t *term) tokenNow() int64 {
	if t.fence == nil || !t.fence.Held() {
		return 0
	}
	return t.token
}

func (t *term) verified() <-chan struct{} {
	if t.fence == nil {
		return closedCh
	}
	return t.fence.Verified()
}

func (t *term) suspended() <-chan struct{} {
	if t.fence == nil {
		return closedCh
	}
	return t.fence.Suspended()
}
