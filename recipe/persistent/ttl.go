package persistent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// TouchName is the name of the child a TTLNode refreshes, as Curator's
// PersistentTtlNode.DEFAULT_CHILD_NODE_NAME.
const TouchName = "touch"

// TTLNode is a TTL node kept alive without writing to it, in the layout of
// Curator's PersistentTtlNode: the node itself is a persistent TTL node
// (kept present by a Node, with our data), and its child "touch", also a
// TTL node, is written every ttl/2. A TTL node is not reaped while it has
// children, so watchers of the node see no keep-alive events; when the
// process stops, touch expires after the TTL and the node after it.
// (Curator 5.4 made the node a container, which is reaped the same way
// once touch is gone; later versions make it a TTL node, as here.)
//
// The server must run with extendedTypesEnabled; otherwise the TTLNode
// ends with ErrTTLUnsupported (WaitForInitialCreate returns it).
//
// All methods are safe for concurrent use.
type TTLNode struct {
	n     *Node
	c     *keeper.Client
	ttl   time.Duration
	touch string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewTTLNode starts a TTLNode at path with data and the given TTL (at
// least 2ms). It works in the background from now on; Close stops it and
// leaves the node to expire.
func NewTTLNode(c *keeper.Client, path string, ttl time.Duration, data []byte) (*TTLNode, error) {
	if ttl < 2*time.Millisecond {
		return nil, fmt.Errorf("persistent: TTL node %s: %w: ttl %v must be at least 2ms", path, keeper.ErrBadArguments, ttl)
	}
	n, err := newNode(c, path, data, config{ttl: ttl, keep: true})
	if err != nil {
		return nil, err
	}
	t := &TTLNode{n: n, c: c, ttl: ttl, touch: keeper.JoinPath(path, TouchName)}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.wg.Add(1)
	go t.run(ctx)
	return t, nil
}

// run writes the touch child at once after the first create, then every
// ttl/2, until Close.
func (t *TTLNode) run(ctx context.Context) {
	defer t.wg.Done()
	if t.n.WaitForInitialCreate(ctx) != nil {
		return
	}
	tick := time.NewTicker(t.ttl / 2)
	defer tick.Stop()
	for {
		t.refresh(ctx)
		select {
		case <-tick.C:
		case <-t.n.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

// refresh sets the touch child's data, creating it when it is missing.
// A missing parent is left to the Node, which creates it again.
func (t *TTLNode) refresh(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, t.ttl/2)
	defer cancel()
	data := []byte(node.LocalAddress())
	_, err := t.c.Set(rctx, t.touch, data, keeper.AnyVersion)
	if !errors.Is(err, keeper.ErrNoNode) {
		return
	}
	_, err = t.c.Create(rctx, t.touch, data, keeper.TTL(t.ttl))
	if errors.Is(err, keeper.ErrNodeExists) {
		_, _ = t.c.Set(rctx, t.touch, data, keeper.AnyVersion)
	}
}

// Path returns the node's path.
func (t *TTLNode) Path() string { return t.n.base }

// WaitForInitialCreate waits until the node has been created for the
// first time, the TTLNode ends (its error is returned: ErrTTLUnsupported
// when the server refuses TTL nodes) or ctx ends.
func (t *TTLNode) WaitForInitialCreate(ctx context.Context) error {
	return t.n.WaitForInitialCreate(ctx)
}

// SetData replaces the node's data, as Node.SetData.
func (t *TTLNode) SetData(ctx context.Context, data []byte) error { return t.n.SetData(ctx, data) }

// Data returns a copy of the node's data.
func (t *TTLNode) Data() []byte { return t.n.Data() }

// Events returns the events of the Node that keeps the node present.
func (t *TTLNode) Events() <-chan Event { return t.n.Events() }

// Err returns why the TTLNode ended, as Node.Err.
func (t *TTLNode) Err() error { return t.n.Err() }

// Close stops refreshing the touch child and keeping the node present. It
// deletes nothing: touch expires after the TTL, then the node. ctx bounds
// taking the Node's watch off the server. Close is idempotent.
func (t *TTLNode) Close(ctx context.Context) error {
	t.cancel()
	t.wg.Wait()
	return t.n.Close(ctx)
}
