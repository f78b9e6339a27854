package counter

import (
	"context"
	"errors"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrUnknownOutcome reports a write whose reply was lost and whose session
// ended before the write could be looked up: it may or may not have been
// applied. It needs both a lost reply and a session expiry; a reply lost
// on a live session is always resolved.
var ErrUnknownOutcome = node.ErrUnknownOutcome

// writer makes a handle's versioned writes of one node exactly-once across
// lost replies, with markers under the node (see the package doc).
type writer struct {
	c    *keeper.Client
	path string
	once *node.Once
}

func newWriter(c *keeper.Client, path string) *writer {
	return &writer{c: c, path: path, once: node.NewOnce(c, path, nil)}
}

// errNotApplied tells the caller that its write whose reply was lost was
// found not applied: it reads the node again and decides anew.
var errNotApplied = node.ErrNotApplied

// set writes data to the node if its data version is version. It reports
// applied=false (and no error) when the version did not match, and the
// node's new Stat when applied (nil if it could not be read after a lost
// reply).
func (w *writer) set(ctx context.Context, data []byte, version int32) (bool, *keeper.Stat, error) {
	res, err := w.once.Commit(ctx, func(t *keeper.Txn) { t.Set(w.path, data, version) })
	switch {
	case errors.Is(err, keeper.ErrBadVersion):
		return false, nil, nil
	case err != nil:
		return false, nil, err
	case res != nil:
		return true, res[0].Stat, nil
	}
	// Applied, reply lost: read the Stat.
	_, st, gerr := w.c.Get(ctx, w.path)
	if gerr != nil {
		st = nil
	}
	return true, st, nil
}

// close deletes the markers of this handle's writes.
func (w *writer) close(ctx context.Context) error { return w.once.Close(ctx) }
