package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// bulkRoot holds the tree of measurement 8: 10 top nodes, each with
// bulkLeaves/1000 middle nodes of 100 leaves; every node holds 100 bytes.
const bulkRoot = "/bench/tree"

// treeShape returns the shape of a tree with about leaves leaf nodes: 10
// top nodes, each with mid middle nodes of 100 leaves.
func treeShape(leaves int) (top, mid, leaf int) {
	return 10, max(1, leaves/1000), 100
}

// treeNodes returns the number of nodes in such a tree, its root included.
func treeNodes(leaves int) int {
	t, m, l := treeShape(leaves)
	return 1 + t + t*m + t*m*l
}

// bulkNodes returns the number of nodes in measurement 8's tree.
func (e *env) bulkNodes() int { return treeNodes(e.sizes.bulkLeaves) }

// setupBulk creates measurement 8's tree.
func (e *env) setupBulk() error { return e.createTree(bulkRoot, e.sizes.bulkLeaves) }

// createTree creates a tree of treeShape(leaves) at root with a pipelined
// raw client, level by level, every node holding the 100-byte value.
func (e *env) createTree(root string, leaves int) error {
	if err := e.rawDeleteTree(root); err != nil {
		return err
	}
	top, mid, per := treeShape(leaves)
	if err := e.rawCreate(1, func(int) string { return root }, e.data); err != nil {
		return err
	}
	tp := func(i int) string { return root + "/t" + strconv.Itoa(i) }
	mp := func(i int) string { return tp(i/mid) + "/m" + strconv.Itoa(i%mid) }
	lp := func(i int) string { return mp(i/per) + "/l" + strconv.Itoa(i%per) }
	if err := e.rawCreate(top, tp, e.data); err != nil {
		return err
	}
	if err := e.rawCreate(top*mid, mp, e.data); err != nil {
		return err
	}
	return e.rawCreate(top*mid*per, lp, e.data)
}

// walkers is how many goroutines walk the tree in the goroutine walks.
const walkers = 64

// bulk is measurement 8: load the whole tree into memory.
func (e *env) bulk(name string) error {
	want := e.bulkNodes()
	var got int
	var took time.Duration
	var err error
	switch name {
	case nameRaw:
		got, took, err = e.rawWalk()
	case nameGoZK:
		var st *store
		var res result
		st, res, err = e.gozkWalk(bulkRoot, want)
		if st != nil {
			got, took = len(st.nodes), res.wall
		}
	case nameKeeper:
		got, took, err = e.keeperWalk()
	}
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s walk read %d nodes, want %d", name, got, want)
	}
	nodes := thousands(int64(want))
	fig(fmt.Sprintf("8 · Bulk read of %s nodes: walk, %d goroutines doing Get (+ Children where there are some; raw: a window of 256)",
		nodes, walkers), "s").add(name, took.Seconds())
	// The headline row compares Keeper's TreeCache with the fastest walk
	// of the others.
	best := fig(fmt.Sprintf("8 · Bulk read of %s nodes: Keeper TreeCache initial load vs the others' walk", nodes), "s").
		goal("≤ 0.5 × go-zk", atMost(0, 0.5, 0))
	if name != nameKeeper {
		best.add(name, took.Seconds())
		return nil
	}
	tl, err := treeCacheLoad(e, bulkRoot)
	if err != nil {
		return err
	}
	got, took = tl.nodes, tl.res.wall
	if got != want {
		return fmt.Errorf("Keeper TreeCache holds %d nodes, want %d", got, want)
	}
	best.add(name, took.Seconds())
	got, took, err = keeperMultiGetWalk(e)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("Keeper MultiGet walk read %d nodes, want %d", got, want)
	}
	fig(fmt.Sprintf("8 · Bulk read of %s nodes: Keeper level-by-level MultiGet walk (batches of %d)", nodes, multiGetBatch), "s").
		add(name, took.Seconds())
	return nil
}

// store is the in-memory copy of the tree a walk builds.
type store struct {
	mu    sync.Mutex
	nodes map[string][]byte
}

func newStore(n int) *store { return &store{nodes: make(map[string][]byte, n)} }

func (s *store) put(path string, data []byte) {
	s.mu.Lock()
	s.nodes[path] = data
	s.mu.Unlock()
}

// workQueue is an unbounded LIFO of paths shared by walkers; it ends when
// it is empty and no walker is busy.
type workQueue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	paths []string
	busy  int
	err   error
}

func newWorkQueue(root string) *workQueue {
	q := &workQueue{paths: []string{root}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// next returns a path to visit, or false when the walk is over.
func (q *workQueue) next() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.paths) == 0 && q.busy > 0 && q.err == nil {
		q.cond.Wait()
	}
	if len(q.paths) == 0 || q.err != nil {
		return "", false
	}
	p := q.paths[len(q.paths)-1]
	q.paths = q.paths[:len(q.paths)-1]
	q.busy++
	return p, true
}

// done finishes a visit, adding the children found and any error.
func (q *workQueue) done(children []string, err error) {
	q.mu.Lock()
	q.paths = append(q.paths, children...)
	q.busy--
	if err != nil && q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

// walk runs the goroutine walk with visit (which returns the children's
// paths) and returns the first error.
func walk(root string, visit func(path string) ([]string, error)) error {
	q := newWorkQueue(root)
	var wg sync.WaitGroup
	for range walkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p, ok := q.next()
				if !ok {
					return
				}
				kids, err := visit(p)
				q.done(kids, err)
			}
		}()
	}
	wg.Wait()
	return q.err
}

func childPaths(parent string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = parent + "/" + n
	}
	return out
}

// gozkWalk reads the tree at root (about n nodes) with go-zookeeper from
// walkers goroutines and returns the copy it built and what the walk
// cost.
func (e *env) gozkWalk(root string, n int) (*store, result, error) {
	s, err := connectGoZK([]string{e.addr}, sessionTimeout, false)
	if err != nil {
		return nil, result{}, err
	}
	defer s.close()
	st := newStore(n)
	m := startMeter(e.pid)
	err = walk(root, func(p string) ([]string, error) {
		data, stat, err := s.c.Get(p)
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", p, err)
		}
		st.put(p, data)
		if stat.NumChildren == 0 {
			return nil, nil
		}
		names, _, err := s.c.Children(p)
		if err != nil {
			return nil, fmt.Errorf("children %s: %w", p, err)
		}
		return childPaths(p, names), nil
	})
	res := m.stop()
	if errors.Is(err, zk.ErrNoNode) {
		err = fmt.Errorf("tree changed during the walk: %w", err)
	}
	return st, res, err
}

func (e *env) keeperWalk() (int, time.Duration, error) {
	s, err := connectKeeper(e.servers)
	if err != nil {
		return 0, 0, err
	}
	defer s.close()
	ctx := context.Background()
	st := newStore(e.bulkNodes())
	t0 := time.Now()
	err = walk(bulkRoot, func(p string) ([]string, error) {
		data, stat, err := s.c.Get(ctx, p)
		if err != nil {
			return nil, err
		}
		st.put(p, data)
		if stat.NumChildren == 0 {
			return nil, nil
		}
		names, err := s.c.Children(ctx, p)
		if err != nil {
			return nil, err
		}
		return childPaths(p, names), nil
	})
	return len(st.nodes), time.Since(t0), err
}

// rawWalk reads the tree level by level on one connection: getData of
// every node of the level (a window of 256), then getChildren of those
// that have children.
func (e *env) rawWalk() (int, time.Duration, error) {
	rc, err := e.raw()
	if err != nil {
		return 0, 0, err
	}
	defer rc.close()
	st := newStore(e.bulkNodes())
	t0 := time.Now()
	level := []string{bulkRoot}
	for len(level) > 0 {
		var parents []string
		_, err := rc.pipeline(opGetData, len(level), 256, encGet(level, false), func(i int, code int32, body []byte) error {
			if code != 0 {
				return fmt.Errorf("raw: getData %s: code %d", level[i], code)
			}
			// GetDataResponse: buffer data, then the 68-byte Stat, whose
			// numChildren is at offset 60.
			if len(body) < 4 {
				return errors.New("raw: short getData reply")
			}
			n := max(0, int(int32(binary.BigEndian.Uint32(body))))
			if len(body) < 4+n+68 {
				return errors.New("raw: short getData reply")
			}
			st.nodes[level[i]] = append([]byte(nil), body[4:4+n]...)
			if binary.BigEndian.Uint32(body[4+n+56:]) > 0 {
				parents = append(parents, level[i])
			}
			return nil
		}, nil)
		if err != nil {
			return 0, 0, err
		}
		var next []string
		_, err = rc.pipeline(opGetChildren, len(parents), 256, encGet(parents, false), func(i int, code int32, body []byte) error {
			if code != 0 {
				return fmt.Errorf("raw: getChildren %s: code %d", parents[i], code)
			}
			names, err := decodeStrings(body)
			next = append(next, childPaths(parents[i], names)...)
			return err
		}, nil)
		if err != nil {
			return 0, 0, err
		}
		level = next
	}
	return len(st.nodes), time.Since(t0), nil
}

// multiGetBatch is how many nodes one MultiGet reads.
const multiGetBatch = 100

// keeperMultiGetWalk reads the tree level by level with Keeper: MultiGet
// of the level's nodes in batches from the walkers, then Children of
// those that have children.
func keeperMultiGetWalk(e *env) (int, time.Duration, error) {
	s, err := connectKeeper(e.servers)
	if err != nil {
		return 0, 0, err
	}
	defer s.close()
	ctx := context.Background()
	st := newStore(e.bulkNodes())
	t0 := time.Now()
	level := []string{bulkRoot}
	for len(level) > 0 {
		var mu sync.Mutex
		var parents []string
		batches := (len(level) + multiGetBatch - 1) / multiGetBatch
		err := parallel(min(walkers, batches), batches, func(b int) error {
			paths := level[b*multiGetBatch : min(len(level), (b+1)*multiGetBatch)]
			res, err := s.c.MultiGet(ctx, paths...)
			if err != nil {
				return err
			}
			if len(res) != len(paths) {
				return fmt.Errorf("MultiGet of %d paths gave %d results", len(paths), len(res))
			}
			for j, r := range res {
				if r.Err != nil {
					return r.Err
				}
				st.put(paths[j], r.Data)
				if r.Stat.NumChildren > 0 {
					mu.Lock()
					parents = append(parents, paths[j])
					mu.Unlock()
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
		var next []string
		err = parallel(min(walkers, len(parents)), len(parents), func(i int) error {
			names, err := s.c.Children(ctx, parents[i])
			if err != nil {
				return err
			}
			kids := childPaths(parents[i], names)
			mu.Lock()
			next = append(next, kids...)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
		level = next
	}
	return len(st.nodes), time.Since(t0), nil
}
