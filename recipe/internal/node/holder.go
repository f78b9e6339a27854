package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/keeper-go/keeper"
)

// Holder is what a lock-like recipe (a lock, a semaphore's lease) keeps
// about the node it holds: the node and its Fence, a node whose delete
// failed (deleted again by the next call), and the turn that lets one
// Acquire or Release run at a time. It implements the recipe's Release,
// IsAcquired, Node, Lost, Suspended and Err, which the recipe forwards to
// with its own doc comments. Make one with NewHolder.
type Holder struct {
	c          *keeper.Client
	pkg        string // "lock": the prefix of errors
	label      string // names the recipe in errors: "/a", "semaphore /a"
	errNotHeld error
	errLost    error

	turn chan struct{} // 1-buffered: serialises Acquire and Release

	mu      sync.Mutex
	node    string // the held node's path
	fence   *Fence // watches the held node; nil when none is held
	token   int64  // the held node's czxid
	last    string // the node held last, for Guard after a release
	pending string // a node whose delete failed
}

// NewHolder returns a Holder for a recipe of package pkg that label names
// in errors. Release reports errNotHeld when nothing is held, and errLost
// (wrapped with the loss's cause) when the node was lost; Err wraps
// errLost too.
func NewHolder(c *keeper.Client, pkg, label string, errNotHeld, errLost error) *Holder {
	return &Holder{c: c, pkg: pkg, label: label, errNotHeld: errNotHeld, errLost: errLost,
		turn: make(chan struct{}, 1)}
}

// Begin waits for the turn to acquire or release (op names it in the
// error), or until ctx ends; call End when done.
func (h *Holder) Begin(ctx context.Context, op string) error {
	select {
	case h.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %s %s: %w", h.pkg, op, h.label, CtxErr(ctx))
	}
}

// End gives the turn back.
func (h *Holder) End() { <-h.turn }

// Hold records that the node at path, created at zxid czxid (its
// fencing token), is held, watched by f.
func (h *Holder) Hold(path string, czxid int64, f *Fence) {
	h.mu.Lock()
	h.node, h.fence, h.token, h.last = path, f, czxid, path
	h.mu.Unlock()
}

// Token returns the fencing token of the held node, its czxid: every
// later holder's node was created later, so its token is larger. It is 0
// when nothing is held.
func (h *Holder) Token() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fence == nil || !h.fence.Held() {
		return 0
	}
	return h.token
}

// Guard adds to t the condition that the node is still held (see
// Fence.Guard): a Check of the held node. Without a held node it checks
// the node held last (deleted, or about to go with its session), or,
// before the first acquisition, a path that no recipe creates, so the
// server refuses the transaction with ErrNoNode either way.
func (h *Holder) Guard(t *keeper.Txn) *keeper.Txn {
	h.mu.Lock()
	p := h.last
	h.mu.Unlock()
	return GuardPath(t, p)
}

// GuardPath adds to t a Check that the node at p exists; for p "" a Check
// of a path that no recipe creates, which the server refuses.
func GuardPath(t *keeper.Txn, p string) *keeper.Txn {
	if p == "" {
		p = "/keeper-not-held-" + UUIDHex()
	}
	return t.Check(p, keeper.AnyVersion)
}

// Discard deletes the node at path, which is not held (a failed or
// cancelled acquisition left it), with Cleanup's fresh bounded context;
// when that fails, the next Release or DeletePending deletes it.
func (h *Holder) Discard(ctx context.Context, path string) {
	if err := Cleanup(ctx, h.c, func(cctx context.Context) error { return DeleteOwn(cctx, h.c, path) }); err != nil {
		h.mu.Lock()
		h.pending = path
		h.mu.Unlock()
	}
}

// DeletePending deletes the node an earlier failed delete left.
func (h *Holder) DeletePending(ctx context.Context) error {
	h.mu.Lock()
	p := h.pending
	h.mu.Unlock()
	if p == "" {
		return nil
	}
	if err := DeleteOwn(ctx, h.c, p); err != nil {
		return fmt.Errorf("%s: delete %s left by an earlier call: %w", h.pkg, p, err)
	}
	h.mu.Lock()
	h.pending = ""
	h.mu.Unlock()
	return nil
}

// Release stops the fence and deletes the held node, in its turn. Without a
// held node it deletes a pending one (and returns nil when it could) or
// returns errNotHeld; a lost node is not deleted (it is not ours) and gives
// errLost with the cause. A failed delete leaves the node pending.
func (h *Holder) Release(ctx context.Context) error {
	if err := h.Begin(ctx, "release"); err != nil {
		return err
	}
	defer h.End()
	h.mu.Lock()
	f, p := h.fence, h.node
	h.fence, h.node = nil, ""
	pending := h.pending != ""
	h.mu.Unlock()
	switch {
	case f == nil && pending:
		return h.DeletePending(ctx)
	case f == nil:
		return fmt.Errorf("%w: %s", h.errNotHeld, h.label)
	}
	if lost := f.Stop(); lost != nil {
		return fmt.Errorf("%w: %s: %w", h.errLost, h.label, lost)
	}
	if err := DeleteOwn(ctx, h.c, p); err != nil {
		h.mu.Lock()
		h.pending = p
		h.mu.Unlock()
		return fmt.Errorf("%s: release %s: %w", h.pkg, h.label, err)
	}
	return nil
}

// Held reports whether a node is held now: acquired, not released and not
// lost.
func (h *Holder) Held() bool {
	h.mu.Lock()
	f := h.fence
	h.mu.Unlock()
	return f != nil && f.Held()
}

// Node returns the held node's path, or "" when none is held.
func (h *Holder) Node() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fence == nil || !h.fence.Held() {
		return ""
	}
	return h.node
}

// closed is the Lost and Suspended of a Holder that holds nothing.
var closed = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Lost returns the held node's Fence.Lost, or a closed channel when none is
// held.
func (h *Holder) Lost() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fence == nil {
		return closed
	}
	return h.fence.Lost()
}

// Suspended returns the held node's Fence.Suspended, or a closed channel
// when none is held.
func (h *Holder) Suspended() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fence == nil {
		return closed
	}
	return h.fence.Suspended()
}

// Verified returns the held node's Fence.Verified, or a closed channel
// when none is held.
func (h *Holder) Verified() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fence == nil {
		return closed
	}
	return h.fence.Verified()
}

// Revoked returns the held node's Fence.Revoked, or a closed channel when
// none is held.
func (h *Holder) Revoked() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fence == nil {
		return closed
	}
	return h.fence.Revoked()
}

// Err returns why the held node was lost (errLost wrapped with the cause),
// or nil.
func (h *Holder) Err() error {
	h.mu.Lock()
	f := h.fence
	h.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", h.errLost, h.label, err)
	}
	return nil
}

// Revoke asks the holder of the node at path to release it, as Curator's
// Revoker.attemptRevoke does: it sets the node's data to RevokeMessage,
// which the holder's Fence reports on Revoked. A node that is gone needs no
// revocation (nil). Holding is cooperative: the holder decides whether to
// release. The write is retried on transient errors (it is idempotent).
func Revoke(ctx context.Context, c *keeper.Client, path string) error {
	return Retry(ctx, func(ctx context.Context) error {
		_, err := c.Set(ctx, path, []byte(RevokeMessage), keeper.AnyVersion)
		if errors.Is(err, keeper.ErrNoNode) {
			return nil
		}
		return err
	})
}
