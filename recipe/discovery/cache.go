package discovery

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/cache"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// CacheEventType is the kind of a CacheEvent.
type CacheEventType int

// Cache event types.
const (
	// InstanceAdded: an instance entered the cache.
	InstanceAdded CacheEventType = iota + 1
	// InstanceUpdated: a cached instance's data changed.
	InstanceUpdated
	// InstanceRemoved: an instance left the cache (Instance is the last
	// one known).
	InstanceRemoved
	// InstanceInvalid: a node's data is not an instance (Err says why,
	// matching ErrBadInstance); it is left out of the cache.
	InstanceInvalid
	// CacheReady: the cache has loaded the service's instances; sent
	// once, after the first load.
	CacheReady
)

// String returns the type's name.
func (t CacheEventType) String() string {
	switch t {
	case InstanceAdded:
		return "InstanceAdded"
	case InstanceUpdated:
		return "InstanceUpdated"
	case InstanceRemoved:
		return "InstanceRemoved"
	case InstanceInvalid:
		return "InstanceInvalid"
	case CacheReady:
		return "CacheReady"
	}
	return fmt.Sprintf("CacheEventType(%d)", int(t))
}

// CacheEvent is a change of a ServiceCache.
type CacheEvent[T any] struct {
	Type CacheEventType
	// ID is the instance's node name (its id, with the sequence suffix
	// for DynamicSequential instances).
	ID       string
	Instance Instance[T]
	Err      error
}

// ServiceCache keeps the instances of one service in memory, as Curator's
// ServiceCache: a TreeCache on <basePath>/<name> (one persistent recursive
// watch on ZooKeeper 3.6+), whose changes are decoded and reported on
// Events. Create one with Discovery.NewCache.
//
// All methods are safe for concurrent use.
type ServiceCache[T any] struct {
	name, dir string
	tc        *cache.TreeCache
	events    *node.Events[CacheEvent[T]]
	ready     chan struct{}
	done      chan struct{}

	mu        sync.RWMutex
	instances map[string]Instance[T]
}

// NewCache starts a cache of the instances of the service name. ctx bounds
// only the setup of its watch; Ready is closed once it has loaded them.
func (d *Discovery[T]) NewCache(ctx context.Context, name string) (*ServiceCache[T], error) {
	if err := checkName("service name", name); err != nil {
		return nil, err
	}
	dir := keeper.JoinPath(d.base, name)
	tc, err := cache.NewTreeCache(d.c, dir)
	if err == nil {
		err = tc.Start(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: cache of %s: %w", name, err)
	}
	sc := &ServiceCache[T]{
		name: name, dir: dir, tc: tc,
		events:    node.NewEvents[CacheEvent[T]](),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		instances: map[string]Instance[T]{},
	}
	go sc.run()
	return sc, nil
}

// run applies the tree cache's events.
func (sc *ServiceCache[T]) run() {
	defer sc.events.Close()
	defer close(sc.done)
	loaded := false
	for ev := range sc.tc.Events() {
		switch ev.Type {
		case cache.NodeAdded, cache.NodeUpdated:
			if path.Dir(ev.Path) != sc.dir {
				continue
			}
			id := path.Base(ev.Path)
			inst, err := unmarshal[T](ev.Data)
			sc.mu.Lock()
			_, had := sc.instances[id]
			if err != nil {
				delete(sc.instances, id)
			} else {
				sc.instances[id] = inst
			}
			sc.mu.Unlock()
			switch {
			case err != nil:
				sc.events.Push(CacheEvent[T]{Type: InstanceInvalid, ID: id, Err: fmt.Errorf("%s: %w", ev.Path, err)})
			case had:
				sc.events.Push(CacheEvent[T]{Type: InstanceUpdated, ID: id, Instance: inst})
			default:
				sc.events.Push(CacheEvent[T]{Type: InstanceAdded, ID: id, Instance: inst})
			}
		case cache.NodeRemoved:
			if path.Dir(ev.Path) != sc.dir {
				continue
			}
			id := path.Base(ev.Path)
			sc.mu.Lock()
			inst, had := sc.instances[id]
			delete(sc.instances, id)
			sc.mu.Unlock()
			if had {
				sc.events.Push(CacheEvent[T]{Type: InstanceRemoved, ID: id, Instance: inst})
			}
		case cache.Initialized:
			if !loaded {
				loaded = true
				close(sc.ready)
				sc.events.Push(CacheEvent[T]{Type: CacheReady})
			}
		}
	}
}

// Name returns the service's name.
func (sc *ServiceCache[T]) Name() string { return sc.name }

// Events returns the cache's changes, in order, through an unbounded
// queue. The channel is closed by Close (or when the client is closed).
func (sc *ServiceCache[T]) Events() <-chan CacheEvent[T] { return sc.events.C() }

// Ready is closed once the cache has loaded the service's instances.
func (sc *ServiceCache[T]) Ready() <-chan struct{} { return sc.ready }

// Instances returns the cached instances, sorted by id.
func (sc *ServiceCache[T]) Instances() []Instance[T] {
	sc.mu.RLock()
	out := make([]Instance[T], 0, len(sc.instances))
	for _, inst := range sc.instances {
		out = append(out, inst)
	}
	sc.mu.RUnlock()
	slices.SortFunc(out, func(a, b Instance[T]) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Err returns why the cache ended (see cache.TreeCache.Err), nil while it
// runs.
func (sc *ServiceCache[T]) Err() error {
	err := sc.tc.Err()
	if errors.Is(err, cache.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Close stops the cache and removes its watch.
func (sc *ServiceCache[T]) Close() error {
	_ = sc.tc.Close()
	<-sc.done
	sc.events.Close()
	return nil
}
