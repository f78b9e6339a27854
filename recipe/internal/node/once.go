package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/keeper-go/keeper"
)

// ErrNotApplied is returned by Once.Commit for a transaction whose reply
// was lost and that was then found not applied (and never to be): the
// caller may build it again and commit it anew.
var ErrNotApplied = errors.New("node: transaction not applied")

// ErrUnknownOutcome is returned by Once.Commit when a transaction's reply
// was lost and its session ended before the transaction could be looked
// up: it may or may not have been applied.
var ErrUnknownOutcome = errors.New("node: outcome unknown: reply lost and session ended")

// MarkerPrefix starts the names of Once's marker nodes.
const MarkerPrefix = "keeper-op-"

// maxDeletes bounds the older markers one commit deletes in passing.
const maxDeletes = 4

// Once commits transactions that must apply at most once, and tells after
// a lost reply whether they did. Each commit is the caller's operations
// preceded by the creation of an ephemeral marker node
// "<dir>/keeper-op-<id>-<n>", unique to the commit, and the deletion of up
// to four markers of earlier commits. When the reply is lost, Once syncs
// and looks for the marker: present means applied; absent on the same
// session (whose ephemeral nodes cannot vanish, and whose requests still
// queued on the old connection were applied or refused before the sync
// returned) means not applied. Close deletes the markers left.
//
// Once is safe for concurrent use.
type Once struct {
	c   *keeper.Client
	dir string
	// mkdir, when set, creates dir when it is missing.
	mkdir func(ctx context.Context) error
	id    string
	seq   atomic.Uint64

	mu      sync.Mutex
	pending []marker // markers of applied commits, not yet deleted
}

type marker struct {
	path    string
	session int64
}

// NewOnce returns a Once whose markers are children of dir. mkdir, when not
// nil, is called to create dir when a commit finds it missing; otherwise
// the commit fails with ErrNoNode.
func NewOnce(c *keeper.Client, dir string, mkdir func(ctx context.Context) error) *Once {
	return &Once{c: c, dir: dir, mkdir: mkdir, id: UUIDHex()}
}

// take removes up to maxDeletes markers of the current session from the
// pending list (markers of older sessions went, or go, with them).
func (o *Once) take(max int) []marker {
	sid := o.c.SessionID()
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := o.pending[:0]
	var out []marker
	for _, m := range o.pending {
		switch {
		case m.session != sid:
		case len(out) < max:
			out = append(out, m)
		default:
			keep = append(keep, m)
		}
	}
	clear(o.pending[len(keep):])
	o.pending = keep
	return out
}

func (o *Once) give(ms ...marker) {
	if len(ms) == 0 {
		return
	}
	o.mu.Lock()
	o.pending = append(o.pending, ms...)
	o.mu.Unlock()
}

// Commit commits a transaction of the operations build adds. It returns
// their results on success; nil results and a nil error when the reply
// was lost but the transaction was found applied; an error matching
// ErrNotApplied when it was found not applied; ErrUnknownOutcome when it
// cannot be known; and the transaction's error (a *keeper.TxnError whose
// errors.Is sees the failing operation's error) when one of the caller's
// operations failed. Requests never sent are sent again. ctx bounds the
// whole.
func (o *Once) Commit(ctx context.Context, build func(*keeper.Txn)) ([]keeper.TxnResult, error) {
	var b Backoff
	for {
		mk := marker{
			path:    keeper.JoinPath(o.dir, fmt.Sprintf("%s%s-%d", MarkerPrefix, o.id, o.seq.Add(1))),
			session: o.c.SessionID(),
		}
		old := o.take(maxDeletes)
		txn := o.c.Txn().Create(mk.path, nil, keeper.Ephemeral())
		for _, m := range old {
			txn.Delete(m.path, keeper.AnyVersion)
		}
		build(txn)
		res, err := txn.Commit(ctx)
		if err == nil {
			o.give(mk)
			return res[1+len(old):], nil
		}
		var te *keeper.TxnError
		if errors.As(err, &te) {
			switch {
			case te.Index == 0 && errors.Is(err, keeper.ErrNoNode) && o.mkdir != nil:
				o.give(old...)
				if err := o.mkdir(ctx); err != nil {
					return nil, err
				}
				continue
			case te.Index > 0 && te.Index <= len(old):
				// An old marker is gone already: forget it.
				o.give(old[:te.Index-1]...)
				o.give(old[te.Index:]...)
				continue
			}
			o.give(old...)
			return nil, err
		}
		if keeper.SafeToRetry(err) && ctx.Err() == nil && IsTransient(err) {
			o.give(old...)
			if err := b.Sleep(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if ctx.Err() != nil && keeper.SafeToRetry(err) || !IsTransient(err) {
			o.give(old...)
			return nil, err
		}
		applied, lerr := o.lookup(ctx, mk)
		switch {
		case lerr != nil:
			// Still unknown: the old markers stay where they are.
			return nil, errors.Join(err, lerr)
		case applied:
			o.give(mk)
			return nil, nil
		}
		o.give(old...)
		return nil, fmt.Errorf("%w: %w", ErrNotApplied, err)
	}
}

// lookup finds out whether the commit that created mk was applied,
// retrying transient errors until ctx ends.
func (o *Once) lookup(ctx context.Context, mk marker) (bool, error) {
	var b Backoff
	for {
		var st *keeper.Stat
		err := o.c.Sync(ctx, o.dir)
		if err == nil || errors.Is(err, keeper.ErrNoNode) {
			st, err = o.c.Exists(ctx, mk.path)
		}
		switch {
		case err == nil && st != nil:
			return true, nil
		case err == nil && o.c.SessionID() == mk.session:
			return false, nil
		case err == nil:
			return false, fmt.Errorf("%w: %s", ErrUnknownOutcome, mk.path)
		case ctx.Err() != nil || !IsTransient(err):
			return false, err
		}
		if err := b.Sleep(ctx); err != nil {
			return false, err
		}
	}
}

// Close deletes the markers of this Once's commits, with a context bounded
// by the session timeout that ctx's cancellation does not end.
func (o *Once) Close(ctx context.Context) error {
	for {
		ms := o.take(maxDeletes)
		if len(ms) == 0 {
			return nil
		}
		for i, m := range ms {
			err := Cleanup(ctx, o.c, func(ctx context.Context) error {
				var b Backoff
				for {
					err := o.c.Delete(ctx, m.path, keeper.AnyVersion)
					switch {
					case err == nil, errors.Is(err, keeper.ErrNoNode):
						return nil // a retried delete whose reply was lost
					case ctx.Err() != nil || !IsTransient(err):
						return err
					}
					if err := b.Sleep(ctx); err != nil {
						return err
					}
				}
			})
			if err != nil {
				o.give(ms[i:]...)
				return fmt.Errorf("node: delete marker %s: %w", m.path, err)
			}
		}
	}
}
