package counter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrUnknownOutcome reports a write whose reply was lost and whose session
// ended before the write could be looked up: it may or may not have been
// applied. It needs both a lost reply and a session expiry; a reply lost
// on a live session is always resolved.
var ErrUnknownOutcome = errors.New("counter: outcome unknown: reply lost and session ended")

// markerPrefix starts the name of the marker nodes a handle creates under
// the value's node (see writer).
const markerPrefix = "keeper-op-"

// maxDeletes bounds the older markers one write deletes in passing.
const maxDeletes = 4

// writer makes a handle's versioned writes of one node exactly-once across
// lost replies. Each write is a transaction that sets the node's data at a
// version and creates an ephemeral marker child "keeper-op-<id>-<n>",
// unique to the write, and deletes up to maxDeletes markers of this
// handle's earlier writes. When the reply is lost, the writer syncs and
// looks for the marker: present means applied, absent (on the same
// session, whose ephemeral nodes cannot vanish) means not applied. Only
// the newest markers of the handle stay on the server; Close deletes them.
type writer struct {
	c    *keeper.Client
	path string
	id   string
	seq  atomic.Uint64

	mu      sync.Mutex
	pending []marker // applied markers not yet deleted
}

type marker struct {
	path    string
	session int64
}

func newWriter(c *keeper.Client, path string) *writer {
	return &writer{c: c, path: path, id: node.UUIDHex()}
}

// take removes up to maxDeletes markers of the current session from the
// pending list (markers of older sessions went with them).
func (w *writer) take() []marker {
	sid := w.c.SessionID()
	w.mu.Lock()
	defer w.mu.Unlock()
	keep := w.pending[:0]
	var out []marker
	for _, m := range w.pending {
		switch {
		case m.session != sid:
			// Ephemeral: gone, or going, with its session.
		case len(out) < maxDeletes:
			out = append(out, m)
		default:
			keep = append(keep, m)
		}
	}
	clear(w.pending[len(keep):])
	w.pending = keep
	return out
}

func (w *writer) give(ms ...marker) {
	if len(ms) == 0 {
		return
	}
	w.mu.Lock()
	w.pending = append(w.pending, ms...)
	w.mu.Unlock()
}

// set writes data to the node if its data version is version. It reports
// applied=false (and no error) when the version did not match, and the
// node's new Stat when applied. A lost reply is resolved, not retried
// blindly: see writer.
func (w *writer) set(ctx context.Context, data []byte, version int32) (bool, *keeper.Stat, error) {
	for {
		sid := w.c.SessionID()
		mk := marker{
			path:    keeper.JoinPath(w.path, fmt.Sprintf("%s%s-%d", markerPrefix, w.id, w.seq.Add(1))),
			session: sid,
		}
		old := w.take()
		txn := w.c.Txn().Set(w.path, data, version).Create(mk.path, nil, keeper.Ephemeral())
		for _, m := range old {
			txn.Delete(m.path, keeper.AnyVersion)
		}
		res, err := txn.Commit(ctx)
		if err == nil {
			w.give(mk)
			return true, res[0].Stat, nil
		}
		var te *keeper.TxnError
		if errors.As(err, &te) {
			switch {
			case te.Index == 0 && errors.Is(err, keeper.ErrBadVersion):
				w.give(old...)
				return false, nil, nil
			case te.Index == 0:
				w.give(old...)
				return false, nil, err
			case te.Index >= 2:
				// An old marker is gone already: forget it, write again.
				w.give(old[:te.Index-2]...)
				w.give(old[te.Index-1:]...)
				continue
			default:
				w.give(old...)
				return false, nil, fmt.Errorf("counter: create marker %s: %w", mk.path, err)
			}
		}
		if keeper.SafeToRetry(err) {
			w.give(old...)
			if ctx.Err() != nil || !isTransient(err) {
				return false, nil, err
			}
			continue
		}
		if !outcomeUnknown(err) {
			w.give(old...)
			return false, nil, err
		}
		applied, st, lerr := w.lookup(ctx, mk)
		if lerr != nil {
			// Still unknown: the markers stay where they are.
			return false, nil, errors.Join(err, lerr)
		}
		if applied {
			w.give(mk)
			return true, st, nil
		}
		w.give(old...)
		// Not applied: the caller reads again and writes again.
		return false, nil, errNotApplied
	}
}

// errNotApplied tells the caller that its write whose reply was lost was
// found not applied: it reads the node again and decides anew.
var errNotApplied = errors.New("counter: write not applied")

func outcomeUnknown(err error) bool {
	return isTransient(err) || errors.Is(err, keeper.ErrSessionExpired) || errors.Is(err, keeper.ErrSessionMoved)
}

// lookup finds out whether the write that created mk was applied, retrying
// transient errors until ctx ends.
func (w *writer) lookup(ctx context.Context, mk marker) (bool, *keeper.Stat, error) {
	delay := 10 * time.Millisecond
	for {
		var st *keeper.Stat
		err := w.c.Sync(ctx, w.path)
		if err == nil {
			st, err = w.c.Exists(ctx, mk.path)
		}
		switch {
		case err == nil && st != nil:
			// Applied: the node's Stat is not known, read it.
			_, nst, err := w.c.Get(ctx, w.path)
			if err != nil {
				nst = nil // the caller does without
			}
			return true, nst, nil
		case err == nil && w.c.SessionID() == mk.session:
			return false, nil, nil
		case err == nil:
			return false, nil, fmt.Errorf("%w: %s", ErrUnknownOutcome, w.path)
		case !outcomeUnknown(err) && !errors.Is(err, keeper.ErrNoNode):
			return false, nil, err
		}
		if err := backoff(ctx, &delay); err != nil {
			return false, nil, err
		}
	}
}

// close deletes the markers of this handle's writes. ctx bounds it.
func (w *writer) close(ctx context.Context) error {
	for {
		ms := w.take()
		if len(ms) == 0 {
			return nil
		}
		for _, m := range ms {
			err := node.Cleanup(ctx, w.c, func(ctx context.Context) error {
				err := w.c.Delete(ctx, m.path, keeper.AnyVersion)
				if errors.Is(err, keeper.ErrNoNode) {
					return nil
				}
				return err
			})
			if err != nil {
				w.give(m)
				return fmt.Errorf("counter: delete marker %s: %w", m.path, err)
			}
		}
	}
}
