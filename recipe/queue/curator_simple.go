package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrEmpty is returned by SimpleDistributedQueue's Element and Remove for
// an empty queue (Curator throws NoSuchElementException).
var ErrEmpty = errors.New("queue: empty")

// SimpleDistributedQueue is Curator's SimpleDistributedQueue (ZooKeeper's
// queue recipe): items are persistent sequential children "qn-<sequence>"
// of the queue's node holding the item's bytes, taken in name order.
// Children whose names do not start with "qn-" are skipped, as Curator
// skips them. The queue's node is a container, which the server deletes
// once it is empty; it is created again whenever it is missing. An item
// is deleted when it is taken (at most once). Create one with NewSimple.
//
// Its methods are safe for concurrent use.
type SimpleDistributedQueue struct {
	c    *keeper.Client
	path string
	cfg  curatorConfig
	once *node.Once
}

// NewSimple returns a SimpleDistributedQueue on the node at path, for
// client c. Of the options only WithRawPuts applies. Nothing is sent
// until a method is called.
func NewSimple(c *keeper.Client, path string, opts ...CuratorOption) *SimpleDistributedQueue {
	q := &SimpleDistributedQueue{c: c, path: path, once: newOnce(c, path)}
	node.ApplyOptions(&q.cfg, opts)
	return q
}

// Path returns the queue's node.
func (q *SimpleDistributedQueue) Path() string { return q.path }

// Offer adds an item. It is stored exactly once, even when the reply is
// lost (unless WithRawPuts). An item too large for a request fails with
// an error matching keeper.ErrRequestTooLarge, and nothing is written.
func (q *SimpleDistributedQueue) Offer(ctx context.Context, data []byte) error {
	if err := keeper.ValidatePath(q.path); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if err := createItem(ctx, q.c, q.once, q.cfg.raw, q.path, simpleItemName, data); err != nil {
		return fmt.Errorf("queue: offer to %s: %w", q.path, err)
	}
	return nil
}

// Take removes the first item and returns it, waiting for one while the
// queue is empty; ctx bounds the wait (Curator's take, and its poll with
// a timeout).
func (q *SimpleDistributedQueue) Take(ctx context.Context) ([]byte, error) {
	data, _, err := q.first(ctx, true, true)
	return data, err
}

// Poll removes the first item and returns it; ok is false when the queue
// is empty (Curator's poll without a timeout). Use Take with a deadline
// to wait.
func (q *SimpleDistributedQueue) Poll(ctx context.Context) (data []byte, ok bool, err error) {
	return q.first(ctx, true, false)
}

// Peek returns the first item without removing it; ok is false when the
// queue is empty.
func (q *SimpleDistributedQueue) Peek(ctx context.Context) (data []byte, ok bool, err error) {
	return q.first(ctx, false, false)
}

// Element returns the first item without removing it, or ErrEmpty.
func (q *SimpleDistributedQueue) Element(ctx context.Context) ([]byte, error) {
	return must(q.first(ctx, false, false))
}

// Remove removes the first item and returns it, or ErrEmpty.
func (q *SimpleDistributedQueue) Remove(ctx context.Context) ([]byte, error) {
	return must(q.first(ctx, true, false))
}

// Close deletes the markers that protected puts and takes left (see the
// package doc). The queue can still be used afterwards.
func (q *SimpleDistributedQueue) Close(ctx context.Context) error {
	return closeOnce(ctx, q.c, q.once, q.path)
}

func must(data []byte, ok bool, err error) ([]byte, error) {
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, ErrEmpty
	}
	return data, nil
}

// first reads (and, with remove, takes) the first item; with wait it
// waits for one, watching the children only once a look found none.
func (q *SimpleDistributedQueue) first(ctx context.Context, remove, wait bool) ([]byte, bool, error) {
	if err := keeper.ValidatePath(q.path); err != nil {
		return nil, false, fmt.Errorf("queue: %w", err)
	}
	watch := false
	var b node.Backoff
	for {
		var kids []string
		var ch <-chan keeper.Event
		var err error
		if watch {
			kids, _, ch, err = q.c.ChildrenW(ctx, q.path)
		} else {
			kids, err = q.c.Children(ctx, q.path)
		}
		switch {
		case errors.Is(err, keeper.ErrNoNode):
			if !wait {
				return nil, false, nil
			}
			// The container went (or never was): make it again.
			if err := ensureContainer(ctx, q.c, q.path); err != nil {
				return nil, false, fmt.Errorf("queue: take from %s: %w", q.path, err)
			}
			continue
		case err != nil && node.IsTransient(err) && ctx.Err() == nil:
			if err := b.Sleep(ctx); err != nil {
				return nil, false, fmt.Errorf("queue: take from %s: %w", q.path, err)
			}
			continue
		case err != nil:
			if watch {
				node.Abandoned(ctx, q.c, q.path, keeper.WatchChildren, err)
			}
			return nil, false, fmt.Errorf("queue: take from %s: %w", q.path, err)
		}
		b.Reset()
		data, ok, err := q.tryItems(ctx, kids, remove)
		if err != nil || ok || !wait {
			if ch != nil {
				node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
			}
			if err != nil {
				return nil, false, fmt.Errorf("queue: take from %s: %w", q.path, err)
			}
			return data, ok, nil
		}
		if !watch {
			watch = true
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			node.DropWatch(ctx, q.c, q.path, keeper.WatchChildren, ch)
			return nil, false, fmt.Errorf("queue: take from %s: %w", q.path, node.CtxErr(ctx))
		}
	}
}

// tryItems reads, and with remove deletes, the first of kids (sorted as
// strings, as Curator sorts them) that is still there.
func (q *SimpleDistributedQueue) tryItems(ctx context.Context, kids []string, remove bool) ([]byte, bool, error) {
	slices.Sort(kids)
	for _, k := range kids {
		if !strings.HasPrefix(k, simpleItemName) {
			continue
		}
		p := keeper.JoinPath(q.path, k)
		var data []byte
		err := node.Retry(ctx, func(ctx context.Context) error {
			var err error
			data, _, err = q.c.Get(ctx, p)
			return err
		})
		if errors.Is(err, keeper.ErrNoNode) {
			continue // another consumer took it
		}
		if err != nil {
			return nil, false, err
		}
		if !remove {
			return data, true, nil
		}
		gone, err := deleteOnce(ctx, q.once, p, keeper.AnyVersion)
		switch {
		case err != nil:
			return nil, false, err
		case gone:
			continue
		}
		return data, true, nil
	}
	return nil, false, nil
}

// deleteOnce deletes the node at p (with version) exactly once: a delete
// whose reply was lost is looked up, not repeated, so an item goes to one
// consumer and is never lost. gone is true when the node was not there
// (or had another version): another consumer took it.
func deleteOnce(ctx context.Context, o *node.Once, p string, version int32) (gone bool, err error) {
	for {
		_, err := o.Commit(ctx, func(t *keeper.Txn) { t.Delete(p, version) })
		switch {
		case err == nil:
			return false, nil
		case errors.Is(err, node.ErrNotApplied):
			continue
		case errors.Is(err, keeper.ErrNoNode), errors.Is(err, keeper.ErrBadVersion):
			return true, nil
		}
		return false, err
	}
}

// ensureContainer creates the container node at p (and its parents, as
// containers), as Curator's creatingParentContainersIfNeeded does.
func ensureContainer(ctx context.Context, c *keeper.Client, p string) error {
	return node.Retry(ctx, func(ctx context.Context) error {
		_, err := c.Create(ctx, p, nil, keeper.Container(), keeper.MakeParents())
		if errors.Is(err, keeper.ErrNodeExists) {
			return nil
		}
		return err
	})
}

// createItem creates the persistent sequential node dir/prefix<seq> with
// data: exactly once through o, or, with raw, as Curator does (a plain
// create retried after a lost reply, which can store it twice). A missing
// dir is created as a container.
func createItem(ctx context.Context, c *keeper.Client, o *node.Once, raw bool, dir, prefix string, data []byte) error {
	name := keeper.JoinPath(dir, prefix)
	for {
		var err error
		if raw {
			err = node.Retry(ctx, func(ctx context.Context) error {
				_, err := c.Create(ctx, name, data, keeper.Sequential())
				return err
			})
		} else {
			_, err = o.Commit(ctx, func(t *keeper.Txn) { t.Create(name, data, keeper.Sequential()) })
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, node.ErrNotApplied):
			continue
		case errors.Is(err, keeper.ErrNoNode):
			if err := ensureContainer(ctx, c, dir); err != nil {
				return err
			}
			continue
		}
		return err
	}
}
