package keeper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// AnyVersion matches every version in Set, Delete, SetACL and Check.
const AnyVersion int32 = -1

// CreateOption configures Create.
type CreateOption func(*createOpts)

type createOpts struct {
	ephemeral, sequential, container, makeParents bool
	ttl                                           time.Duration
	acl                                           []ACL
	stat                                          *Stat
	errs                                          []string
}

// Ephemeral makes the node ephemeral: the server deletes it when the
// session ends.
func Ephemeral() CreateOption { return func(o *createOpts) { o.ephemeral = true } }

// Sequential makes the server append a monotonic 10-digit counter to the
// name; Create returns the actual path.
func Sequential() CreateOption { return func(o *createOpts) { o.sequential = true } }

// Container makes a container node, which the server deletes some time
// after its last child is gone (ZooKeeper 3.5.3+).
func Container() CreateOption { return func(o *createOpts) { o.container = true } }

// TTL makes a persistent node that the server deletes when it has not been
// modified for d and has no children (ZooKeeper 3.5.3+, with
// extendedTypesEnabled on the server). d is rounded to milliseconds.
func TTL(d time.Duration) CreateOption {
	return func(o *createOpts) {
		if d < time.Millisecond {
			o.errs = append(o.errs, fmt.Sprintf("TTL(%v) must be at least 1ms", d))
		}
		o.ttl = d
	}
}

// MakeParents creates missing parent nodes (persistent, with the client's
// default ACL) first.
func MakeParents() CreateOption { return func(o *createOpts) { o.makeParents = true } }

// WithACL sets the node's ACL instead of the client's default ACL.
func WithACL(acl ...ACL) CreateOption {
	return func(o *createOpts) {
		if len(acl) == 0 {
			o.errs = append(o.errs, "WithACL needs at least one entry")
		}
		o.acl = acl
	}
}

// StoreStat stores the new node's Stat in st.
func StoreStat(st *Stat) CreateOption { return func(o *createOpts) { o.stat = st } }

func (o *createOpts) flags() (int32, wire.OpCode, error) {
	if len(o.errs) > 0 {
		return 0, 0, fmt.Errorf("%w: %s", ErrBadArguments, strings.Join(o.errs, "; "))
	}
	switch {
	case o.container && (o.ephemeral || o.sequential || o.ttl > 0):
		return 0, 0, fmt.Errorf("%w: Container cannot be combined with Ephemeral, Sequential or TTL", ErrBadArguments)
	case o.ttl > 0 && o.ephemeral:
		return 0, 0, fmt.Errorf("%w: TTL cannot be combined with Ephemeral", ErrBadArguments)
	case o.container:
		return 4, wire.OpCreateContainer, nil
	case o.ttl > 0:
		if o.sequential {
			return 6, wire.OpCreateTTL, nil
		}
		return 5, wire.OpCreateTTL, nil
	}
	var f int32
	if o.ephemeral {
		f |= 1
	}
	if o.sequential {
		f |= 2
	}
	return f, wire.OpCreate2, nil
}

func toWireACL(acl []ACL) []wire.ACL {
	out := make([]wire.ACL, len(acl))
	for i, a := range acl {
		out[i] = wire.ACL{Perms: int32(a.Perms), ID: wire.ID{Scheme: a.Scheme, ID: a.ID}}
	}
	return out
}

func fromWireACL(acl []wire.ACL) []ACL {
	out := make([]ACL, len(acl))
	for i, a := range acl {
		out[i] = ACL{Perms: Perm(a.Perms), Scheme: a.ID.Scheme, ID: a.ID.ID}
	}
	return out
}

// applyCreateOpts gathers Create's options, skipping nil ones as the
// client's own options are.
func applyCreateOpts(opts []CreateOption) createOpts {
	var o createOpts
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// Create creates a node with data and returns its path (relative to the
// chroot; for a sequential node, with the server's suffix). By default the
// node is persistent with the client's default ACL; see Ephemeral,
// Sequential, Container, TTL, MakeParents, WithACL and StoreStat.
//
// Create is never retried by the client: after ErrConnectionLoss the node
// may or may not exist. For a sequential node, find out by giving the name
// a unique prefix and listing the parent (the recipes do this).
func (c *Client) Create(ctx context.Context, path string, data []byte, opts ...CreateOption) (string, error) {
	o := applyCreateOpts(opts)
	if err := validatePath(path, o.sequential); err != nil {
		return "", err
	}
	flags, op, err := o.flags()
	if err != nil {
		return "", fmt.Errorf("keeper: create %s: %w", path, err)
	}
	wacl := c.defaultACL
	if o.acl != nil {
		wacl = toWireACL(o.acl)
	}
	if op == wire.OpCreate2 && o.stat == nil {
		op = wire.OpCreate // no Stat wanted: the shorter reply will do
	}
	for attempt := 0; ; attempt++ {
		r := startRequest(op)
		r.frame = c.root.appendCreate(r.frame, op, path, data, wacl, flags, o.ttl)
		r.endFrame()
		if op == wire.OpCreate {
			r.resp = &r.cr
		} else {
			r.resp = &r.c2
		}
		err := c.roundTrip(ctx, r, "create", path)
		if err == nil {
			created := r.c2.Path
			if op == wire.OpCreate {
				created = r.cr.Path
			} else if o.stat != nil {
				*o.stat = Stat(r.c2.Stat)
			}
			p := c.root.strip(created)
			r.recycle()
			return p, nil
		}
		if !o.makeParents || !errors.Is(err, ErrNoNode) || attempt >= 3 {
			return "", err
		}
		if perr := c.EnsurePath(ctx, parentPath(path)); perr != nil {
			return "", perr
		}
	}
}

// EnsurePath creates path and every missing ancestor as persistent nodes
// with the client's default ACL; nodes that exist are left alone.
// EnsurePath(ctx, "/") creates the chroot node itself.
func (c *Client) EnsurePath(ctx context.Context, path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	// Walk up until a node exists, then create downward.
	var missing []string
	for p := path; ; p = parentPath(p) {
		if p == "/" && c.root == "" {
			break
		}
		st, err := c.Exists(ctx, p)
		if err != nil {
			return err
		}
		if st != nil {
			break
		}
		missing = append(missing, p)
		if p == "/" {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		var err error
		if p == "/" {
			// The chroot node itself, created outside the chroot.
			err = c.ensureChroot(ctx)
		} else {
			_, err = c.Create(ctx, p, nil)
		}
		if err != nil && !errors.Is(err, ErrNodeExists) {
			return err
		}
	}
	return nil
}

// ensureChroot creates the chroot node and its ancestors.
func (c *Client) ensureChroot(ctx context.Context) error {
	parts := strings.Split(strings.TrimPrefix(string(c.root), "/"), "/")
	p := ""
	for _, part := range parts {
		p += "/" + part
		var resp wire.Create2Response
		_, err := c.call(ctx, wire.OpCreate2, "create", p,
			&wire.CreateRequest{Path: p, ACL: c.defaultACL}, &resp, nil)
		if err != nil && !errors.Is(err, ErrNodeExists) {
			return err
		}
	}
	return nil
}

// read runs a read call under the client's retry policy. The hot reads
// (Get, GetW, Exists, ExistsW) loop on c.cfg.retry.again inline instead:
// they return several values from a pooled request, which a closure
// would make escape to the heap on every call. Both forms apply the same
// policy through Retry.again.
func (c *Client) read(ctx context.Context, fn func(context.Context) error) error {
	return c.cfg.retry.Do(ctx, fn)
}

// Get returns the node's data and Stat. A node created with nil data
// returns nil.
func (c *Client) Get(ctx context.Context, path string) ([]byte, *Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, err
	}
	var rs retryState
	for {
		data, st, err := c.getOnce(ctx, path, nil)
		if err == nil || !c.cfg.retry.again(ctx, &rs, err) {
			return data, st, err
		}
	}
}

// getOnce sends one getData request.
func (c *Client) getOnce(ctx context.Context, path string, w *watchReg) ([]byte, *Stat, error) {
	r := startRequest(wire.OpGetData)
	r.frame = wire.AppendBool(c.root.appendPath(r.frame, path), w != nil)
	r.endFrame()
	r.resp, r.watch = &r.gd, w
	if err := c.roundTrip(ctx, r, "get", path); err != nil {
		return nil, nil, err
	}
	data := r.gd.Data
	st := new(Stat)
	*st = Stat(r.gd.Stat)
	r.recycle()
	return data, st, nil
}

// GetW is Get that also sets a one-shot watch: the returned channel
// yields exactly one event (NodeDataChanged or NodeDeleted, or
// EventNotWatching if the session is lost or the client closed) and is
// then closed. A disconnect does not end the watch: it is restored on
// reconnect, and a change made meanwhile still fires.
func (c *Client) GetW(ctx context.Context, path string) ([]byte, *Stat, <-chan Event, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, nil, err
	}
	var rs retryState
	for {
		ch := make(chan Event, 1)
		data, st, err := c.getOnce(ctx, path, &watchReg{kind: kindData, path: path, ch: ch})
		if err == nil {
			return data, st, ch, nil
		}
		if !c.cfg.retry.again(ctx, &rs, err) {
			return nil, nil, nil, err
		}
	}
}

// Exists returns the node's Stat, or nil (and no error) when it does not
// exist.
func (c *Client) Exists(ctx context.Context, path string) (*Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, err
	}
	var rs retryState
	for {
		st, err := c.existsOnce(ctx, path, nil)
		if err == nil || !c.cfg.retry.again(ctx, &rs, err) {
			return st, err
		}
	}
}

// existsOnce sends one exists request; a missing node gives nil, nil.
func (c *Client) existsOnce(ctx context.Context, path string, w *watchReg) (*Stat, error) {
	r := startRequest(wire.OpExists)
	r.frame = wire.AppendBool(c.root.appendPath(r.frame, path), w != nil)
	r.endFrame()
	r.resp, r.watch = &r.ex, w
	if err := c.roundTrip(ctx, r, "exists", path); err != nil {
		if errors.Is(err, ErrNoNode) {
			return nil, nil
		}
		return nil, err
	}
	st := new(Stat)
	*st = Stat(r.ex.Stat)
	r.recycle()
	return st, nil
}

// ExistsW is Exists that also sets a one-shot watch, which fires on
// NodeCreated, NodeDataChanged or NodeDeleted (see GetW).
func (c *Client) ExistsW(ctx context.Context, path string) (*Stat, <-chan Event, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, err
	}
	var rs retryState
	for {
		ch := make(chan Event, 1)
		st, err := c.existsOnce(ctx, path, &watchReg{kind: kindExists, path: path, ch: ch})
		if err == nil {
			return st, ch, nil
		}
		if !c.cfg.retry.again(ctx, &rs, err) {
			return nil, nil, err
		}
	}
}

// Children returns the names of the node's children, in no particular
// order.
func (c *Client) Children(ctx context.Context, path string) ([]string, error) {
	if err := validatePath(path, false); err != nil {
		return nil, err
	}
	var names []string
	err := c.read(ctx, func(ctx context.Context) error {
		var err error
		names, err = c.childrenOnce(ctx, path)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nonNil(names), nil
}

// childrenOnce is one getChildren of a valid path, without the retry
// policy.
func (c *Client) childrenOnce(ctx context.Context, path string) ([]string, error) {
	var resp wire.GetChildrenResponse
	_, err := c.call(ctx, wire.OpGetChildren, "children", path, &wire.GetChildrenRequest{Path: c.root.add(path)}, &resp, nil)
	return resp.Children, err
}

// ChildrenStat returns the names of the node's children and its Stat.
func (c *Client) ChildrenStat(ctx context.Context, path string) ([]string, *Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, err
	}
	var resp wire.GetChildren2Response
	err := c.read(ctx, func(ctx context.Context) error {
		_, err := c.call(ctx, wire.OpGetChildren2, "children", path, &wire.GetChildrenRequest{Path: c.root.add(path)}, &resp, nil)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	st := Stat(resp.Stat)
	return nonNil(resp.Children), &st, nil
}

// ChildrenW is ChildrenStat that also sets a one-shot watch, which fires
// on NodeChildrenChanged or NodeDeleted (see GetW).
func (c *Client) ChildrenW(ctx context.Context, path string) ([]string, *Stat, <-chan Event, error) {
	if err := validatePath(path, false); err != nil {
		return nil, nil, nil, err
	}
	var resp wire.GetChildren2Response
	var ch chan Event
	err := c.read(ctx, func(ctx context.Context) error {
		ch = make(chan Event, 1)
		_, err := c.call(ctx, wire.OpGetChildren2, "children", path, &wire.GetChildrenRequest{Path: c.root.add(path), Watch: true},
			&resp, &watchReg{kind: kindChild, path: path, ch: ch})
		return err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	st := Stat(resp.Stat)
	return nonNil(resp.Children), &st, ch, nil
}

// Set replaces the node's data if its version is version (AnyVersion
// matches any) and returns the new Stat. Set is never retried by the
// client.
func (c *Client) Set(ctx context.Context, path string, data []byte, version int32) (*Stat, error) {
	if err := validatePath(path, false); err != nil {
		return nil, err
	}
	r := startRequest(wire.OpSetData)
	r.frame = wire.AppendInt32(wire.AppendBuffer(c.root.appendPath(r.frame, path), data), version)
	r.endFrame()
	r.resp = &r.sd
	if err := c.roundTrip(ctx, r, "set", path); err != nil {
		return nil, err
	}
	st := new(Stat)
	*st = Stat(r.sd.Stat)
	r.recycle()
	return st, nil
}

// Delete deletes the node if its version is version (AnyVersion matches
// any). A node with children gives ErrNotEmpty.
func (c *Client) Delete(ctx context.Context, path string, version int32) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	if path == "/" {
		return fmt.Errorf("%w \"/\": cannot delete the root", ErrInvalidPath)
	}
	r := startRequest(wire.OpDelete)
	r.frame = wire.AppendInt32(c.root.appendPath(r.frame, path), version)
	r.endFrame()
	if err := c.roundTrip(ctx, r, "delete", path); err != nil {
		return err
	}
	r.recycle()
	return nil
}

// DeleteAll deletes the node and all its descendants, deepest first. It is
// not atomic: nodes created meanwhile under the tree are deleted too, and
// nodes that vanish meanwhile are ignored. A missing node is not an error.
// DeleteAll("/") deletes everything under the root (or chroot) but the
// root itself and /zookeeper.
//
// It lists the tree a level at a time, then deletes it a level at a time
// from the deepest up, in transactions of up to 128 nodes, with 16
// requests in flight; it holds the paths of the whole tree meanwhile. A
// tree of 1 609 nodes goes 4 to 5 times as fast as one request at a time
// on ZooKeeper 3.9 and 3.5 (BenchmarkDeleteAll). A transaction that
// fails because a node vanished or gained a child is done again node by
// node. A node that gained a child, or a connection loss, ends the pass:
// DeleteAll lists what is left and goes on, up to 10 times for the one
// (then it returns ErrNotEmpty: the tree is still growing) and as the
// client's retry policy allows (WithRetry) for the other.
func (c *Client) DeleteAll(ctx context.Context, path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	var rs retryState
	for attempt := 0; ; attempt++ {
		err := c.deleteAllPass(ctx, path)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrNotEmpty) && attempt < 10:
			// A child appeared meanwhile: go again.
		case c.cfg.retry.again(ctx, &rs, err):
		default:
			return err
		}
	}
}

// DeleteAll's limits: nodes and bytes of paths a transaction of deletes,
// and requests in flight.
const (
	deleteAllBatch   = 128
	deleteAllBytes   = 256 << 10
	deleteAllWorkers = 16
)

// deleteAllPass is one pass of DeleteAll: list top's tree level by level,
// then delete the levels from the deepest up.
func (c *Client) deleteAllPass(ctx context.Context, top string) error {
	levels := [][]string{{top}}
	for {
		next, err := c.listLevel(ctx, levels[len(levels)-1])
		if err != nil {
			return err
		}
		if len(next) == 0 {
			break
		}
		levels = append(levels, next)
	}
	if top == "/" {
		levels = levels[1:]
	}
	for i := len(levels) - 1; i >= 0; i-- {
		if err := c.deleteLevel(ctx, levels[i]); err != nil {
			return err
		}
	}
	return nil
}

// listLevel returns the paths of the children of nodes (a missing node has
// none), listing deleteAllWorkers nodes at a time. One getChildren a
// node, not MultiChildren batches: a batch's reply holds every list of it,
// and the lists of a few wide nodes would pass the largest reply the
// client takes (WithMaxBuffer) where each alone does not. Each is tried
// once, not under the retry policy as Children is: DeleteAll applies the
// policy to the whole pass, and retrying each listing inside it as well
// would multiply the tries (5 × 5 with DefaultRetry).
func (c *Client) listLevel(ctx context.Context, nodes []string) ([]string, error) {
	kids := make([][]string, len(nodes))
	err := forEach(len(nodes), deleteAllWorkers, func(i int) error {
		names, err := c.childrenOnce(ctx, nodes[i])
		if errors.Is(err, ErrNoNode) {
			return nil // gone meanwhile: nothing under it to delete
		}
		if err != nil {
			return err
		}
		if nodes[i] == "/" && c.root == "" {
			names = slices.DeleteFunc(names, func(n string) bool { return n == "zookeeper" })
		}
		kids[i] = make([]string, len(names))
		for j, n := range names {
			kids[i][j] = JoinPath(nodes[i], n)
		}
		return nil
	})
	return slices.Concat(kids...), err
}

// deleteLevel deletes nodes, none of which has children unless one was created
// meanwhile (ErrNotEmpty), in transactions of up to deleteAllBatch nodes
// and deleteAllBytes of paths (well under the server's 1 MiB request
// limit, jute.maxbuffer).
func (c *Client) deleteLevel(ctx context.Context, nodes []string) error {
	var batches [][]string
	for lo := 0; lo < len(nodes); {
		hi, size := lo, 0
		for hi < len(nodes) && hi-lo < deleteAllBatch && (hi == lo || size+len(nodes[hi]) <= deleteAllBytes) {
			size += len(nodes[hi])
			hi++
		}
		batches = append(batches, nodes[lo:hi])
		lo = hi
	}
	return forEach(len(batches), deleteAllWorkers, func(b int) error {
		batch := batches[b]
		if len(batch) > 1 {
			t := c.Txn()
			for _, p := range batch {
				t.Delete(p, AnyVersion)
			}
			_, err := t.Commit(ctx)
			if err == nil {
				return nil
			}
			if !errors.Is(err, ErrNoNode) && !errors.Is(err, ErrNotEmpty) {
				return err
			}
			// Nothing was applied: node by node, so that the nodes gone
			// meanwhile are skipped.
		}
		for _, p := range batch {
			// ErrNotEmpty (a child created since the listing) ends the
			// pass: DeleteAll lists what is left.
			if err := c.Delete(ctx, p, AnyVersion); err != nil && !errors.Is(err, ErrNoNode) {
				return err
			}
		}
		return nil
	})
}

// forEach runs fn(0) to fn(n-1) on up to workers goroutines and returns
// the first error, after which it starts no more calls; it returns once
// every call it started has.
func forEach(n, workers int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
		failed  atomic.Bool
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() {
					return
				}
				if err := fn(i); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// Sync makes the connected server catch up with the leader for path, so a
// read after it sees every write committed before it. It fails with
// ErrNotReadOnly on a read-only server.
//
// The promise holds within one session: a reconnect carries the last zxid
// seen, so the next server is no further behind, but a new session starts
// from zero (as a new Java client does) and may reach a server that is. A
// read retried on connection loss can cross into a new session; compare
// SessionID before the Sync and after the read when that matters.
func (c *Client) Sync(ctx context.Context, path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	var resp wire.SyncResponse
	_, err := c.call(ctx, wire.OpSync, "sync", path, &wire.SyncRequest{Path: c.root.add(path)}, &resp, nil)
	return err
}
