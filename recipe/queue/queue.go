package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrBadPriority reports a priority outside Kazoo's range, 0 to 999.
var ErrBadPriority = errors.New("queue: priority must be between 0 and 999")

// DefaultPriority is Kazoo's default priority.
const DefaultPriority = 100

// entryName is the name prefix of an item with priority p, as Kazoo
// writes it; the server appends the sequence.
func entryName(p int) string { return fmt.Sprintf("entry-%03d-", p) }

func checkPut(path string, items [][]byte, priority int) error {
	if priority < 0 || priority > 999 {
		return fmt.Errorf("%w: %d", ErrBadPriority, priority)
	}
	if err := keeper.ValidatePath(path); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// markerDir is where a queue's puts keep their markers (see the package
// doc): a container node beside the queue's node, which the server
// deletes once it is empty.
func markerDir(path string) string { return path + ".keeper" }

func newOnce(c *keeper.Client, path string) *node.Once {
	dir := markerDir(path)
	return node.NewOnce(c, dir, func(ctx context.Context) error {
		return node.Retry(ctx, func(ctx context.Context) error {
			_, err := c.Create(ctx, dir, nil, keeper.Container(), keeper.MakeParents())
			if errors.Is(err, keeper.ErrNodeExists) {
				return nil
			}
			return err
		})
	})
}

// closeOnce deletes the markers, and their directory when it is empty.
func closeOnce(ctx context.Context, c *keeper.Client, o *node.Once, path string) error {
	if err := o.Close(ctx); err != nil {
		return err
	}
	_ = node.Cleanup(ctx, c, func(ctx context.Context) error {
		return c.Delete(ctx, markerDir(path), keeper.AnyVersion) // fails while others use it
	})
	return nil
}

// put creates the items under dir in one transaction, exactly once.
func put(ctx context.Context, c *keeper.Client, o *node.Once, dir string, items [][]byte, priority int) error {
	name := keeper.JoinPath(dir, entryName(priority))
	for {
		_, err := o.Commit(ctx, func(t *keeper.Txn) {
			for _, it := range items {
				t.Create(name, it, keeper.Sequential())
			}
		})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, node.ErrNotApplied):
			continue
		case errors.Is(err, keeper.ErrNoNode):
			if err := node.Retry(ctx, func(ctx context.Context) error { return c.EnsurePath(ctx, dir) }); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// Queue is Kazoo's Queue: items are persistent sequential children of the
// queue's node named "entry-<priority>-<sequence>", taken in the order of
// their names (lower priority numbers first, then first in, first out).
// An item is deleted when it is taken: a consumer that fails after Get
// loses it (use LockingQueue to avoid that). Create one with New.
//
// Its methods are safe for concurrent use.
type Queue struct {
	c    *keeper.Client
	path string
	once *node.Once

	mu    sync.Mutex
	cache []string // sorted children not yet tried, as Kazoo keeps them
}

// New returns a Queue on the node at path, for client c. Nothing is sent
// until a method is called; the node is created on first use.
func New(c *keeper.Client, path string) *Queue {
	return &Queue{c: c, path: path, once: newOnce(c, path)}
}

// Path returns the queue's node.
func (q *Queue) Path() string { return q.path }

// Put adds an item with priority (0 to 999, lower first; Kazoo's default
// is DefaultPriority). It is stored exactly once, even when the reply is
// lost. ctx bounds the call.
func (q *Queue) Put(ctx context.Context, data []byte, priority int) error {
	return q.PutAll(ctx, [][]byte{data}, priority)
}

// PutAll adds the items, in order and all with priority, in one
// transaction: all of them or none.
func (q *Queue) PutAll(ctx context.Context, items [][]byte, priority int) error {
	if err := checkPut(q.path, items, priority); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	if err := put(ctx, q.c, q.once, q.path, items, priority); err != nil {
		return fmt.Errorf("queue: put into %s: %w", q.path, err)
	}
	return nil
}

// Get takes the first item and returns its data; ok is false when the
// queue is empty (Get does not wait). An item is returned to exactly one
// consumer: a delete whose reply was lost is looked up, not repeated.
//
// Like Kazoo's, Get lists the queue once and takes from that list until
// it is used up, so an item put meanwhile with a lower priority number
// waits until then.
func (q *Queue) Get(ctx context.Context) (data []byte, ok bool, err error) {
	if err := keeper.ValidatePath(q.path); err != nil {
		return nil, false, fmt.Errorf("queue: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if len(q.cache) == 0 {
			var kids []string
			err := node.Retry(ctx, func(ctx context.Context) error {
				var err error
				kids, err = q.c.Children(ctx, q.path)
				if errors.Is(err, keeper.ErrNoNode) {
					return nil
				}
				return err
			})
			if err != nil {
				return nil, false, fmt.Errorf("queue: get from %s: %w", q.path, err)
			}
			slices.Sort(kids)
			q.cache = kids
		}
		if len(q.cache) == 0 {
			return nil, false, nil
		}
		p := keeper.JoinPath(q.path, q.cache[0])
		var data []byte
		err := node.Retry(ctx, func(ctx context.Context) error {
			var err error
			data, _, err = q.c.Get(ctx, p)
			return err
		})
		if errors.Is(err, keeper.ErrNoNode) {
			q.cache = nil // taken by another consumer
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("queue: get from %s: %w", q.path, err)
		}
		_, err = q.once.Commit(ctx, func(t *keeper.Txn) { t.Delete(p, keeper.AnyVersion) })
		switch {
		case err == nil:
			q.cache = q.cache[1:]
			return data, true, nil
		case errors.Is(err, node.ErrNotApplied):
			continue
		case errors.Is(err, keeper.ErrNoNode):
			q.cache = nil
			continue
		}
		return nil, false, fmt.Errorf("queue: get from %s: %w", q.path, err)
	}
}

// Len returns the number of items in the queue (Kazoo's len: the node's
// number of children).
func (q *Queue) Len(ctx context.Context) (int, error) {
	return count(ctx, q.c, q.path)
}

func count(ctx context.Context, c *keeper.Client, path string) (int, error) {
	if err := keeper.ValidatePath(path); err != nil {
		return 0, fmt.Errorf("queue: %w", err)
	}
	var st *keeper.Stat
	err := node.Retry(ctx, func(ctx context.Context) error {
		var err error
		st, err = c.Exists(ctx, path)
		return err
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("queue: len of %s: %w", path, err)
	case st == nil:
		return 0, nil
	}
	return int(st.NumChildren), nil
}

// Close deletes the markers this handle's puts and gets left (see the
// package doc). The queue can still be used afterwards; call Close again
// when done. ctx bounds the call.
func (q *Queue) Close(ctx context.Context) error { return closeOnce(ctx, q.c, q.once, q.path) }
