package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/queue"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrClosed is the reason a TreeCache gives (Err) after Close.
var ErrClosed = errors.New("cache: closed")

// EventType is the kind of a cache Event.
type EventType int

// Event types, as Kazoo's and Curator's TreeCache name them.
const (
	// NodeAdded: a node entered the cache (Data and Stat are the new ones).
	NodeAdded EventType = iota + 1
	// NodeUpdated: a cached node's data changed (a new mzxid).
	NodeUpdated
	// NodeRemoved: a node left the cache (Data and Stat are the last
	// ones known). A node deleted and created again while the client was
	// cut off gives NodeRemoved then NodeAdded.
	NodeRemoved
	// ConnSuspended: the client lost its connection; the cache may fall
	// behind until ConnReconnected.
	ConnSuspended
	// ConnReconnected: the client is connected again; the cache re-reads
	// what may have changed and reports the differences.
	ConnReconnected
	// ConnLost: the client's session was lost (Err says why); a new
	// session follows, and the cache re-reads the whole tree.
	ConnLost
	// Initialized: the cache holds the whole tree, after the first load.
	// It is sent once: the re-reads after a reconnect or a session loss
	// report only their differences (as Curator's CuratorCache; its
	// TreeCache re-sends INITIALIZED, CURATOR-296).
	Initialized
)

var typeNames = [...]string{"", "NodeAdded", "NodeUpdated", "NodeRemoved", "ConnSuspended",
	"ConnReconnected", "ConnLost", "Initialized"}

// String returns the type's name ("NodeAdded").
func (t EventType) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is a change of the cache or of the client's connection.
type Event struct {
	Type EventType
	// Path, Data and Stat describe the node, for NodeAdded, NodeUpdated
	// and NodeRemoved. Path is relative to the client's chroot. Data is
	// shared with the cache and must not be modified; Stat is the
	// event's own.
	Path string
	Data []byte
	Stat *keeper.Stat
	// Err is the cause of ConnLost.
	Err error
}

// Option configures a TreeCache.
type Option func(*config)

type config struct {
	oneShot  bool
	workers  int
	maxDepth int               // -1: no limit
	filter   func(string) bool // nil: every node
}

// OneShotWatches makes the cache use one-shot watches (a data and a child
// watch per node) even when the server has persistent recursive watches.
// By default it uses one persistent recursive watch on ZooKeeper 3.6 and
// later, and one-shot watches on older servers.
func OneShotWatches() Option { return func(c *config) { c.oneShot = true } }

// WithWorkers sets how many reads the cache keeps in flight while it
// loads the tree, overriding the default 16; valid range 1 to 1024. With
// a persistent watch each worker reads up to 128 nodes per request.
func WithWorkers(n int) Option { return func(c *config) { c.workers = n } }

// WithMaxDepth caches the root and its descendants down to depth levels
// below it (0: the root alone, 1: the root and its children), as Curator's
// TreeCache.setMaxDepth; nodes deeper are neither read nor reported, and
// the children of the nodes at the last level are not listed (Children
// reports none). The default is no limit; depth must be 0 or more.
func WithMaxDepth(depth int) Option { return func(c *config) { c.maxDepth = depth } }

// WithFilter caches only the nodes for which keep returns true, as
// Curator's TreeCacheSelector: a node left out is neither read nor
// reported, and neither are its descendants. keep gets the node's path
// (relative to the client's chroot); it is never asked about the root,
// which is always cached. It runs on the cache's goroutine and must be
// quick and not call the cache.
func WithFilter(keep func(path string) bool) Option { return func(c *config) { c.filter = keep } }

// batch limits of one multi-read: paths, and estimated reply bytes.
const (
	batchPaths   = 128
	batchBytes   = 1 << 20
	unknownBytes = 4 << 10 // guess for a node whose size is not known
)

// kidsMode says whether a read lists the node's children.
type kidsMode uint8

const (
	kidsNo        kidsMode = iota
	kidsIfChanged          // when its pzxid differs from job.pzxid
	kidsAlways
)

// job is one read of a node.
type job struct {
	path  string
	data  bool // read data and Stat
	kids  kidsMode
	pzxid int64 // for kidsIfChanged
	size  int   // estimated data size
}

// result is what a read found.
type result struct {
	job      job
	err      error // a read that cannot succeed (not NoNode)
	exists   bool
	dataRead bool
	data     []byte
	stat     *keeper.Stat
	kidsRead bool
	kids     []string
	// one-shot mode: watches armed by the read
	dataW, kidsW, existW <-chan keeper.Event
}

// shotKind says which one-shot watch of a node fired.
type shotKind uint8

const (
	shotData shotKind = iota
	shotKids
	shotExist
)

// msg is one input of the cache's loop.
type msg struct {
	start    bool
	results  []*result
	ev       *keeper.Event // from the persistent watcher
	watchEnd error         // the persistent watcher ended
	shot     *shot
	state    *keeper.StateEvent
}

type shot struct {
	path string
	ch   <-chan keeper.Event
	kind shotKind
	ev   keeper.Event
}

// znode is a cached node.
type znode struct {
	data []byte
	stat keeper.Stat // by value: one object per node, not two
	kids map[string]struct{}
	// listed is the Pzxid as of the last listing of kids (0: never
	// listed). A read of the data alone moves stat's Pzxid without
	// listing, so a re-read that lists children only when the Pzxid
	// moved (kidsIfChanged) compares against this one, not stat's.
	listed       int64
	dataW, kidsW <-chan keeper.Event // one-shot mode
}

// keepReading is the size above which TreeCache.reading is made anew
// once it has emptied.
const keepReading = 1024

// flight is a read in progress; dirty asks for another one after it.
type flight struct {
	dirty bool
	next  job
}

// TreeCache keeps an in-memory copy of a subtree (data, Stat and children
// of every node) and reports every change as an Event. Create it with
// NewTreeCache, then Start it.
type TreeCache struct {
	c    *keeper.Client
	root string
	cfg  config

	mu    sync.RWMutex
	nodes map[string]*znode // written by the loop only

	inbox   *queue.Queue[msg]
	jobs    *queue.Queue[job]
	disarms *queue.Queue[disarm]
	events  *queue.Queue[Event]
	out     chan Event
	ready   chan struct{}
	done    chan struct{} // closed when the cache has ended and cleaned up

	startMu    sync.Mutex
	started    bool
	ended      bool
	stopOnce   sync.Once
	stop       chan struct{} // closed when the cache starts to end
	ioCancel   context.CancelFunc
	errMu      sync.Mutex
	err        error
	persistent bool
	watcher    *keeper.Watcher
	unlisten   func()

	loopDone chan struct{}
	workers  sync.WaitGroup
	waiters  sync.WaitGroup // one-shot waiters and the disarmer
	aux      sync.WaitGroup // pump, forwarder

	// owned by the loop
	reading     map[string]*flight
	readingPeak int                           // the most entries reading has held since it was made
	orphans     map[string]map[string]*result // parent → path → its latest read
	outstanding int
	loading     bool
	readyOnce   bool
	rootExist   <-chan keeper.Event
	lastState   keeper.State
}

type disarm struct {
	path string
	ch   <-chan keeper.Event
}

// NewTreeCache returns a cache of the subtree at root (the node and all
// its descendants; root need not exist yet). It does nothing until Start.
// It fails for a nil client, a malformed root or a bad option.
func NewTreeCache(c *keeper.Client, root string, opts ...Option) (*TreeCache, error) {
	if c == nil {
		return nil, errors.New("cache: nil client")
	}
	if err := keeper.ValidatePath(root); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	cfg := config{workers: 16, maxDepth: -1}
	node.ApplyOptions(&cfg, opts)
	if cfg.workers < 1 || cfg.workers > 1024 {
		return nil, fmt.Errorf("cache: WithWorkers(%d): must be 1 to 1024", cfg.workers)
	}
	if cfg.maxDepth < -1 {
		return nil, fmt.Errorf("cache: WithMaxDepth(%d): must be 0 or more", cfg.maxDepth)
	}
	return &TreeCache{
		c: c, root: root, cfg: cfg,
		nodes:    map[string]*znode{},
		inbox:    queue.New[msg](),
		jobs:     queue.New[job](),
		disarms:  queue.New[disarm](),
		events:   queue.New[Event](),
		out:      make(chan Event),
		ready:    make(chan struct{}),
		done:     make(chan struct{}),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		reading:  map[string]*flight{},
		orphans:  map[string]map[string]*result{},
	}, nil
}

// NewNodeCache returns a cache of the single node at path (Curator's
// NodeCache, CuratorCache's SINGLE_NODE_CACHE): its data and Stat, whether
// or not it exists yet, with NodeAdded, NodeUpdated and NodeRemoved events
// for it alone. On ZooKeeper 3.6 and later it costs one persistent,
// non-recursive watch and one read per change (none for changes of its
// children). It is a TreeCache with WithMaxDepth(0); Children reports no
// children.
func NewNodeCache(c *keeper.Client, path string, opts ...Option) (*TreeCache, error) {
	return NewTreeCache(c, path, append(opts[:len(opts):len(opts)], WithMaxDepth(0))...)
}

// NewPathChildrenCache returns a cache of the node at path and its
// children, one level (Curator's PathChildrenCache): Children lists them
// and Get reads each child's data and Stat; grandchildren are not cached.
// On ZooKeeper 3.6 and later it costs one persistent recursive watch (the
// events below the children are dropped by the client) and one multi-read
// per batch of up to 128 changed nodes. It is a TreeCache with
// WithMaxDepth(1).
func NewPathChildrenCache(c *keeper.Client, path string, opts ...Option) (*TreeCache, error) {
	return NewTreeCache(c, path, append(opts[:len(opts):len(opts)], WithMaxDepth(1))...)
}

// Start sets up the watch and starts loading the tree in the background;
// Ready is closed, and an Initialized event sent, once it is loaded. ctx
// bounds only the setup: waiting for a connection to learn the server's
// version, and adding the persistent watch. Start may be called once; a
// failed Start may be tried again.
func (tc *TreeCache) Start(ctx context.Context) error {
	tc.startMu.Lock()
	defer tc.startMu.Unlock()
	switch {
	case tc.ended:
		return ErrClosed
	case tc.started:
		return errors.New("cache: already started")
	}
	if !tc.cfg.oneShot {
		if err := tc.c.WaitConnected(ctx); err != nil {
			return fmt.Errorf("cache: start %s: %w", tc.root, err)
		}
		if tc.c.ServerVersion().AtLeast(3, 6, 0) {
			// A single node needs no recursive watch (and none of the
			// events of its subtree).
			w, err := tc.c.Watch(ctx, tc.root, tc.cfg.maxDepth != 0)
			switch {
			case err == nil:
				tc.watcher, tc.persistent = w, true
			case errors.Is(err, keeper.ErrUnimplemented):
			default:
				return fmt.Errorf("cache: start %s: %w", tc.root, err)
			}
		}
	}
	tc.started = true
	io, cancel := context.WithCancel(context.Background())
	tc.ioCancel = cancel
	tc.lastState = tc.c.State()
	tc.unlisten = tc.c.Listen(func(ev keeper.StateEvent) { tc.inbox.Push(msg{state: &ev}) })
	if tc.watcher != nil {
		tc.aux.Add(1)
		go tc.forward(tc.watcher)
	}
	tc.aux.Add(1)
	go tc.pump()
	tc.waiters.Add(1)
	go tc.disarmer(io)
	for i := 0; i < tc.cfg.workers; i++ {
		tc.workers.Add(1)
		go tc.worker(io)
	}
	tc.inbox.Push(msg{start: true})
	go tc.loop()
	return nil
}

// Events returns the cache's events, in order, through an unbounded
// queue: a slow reader delays only itself. The channel is closed when the
// cache ends (Close, or the client closed); Err then says why.
func (tc *TreeCache) Events() <-chan Event { return tc.out }

// Ready is closed once the first load of the tree is complete.
func (tc *TreeCache) Ready() <-chan struct{} { return tc.ready }

// Done is closed when the cache has ended and removed its watches.
func (tc *TreeCache) Done() <-chan struct{} { return tc.done }

// Err returns why the cache ended: ErrClosed after Close, keeper.ErrClosed
// when the client was closed, or the error that ended its watch. It is nil
// while the cache runs.
func (tc *TreeCache) Err() error {
	tc.errMu.Lock()
	defer tc.errMu.Unlock()
	return tc.err
}

// Get returns the cached data and Stat of the node at path (relative to
// the client's chroot), and whether it is in the cache. The data is shared
// with the cache and must not be modified; the Stat is a copy.
func (tc *TreeCache) Get(path string) (data []byte, st *keeper.Stat, ok bool) {
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	n := tc.nodes[path]
	if n == nil {
		return nil, nil, false
	}
	s := n.stat
	return n.data, &s, true
}

// Children returns the sorted names of the cached children of the node at
// path, and whether the node is in the cache.
func (tc *TreeCache) Children(path string) ([]string, bool) {
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	n := tc.nodes[path]
	if n == nil {
		return nil, false
	}
	out := make([]string, 0, len(n.kids))
	for k := range n.kids {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, true
}

// Close stops the cache: it removes its server-side watches, ends Events
// (undelivered events are dropped) and empties the cache. It waits for
// reads in flight for up to a session timeout. It returns nil.
func (tc *TreeCache) Close() error {
	tc.startMu.Lock()
	started := tc.started
	tc.ended = true
	tc.startMu.Unlock()
	if !started {
		tc.stopOnce.Do(func() {
			tc.setErr(ErrClosed)
			close(tc.stop)
			close(tc.out)
			close(tc.done)
		})
		return nil
	}
	tc.shutdown(ErrClosed)
	<-tc.done
	return nil
}

func (tc *TreeCache) setErr(err error) {
	tc.errMu.Lock()
	if tc.err == nil {
		tc.err = err
	}
	tc.errMu.Unlock()
}

// shutdown ends a started cache with err; later calls do nothing.
func (tc *TreeCache) shutdown(err error) {
	tc.stopOnce.Do(func() {
		tc.setErr(err)
		close(tc.stop)
		tc.unlisten()
		// Reads in flight may arm watches: let them finish for a while.
		grace := time.AfterFunc(tc.c.SessionTimeout(), tc.ioCancel)
		tc.jobs.TakeAll()
		if tc.watcher != nil {
			_ = tc.watcher.Close()
		}
		<-tc.loopDone
		tc.workers.Wait()
		// Whatever still holds a one-shot watch: remove them all.
		var left []disarm
		for _, m := range tc.inbox.TakeAll() {
			for _, r := range m.results {
				left = appendWatches(left, r)
			}
		}
		for _, kids := range tc.orphans {
			for _, r := range kids {
				left = appendWatches(left, r)
			}
		}
		tc.mu.Lock()
		for p, n := range tc.nodes {
			left = append(left, disarm{p, n.dataW}, disarm{p, n.kidsW})
		}
		clear(tc.nodes)
		tc.mu.Unlock()
		left = append(left, disarm{tc.root, tc.rootExist})
		left = append(left, tc.disarms.TakeAll()...)
		tc.removeWatches(left)
		tc.waiters.Wait()
		grace.Stop()
		tc.ioCancel()
		tc.events.Close()
		tc.aux.Wait()
		close(tc.done)
	})
}

// appendWatches adds the one-shot watches a result armed.
func appendWatches(l []disarm, r *result) []disarm {
	return append(l, disarm{r.job.path, r.dataW}, disarm{r.job.path, r.kidsW}, disarm{r.job.path, r.existW})
}

// removeWatches removes one-shot watches, several at a time.
func (tc *TreeCache) removeWatches(l []disarm) {
	ctx, cancel := context.WithTimeout(context.Background(), tc.c.SessionTimeout())
	defer cancel()
	q := queue.New[disarm]()
	for _, d := range l {
		if d.ch != nil {
			q.Push(d)
		}
	}
	q.Close()
	var wg sync.WaitGroup
	for i := 0; i < min(16, q.Len()); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, ok := q.Pop()
				if !ok {
					return
				}
				_ = tc.c.RemoveWatch(ctx, d.path, d.ch)
			}
		}()
	}
	wg.Wait()
}

// pump moves events from the queue to the channel.
func (tc *TreeCache) pump() {
	defer tc.aux.Done()
	defer close(tc.out)
	tc.events.Run(tc.stop, func(ev Event) bool {
		select {
		case tc.out <- ev:
			return true
		case <-tc.stop:
			return false
		}
	})
}

// forward passes the persistent watcher's events to the loop.
func (tc *TreeCache) forward(w *keeper.Watcher) {
	defer tc.aux.Done()
	for ev := range w.Events() {
		tc.inbox.Push(msg{ev: &ev})
	}
	tc.inbox.Push(msg{watchEnd: w.Err()})
}

// disarmer removes, one at a time, the one-shot watches the loop no
// longer needs (replaced by newer ones, or of nodes gone).
func (tc *TreeCache) disarmer(io context.Context) {
	defer tc.waiters.Done()
	tc.disarms.Run(tc.stop, func(d disarm) bool {
		_ = tc.c.RemoveWatch(io, d.path, d.ch)
		return true
	})
}

// waitShot hands a one-shot watch's event to the loop.
func (tc *TreeCache) waitShot(path string, ch <-chan keeper.Event, kind shotKind) {
	tc.waiters.Add(1)
	go func() {
		defer tc.waiters.Done()
		ev, ok := <-ch
		if ok {
			tc.inbox.Push(msg{shot: &shot{path: path, ch: ch, kind: kind, ev: ev}})
		}
	}()
}
