package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

// ErrGone is the cause a Fence reports when its node was deleted while held.
var ErrGone = errors.New("node: deleted while held")

// Fence watches over an ephemeral node that a recipe holds (a lock node, a
// leader's node) and says when holding it can no longer be trusted:
//
//   - the session that owns the node is lost (a Lost event for it, confirmed
//     or presumed by the client), the client got a new session, or the
//     client was closed;
//   - the node was deleted, or turned out after a reconnect to be gone or
//     owned by another session (checked with CheckOwner on every
//     Connected event of the same session).
//
// Lost is closed then, and Err says why. Suspended is closed at a
// disconnect, for applications that stop at once, as Curator advises;
// Verified is closed once, after that disconnect, the node was checked on
// the server again (it exists and the same session owns it), so that a
// holder can resume instead of giving up after every blip; then Suspended
// returns a new channel for the next disconnect. Revoked is closed when
// another process asks the holder to let go (the node's data set to
// RevokeMessage, Curator's Revoker). Stop ends the watch (Lost is closed
// too, with Err nil); a recipe calls it before deleting the node on
// release.
//
// A Fence keeps one data watch on the node (set with GetW); deleting the node
// fires it, so a released node leaves no watch on the server.
type Fence struct {
	c       *keeper.Client
	path    string
	session int64
	onState func(keeper.StateEvent)

	ctx    context.Context // ends on Stop or loss
	cancel context.CancelFunc

	mu         sync.Mutex
	lost       chan struct{}
	suspended  chan struct{} // closed at the next disconnect (or at the end)
	verified   chan struct{} // closed when not suspended
	susp       bool          // suspended is closed and verified open
	revoked    chan struct{}
	revClosed  bool
	ended      bool
	err        error
	stopListen func()
	wg         sync.WaitGroup
}

// NewFence starts watching the node at path, which the session with id
// session owns (0 means the client's current session). onState, when not
// nil, is called with every state event until the fence ends, on the
// client's listener goroutine for this fence. Call Stop when done.
func NewFence(c *keeper.Client, path string, session int64, onState func(keeper.StateEvent)) *Fence {
	if session == 0 {
		session = c.SessionID()
	}
	f := &Fence{
		c:         c,
		path:      path,
		session:   session,
		onState:   onState,
		lost:      make(chan struct{}),
		suspended: make(chan struct{}),
		verified:  closed,
		revoked:   make(chan struct{}),
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	stop := c.Listen(f.event)
	f.mu.Lock()
	f.stopListen = stop
	f.mu.Unlock()
	// Events before Listen are not replayed: look at the state now.
	switch st := c.State(); {
	case st == keeper.Closed:
		f.lose(keeper.ErrClosed)
	case c.SessionID() != session:
		f.lose(fmt.Errorf("%w: session 0x%x was replaced", keeper.ErrSessionExpired, session))
	case st == keeper.Suspended:
		f.suspend()
	}
	f.wg.Add(1)
	go f.watch()
	return f
}

// Path returns the watched node's path.
func (f *Fence) Path() string { return f.path }

// Session returns the id of the session that owns the node.
func (f *Fence) Session() int64 { return f.session }

// Lost returns a channel that is closed when the fence ends: the node was
// lost (Err is not nil) or Stop was called (Err is nil).
func (f *Fence) Lost() <-chan struct{} { return f.lost }

// Suspended returns a channel that is closed at the next disconnect seen
// while the fence runs (or at its end, so waiting on it never leaks). Once
// the node has been verified after that disconnect (see Verified), it
// returns a new channel for the next one.
func (f *Fence) Suspended() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.suspended
}

// Verified returns a channel that is closed when the node is known to be
// held again after a disconnect: the client reconnected in the same
// session and found the node still there and still the session's. While
// the fence is not suspended the channel is closed already; it is closed
// at the fence's end too (then Lost is closed as well).
func (f *Fence) Verified() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verified
}

// Revoked returns a channel that is closed when another process asks the
// holder to release the node (its data set to RevokeMessage), or at the
// fence's end.
func (f *Fence) Revoked() <-chan struct{} { return f.revoked }

// RevokeMessage is the data that asks a node's holder to release it:
// Curator's Revoker writes it to a lock node.
const RevokeMessage = "__REVOKE__"

// Guard adds to t the fencing condition of the node: a Check that it
// exists (any version). The node is ephemeral and only its holder creates
// a node of that name, so the transaction is applied only while the
// holder's session still holds it: a write made by a holder that lost the
// node is refused by the server (ErrNoNode, in a *keeper.TxnError for the
// check's index), whatever the holder believes.
func (f *Fence) Guard(t *keeper.Txn) *keeper.Txn { return t.Check(f.path, keeper.AnyVersion) }

// Err returns why the node was lost, or nil while it is held or after Stop.
func (f *Fence) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Held reports whether the fence still runs: not lost and not stopped.
func (f *Fence) Held() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.ended
}

// Stop ends the fence without declaring a loss, and waits for its watch
// goroutine. It is idempotent and returns Err. The data watch the fence set
// stays on the server until the node is deleted (which fires it) or the
// session ends: delete the node after Stop, or remove the watch.
func (f *Fence) Stop() error {
	f.end(nil)
	f.wg.Wait()
	return f.Err()
}

// lose ends the fence with cause.
func (f *Fence) lose(cause error) {
	if cause == nil {
		cause = ErrGone
	}
	f.end(cause)
}

func (f *Fence) end(cause error) {
	f.mu.Lock()
	if f.ended {
		f.mu.Unlock()
		return
	}
	f.ended = true
	f.err = cause
	stop := f.stopListen
	close(f.lost)
	if !f.susp {
		close(f.suspended)
	} else {
		close(f.verified)
	}
	f.susp = false
	f.verified = closed
	f.revoke()
	f.mu.Unlock()
	f.cancel()
	if stop != nil {
		stop()
	}
}

func (f *Fence) suspend() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended || f.susp {
		return
	}
	f.susp = true
	close(f.suspended)
	f.verified = make(chan struct{})
}

// verify ends a suspension: the node was found held again.
func (f *Fence) verify() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended || !f.susp {
		return
	}
	f.susp = false
	close(f.verified)
	f.verified = closed
	f.suspended = make(chan struct{})
}

// revoke closes Revoked once; f.mu is held.
func (f *Fence) revoke() {
	if !f.revClosed {
		f.revClosed = true
		close(f.revoked)
	}
}

// event handles a state event on the listener's goroutine.
func (f *Fence) event(ev keeper.StateEvent) {
	if !f.Held() {
		return
	}
	if f.onState != nil {
		f.onState(ev)
	}
	switch ev.State {
	case keeper.Suspended:
		f.suspend()
	case keeper.Lost:
		if ev.SessionID == f.session || ev.SessionID == 0 {
			cause := ev.Err
			if cause == nil {
				cause = keeper.ErrSessionExpired
			}
			f.lose(cause)
		}
	case keeper.Closed:
		f.lose(keeper.ErrClosed)
	case keeper.Connected, keeper.ConnectedReadOnly:
		if ev.SessionID != f.session {
			f.lose(fmt.Errorf("%w: session 0x%x was replaced by 0x%x", keeper.ErrSessionExpired, f.session, ev.SessionID))
			return
		}
		// Same session again: make sure the node survived the gap.
		ctx, cancel := context.WithTimeout(f.ctx, max(f.c.SessionTimeout(), 2*time.Second))
		err := CheckOwner(ctx, f.c, f.path)
		cancel()
		switch {
		case err == nil:
			f.verify()
		case errors.Is(err, ErrNotOwner), errors.Is(err, keeper.ErrSessionExpired), errors.Is(err, keeper.ErrClosed):
			f.lose(err)
		}
		// Other errors (a new disconnect) are handled by the next event.
	}
}

// gone ends the fence because the node was deleted: by Close's closing of
// the session (ErrClosed) or by anything else (ErrGone).
func (f *Fence) gone() {
	select {
	case <-f.c.Done():
		f.lose(keeper.ErrClosed)
	default:
		f.lose(fmt.Errorf("%w: %s", ErrGone, f.path))
	}
}

// watch keeps a data watch on the node and ends the fence when the node is
// deleted or belongs to another session.
func (f *Fence) watch() {
	defer f.wg.Done()
	var b Backoff
	for {
		data, st, ch, err := f.c.GetW(f.ctx, f.path)
		switch {
		case f.ctx.Err() != nil:
			return
		case errors.Is(err, keeper.ErrNoNode):
			f.gone()
			return
		case errors.Is(err, keeper.ErrClosed), errors.Is(err, keeper.ErrSessionExpired):
			f.lose(err)
			return
		case err != nil:
			if b.Sleep(f.ctx) != nil {
				return
			}
			continue
		case st.EphemeralOwner != f.session:
			f.lose(fmt.Errorf("%w: %s is owned by session 0x%x, not 0x%x", ErrNotOwner, f.path, st.EphemeralOwner, f.session))
			// Our GetW left a watch on a node that is not ours: take it off.
			_ = Cleanup(f.ctx, f.c, func(ctx context.Context) error {
				return f.c.RemoveWatches(ctx, f.path, keeper.WatchData)
			})
			return
		}
		b.Reset()
		if string(data) == RevokeMessage {
			f.mu.Lock()
			f.revoke()
			f.mu.Unlock()
		}
		select {
		case ev := <-ch:
			switch ev.Type {
			case keeper.EventNodeDeleted:
				f.gone()
				return
			case keeper.EventNotWatching:
				cause := ev.Err
				if cause == nil {
					cause = keeper.ErrSessionExpired
				}
				f.lose(cause)
				return
			}
			// Data changed, or the watch was removed by a RemoveWatches
			// of this client: set it again.
		case <-f.ctx.Done():
			return
		}
	}
}
