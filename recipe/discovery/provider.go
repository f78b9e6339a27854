package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper"
)

// ErrNoInstance is returned by ServiceProvider.Instance when no instance
// passes the filters.
var ErrNoInstance = errors.New("discovery: no instance available")

// Strategy picks one of a provider's instances, as Curator's
// ProviderStrategy. Pick gets the ids of the instances that passed the
// filters (sorted, never empty) and returns the index of the one to use.
// Implementations must be safe for concurrent use.
type Strategy interface {
	Pick(ids []string) int
}

type roundRobin struct{ next atomic.Uint64 }

func (r *roundRobin) Pick(ids []string) int { return int((r.next.Add(1) - 1) % uint64(len(ids))) }

// RoundRobin returns Curator's RoundRobinStrategy: each instance in turn
// (the default).
func RoundRobin() Strategy { return &roundRobin{} }

type random struct{}

func (random) Pick(ids []string) int { return rand.IntN(len(ids)) }

// Random returns Curator's RandomStrategy: an instance picked at random.
func Random() Strategy { return random{} }

type sticky struct {
	master Strategy
	mu     sync.Mutex
	id     string
}

func (s *sticky) Pick(ids []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(ids, s.id); s.id != "" && i >= 0 {
		return i
	}
	i := s.master.Pick(ids)
	s.id = ids[i]
	return i
}

// Sticky returns Curator's StickyStrategy: the same instance for as long
// as it is available, then one picked by master (RoundRobin when nil).
func Sticky(master Strategy) Strategy {
	if master == nil {
		master = RoundRobin()
	}
	return &sticky{master: master}
}

// ProviderOption configures a ServiceProvider.
type ProviderOption func(*providerConfig)

type providerConfig struct {
	strategy    Strategy
	filters     []any
	downTimeout time.Duration
	downErrors  int
}

// WithStrategy sets how the provider picks an instance, overriding the
// default RoundRobin().
func WithStrategy(s Strategy) ProviderOption { return func(c *providerConfig) { c.strategy = s } }

// WithFilter adds an instance filter (Curator's InstanceFilter): only
// instances for which f returns true are provided. T must be the
// Discovery's payload type, or NewProvider fails.
func WithFilter[T any](f func(Instance[T]) bool) ProviderOption {
	return func(c *providerConfig) { c.filters = append(c.filters, f) }
}

// WithDownInstancePolicy sets Curator's DownInstancePolicy: an instance
// for which NoteError was called errors times is not provided until
// timeout has passed since the first of those errors. The defaults are
// Curator's: 30s and 2 errors. timeout must be positive and errors at
// least 1.
func WithDownInstancePolicy(timeout time.Duration, errors int) ProviderOption {
	return func(c *providerConfig) { c.downTimeout, c.downErrors = timeout, errors }
}

// ServiceProvider hands out instances of one service, as Curator's
// ServiceProvider: from a ServiceCache, without disabled instances,
// instances that the filters reject and instances noted down (NoteError),
// picked by a Strategy. Create one with Discovery.NewProvider.
//
// All methods are safe for concurrent use.
type ServiceProvider[T any] struct {
	cache    *ServiceCache[T]
	strategy Strategy
	filters  []func(Instance[T]) bool
	down     *downInstances
}

// NewProvider starts a provider of the service name; ctx bounds only the
// setup of its cache (see NewCache). Call Close when done.
func (d *Discovery[T]) NewProvider(ctx context.Context, name string, opts ...ProviderOption) (*ServiceProvider[T], error) {
	cfg := providerConfig{downTimeout: 30 * time.Second, downErrors: 2}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.strategy == nil {
		cfg.strategy = RoundRobin()
	}
	if cfg.downTimeout <= 0 || cfg.downErrors < 1 {
		return nil, fmt.Errorf("discovery: provider: %w: WithDownInstancePolicy(%v, %d): want a positive timeout and at least 1 error",
			keeper.ErrBadArguments, cfg.downTimeout, cfg.downErrors)
	}
	p := &ServiceProvider[T]{strategy: cfg.strategy, down: newDownInstances(cfg.downTimeout, cfg.downErrors)}
	for _, f := range cfg.filters {
		ff, ok := f.(func(Instance[T]) bool)
		if !ok {
			return nil, fmt.Errorf("discovery: provider: %w: a filter of type %T does not take this Discovery's Instance type", keeper.ErrBadArguments, f)
		}
		p.filters = append(p.filters, ff)
	}
	sc, err := d.NewCache(ctx, name)
	if err != nil {
		return nil, err
	}
	p.cache = sc
	go func() {
		for range sc.Events() {
		}
	}()
	return p, nil
}

// Ready is closed once the provider's cache has loaded the instances.
func (p *ServiceProvider[T]) Ready() <-chan struct{} { return p.cache.Ready() }

// AllInstances returns the instances that pass the filters, sorted by id.
func (p *ServiceProvider[T]) AllInstances() []Instance[T] {
	var out []Instance[T]
	for _, inst := range p.cache.Instances() {
		if inst.Disabled || p.down.isDown(inst.ID) {
			continue
		}
		keep := true
		for _, f := range p.filters {
			if !f(inst) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, inst)
		}
	}
	return out
}

// Instance returns an instance picked by the strategy, or ErrNoInstance.
// Do not keep it: ask again for each use, as Curator advises.
func (p *ServiceProvider[T]) Instance() (Instance[T], error) {
	all := p.AllInstances()
	if len(all) == 0 {
		var zero Instance[T]
		return zero, ErrNoInstance
	}
	ids := make([]string, len(all))
	for i, inst := range all {
		ids[i] = inst.ID
	}
	i := p.strategy.Pick(ids)
	if i < 0 || i >= len(all) {
		i = 0
	}
	return all[i], nil
}

// NoteError records a failed use of inst (by its id): after as many errors
// as the down-instance policy allows, it is not provided for the policy's
// timeout.
func (p *ServiceProvider[T]) NoteError(inst Instance[T]) { p.down.add(inst.ID) }

// Close stops the provider's cache.
func (p *ServiceProvider[T]) Close() error { return p.cache.Close() }

// downInstances is Curator's DownInstanceManager: error counts per
// instance id, each void once timeout has passed since its first error
// (Curator only drops them when it purges, at most every timeout/2, so an
// instance may stay down for up to 1.5 timeouts there). The clock is the
// local monotonic one.
type downInstances struct {
	timeout   time.Duration
	threshold int

	mu        sync.Mutex
	statuses  map[string]*downStatus
	lastPurge time.Time
}

type downStatus struct {
	start  time.Time
	errors int
}

func newDownInstances(timeout time.Duration, threshold int) *downInstances {
	return &downInstances{timeout: timeout, threshold: threshold, statuses: map[string]*downStatus{}, lastPurge: time.Now()}
}

func (d *downInstances) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.purgeLocked()
	s := d.statuses[id]
	if s == nil || time.Since(s.start) >= d.timeout {
		s = &downStatus{start: time.Now()}
		d.statuses[id] = s
	}
	s.errors++
}

func (d *downInstances) isDown(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.purgeLocked()
	s := d.statuses[id]
	return s != nil && s.errors >= d.threshold && time.Since(s.start) < d.timeout
}

func (d *downInstances) purgeLocked() {
	now := time.Now()
	if now.Sub(d.lastPurge) < d.timeout/2 {
		return
	}
	d.lastPurge = now
	for id, s := range d.statuses {
		if now.Sub(s.start) >= d.timeout {
			delete(d.statuses, id)
		}
	}
}
