package partition

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/queue"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/recipe/lock"
	"github.com/keeper-go/keeper/recipe/party"
)

// State is a SetPartitioner's state, Kazoo's PartitionState.
type State int

// The states. A partitioner starts Allocating; Failure is final.
const (
	// Allocating: waiting for the party to settle, then taking the
	// locks of this member's items.
	Allocating State = iota
	// Acquired: every item of Partitions is locked by this member.
	Acquired
	// Release: the party changed, or the connection was interrupted;
	// stop working on the items and call ReleaseSet soon.
	Release
	// Failure: the session was lost, the locks could not be taken in
	// time, or Finish was called. Make a new SetPartitioner.
	Failure
)

var stateNames = [...]string{"Allocating", "Acquired", "Release", "Failure"}

// String returns the state's name.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ErrAcquireTimeout is the Failure cause when the locks of this member's
// items could not all be taken within the acquire timeout while the party
// stayed the same: another process holds one (a member partitioning a
// different set, or a lock held by hand). Kazoo's partitioner retries
// forever in that case (kazoo#392).
var ErrAcquireTimeout = errors.New("partition: items' locks not acquired in time")

// ErrFinished is the Failure cause after Finish.
var ErrFinished = errors.New("partition: finished")

// ErrBadOption reports an invalid Option or set.
var ErrBadOption = errors.New("partition: bad option")

// Func decides which items of set the member identifier gets, given all
// members' identifiers (sorted). Every member must use the same function.
type Func func(identifier string, members, set []string) []string

// RoundRobin is Kazoo's default partition function: the set and the
// members sorted, and member i of n gets the items i, i+n, i+2n, ...
func RoundRobin(identifier string, members, set []string) []string {
	items := slices.Clone(set)
	slices.Sort(items)
	ms := slices.Clone(members)
	slices.Sort(ms)
	i := slices.Index(ms, identifier)
	if i < 0 {
		return nil
	}
	var out []string
	for j := i; j < len(items); j += len(ms) {
		out = append(out, items[j])
	}
	return out
}

// Option configures a SetPartitioner.
type Option func(*config)

type config struct {
	id             string
	fn             Func
	boundary       time.Duration
	reaction       time.Duration
	acquireTimeout time.Duration
	err            error
}

// WithIdentifier sets the member's identifier, overriding Kazoo's default
// "<hostname>-<pid>". It must be unique in the party and usable in a node
// name (no "/").
func WithIdentifier(id string) Option { return func(c *config) { c.id = id } }

// WithPartitionFunc sets the partition function, overriding RoundRobin.
func WithPartitionFunc(fn Func) Option {
	return func(c *config) {
		if fn == nil {
			c.err = fmt.Errorf("%w: WithPartitionFunc(nil)", ErrBadOption)
		}
		c.fn = fn
	}
}

// WithTimeBoundary sets how long the party must stay unchanged before the
// set is allocated, overriding Kazoo's default 30s; d must be positive.
func WithTimeBoundary(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.err = fmt.Errorf("%w: WithTimeBoundary(%v): must be positive", ErrBadOption, d)
		}
		c.boundary = d
	}
}

// WithMaxReactionTime sets how long one wait for an item's lock lasts
// before the party is looked at again, overriding Kazoo's default 1s; d
// must be positive.
func WithMaxReactionTime(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.err = fmt.Errorf("%w: WithMaxReactionTime(%v): must be positive", ErrBadOption, d)
		}
		c.reaction = d
	}
}

// WithAcquireTimeout sets how long the locks of one allocation may take
// while the party does not change before the partitioner fails with
// ErrAcquireTimeout, overriding the default 60s; d must be positive.
func WithAcquireTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.err = fmt.Errorf("%w: WithAcquireTimeout(%v): must be positive", ErrBadOption, d)
		}
		c.acquireTimeout = d
	}
}

// SetPartitioner is Kazoo's SetPartitioner: it divides a set of items
// among the members of a party, each item locked by the one member that
// owns it. Create one with New and call Start.
//
// Its methods are safe for concurrent use.
type SetPartitioner struct {
	c       *keeper.Client
	path    string
	set     []string
	cfg     config
	partyP  string
	locksP  string
	member  *party.ShallowParty
	changes chan State
	q       *queue.Queue[State]

	mu        sync.Mutex
	state     State
	err       error
	owned     []string
	locks     []*lock.Lock
	started   bool
	closeOnce sync.Once
	wake      chan struct{} // 1-buffered: something for the loop to look at
	acquired  chan struct{} // closed on Acquired or Failure, replaced on leaving Acquired
	release   chan struct{} // 1-buffered: ReleaseSet was called
	stop      func()
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New returns a SetPartitioner of set among the members of the party at
// "<path>/party", with item locks under "<path>/locks", for client c.
// Nothing is sent until Start.
func New(c *keeper.Client, path string, set []string, opts ...Option) *SetPartitioner {
	host, _ := os.Hostname()
	cfg := config{
		id:             fmt.Sprintf("%s-%d", host, os.Getpid()),
		fn:             RoundRobin,
		boundary:       30 * time.Second,
		reaction:       time.Second,
		acquireTimeout: 60 * time.Second,
	}
	node.ApplyOptions(&cfg, opts)
	p := &SetPartitioner{
		c: c, path: path, set: slices.Clone(set), cfg: cfg,
		partyP:   keeper.JoinPath(path, "party"),
		locksP:   keeper.JoinPath(path, "locks"),
		changes:  make(chan State),
		q:        queue.New[State](),
		wake:     make(chan struct{}, 1),
		release:  make(chan struct{}, 1),
		acquired: make(chan struct{}),
	}
	if p.cfg.err == nil {
		p.cfg.err = p.validate()
	}
	return p
}

func (p *SetPartitioner) validate() error {
	if err := keeper.ValidatePath(p.path); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if p.cfg.id == "" || strings.ContainsRune(p.cfg.id, '/') {
		return fmt.Errorf("%w: identifier %q: must be a non-empty node name", ErrBadOption, p.cfg.id)
	}
	for _, it := range p.set {
		if err := keeper.ValidatePath(keeper.JoinPath(p.path, it)); err != nil || it == "" || strings.ContainsRune(it, '/') {
			return fmt.Errorf("%w: item %q is not a valid node name", ErrBadOption, it)
		}
	}
	return nil
}

// Identifier returns the member's identifier.
func (p *SetPartitioner) Identifier() string { return p.cfg.id }

// Start joins the party and starts allocating. ctx bounds the join.
func (p *SetPartitioner) Start(ctx context.Context) error {
	if p.cfg.err != nil {
		return p.cfg.err
	}
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return fmt.Errorf("partition: %s: already started", p.path)
	}
	p.started = true
	p.mu.Unlock()
	for _, d := range []string{p.locksP, p.partyP} {
		if err := node.Retry(ctx, func(ctx context.Context) error { return p.c.EnsurePath(ctx, d) }); err != nil {
			return fmt.Errorf("partition: start %s: %w", p.path, err)
		}
	}
	p.member = party.NewShallow(p.c, p.partyP, p.cfg.id)
	if err := p.member.Join(ctx); err != nil {
		return fmt.Errorf("partition: start %s: %w", p.path, err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.stop = p.c.Listen(p.onState)
	p.wg.Add(2)
	go p.forward(lctx)
	go p.run(lctx)
	return nil
}

// State returns the current state.
func (p *SetPartitioner) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Err returns why the partitioner is in Failure, or nil.
func (p *SetPartitioner) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Partitions returns the items this member owns: those it holds the
// locks of while Acquired, and nil in the other states.
func (p *SetPartitioner) Partitions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != Acquired {
		return nil
	}
	return slices.Clone(p.owned)
}

// Changes returns the channel on which every state change is sent, in
// order (an unbounded queue is behind it). It is closed by Finish, after
// the Failure state.
func (p *SetPartitioner) Changes() <-chan State { return p.changes }

// WaitForAcquire waits until the partitioner is Acquired (nil) or in
// Failure (its cause), or ctx ends.
func (p *SetPartitioner) WaitForAcquire(ctx context.Context) error {
	for {
		p.mu.Lock()
		st, err, ch := p.state, p.err, p.acquired
		p.mu.Unlock()
		switch st {
		case Acquired:
			return nil
		case Failure:
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("partition: wait for acquire %s: %w", p.path, node.CtxErr(ctx))
		}
	}
}

// ReleaseSet releases the locks of the items (in the Release state, or
// Acquired) and starts allocating again. ctx bounds the release.
func (p *SetPartitioner) ReleaseSet(ctx context.Context) error {
	p.mu.Lock()
	st := p.state
	p.mu.Unlock()
	switch st {
	case Failure:
		return p.Err()
	case Allocating:
		return nil
	}
	err := p.releaseLocks(ctx)
	p.mu.Lock()
	if p.state != Failure {
		p.setStateLocked(Allocating, nil)
	}
	p.mu.Unlock()
	select {
	case p.release <- struct{}{}:
	default:
	}
	return err
}

// Finish releases the items' locks, leaves the party and ends the
// partitioner (state Failure, cause ErrFinished); Changes is closed. It
// waits for the partitioner's goroutines. ctx bounds the release.
func (p *SetPartitioner) Finish(ctx context.Context) error {
	p.mu.Lock()
	started := p.started && p.cancel != nil
	if p.state != Failure {
		p.setStateLocked(Failure, ErrFinished)
	}
	p.mu.Unlock()
	if !started {
		p.closeOnce.Do(func() { close(p.changes) })
		return nil
	}
	p.stop()
	p.cancel()
	p.wg.Wait()
	err := p.releaseLocks(ctx)
	if lerr := p.member.Leave(ctx); err == nil {
		err = lerr
	}
	p.closeOnce.Do(func() { close(p.changes) })
	return err
}

// setStateLocked moves to st (cause is Failure's), queues the change and
// wakes the loop and WaitForAcquire.
func (p *SetPartitioner) setStateLocked(st State, cause error) {
	if p.state == st || p.state == Failure {
		return
	}
	prev := p.state
	p.state = st
	if st == Failure {
		p.err = cause
	}
	switch {
	case (st == Acquired || st == Failure) && prev != Acquired:
		close(p.acquired)
	case st == Failure:
		// Closed since Acquired.
	case prev == Acquired:
		p.acquired = make(chan struct{})
	}
	p.q.Push(st)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *SetPartitioner) fail(cause error) {
	p.mu.Lock()
	p.setStateLocked(Failure, cause)
	p.mu.Unlock()
}

// onState follows the session as Kazoo does: a lost session is Failure;
// any other change (a disconnect, a reconnect) makes an Acquired
// partitioner Release and an allocating one start over.
func (p *SetPartitioner) onState(ev keeper.StateEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.State {
	case keeper.Lost, keeper.Closed:
		cause := ev.Err
		if cause == nil {
			cause = keeper.ErrSessionExpired
		}
		p.setStateLocked(Failure, fmt.Errorf("partition: session lost: %w", cause))
	default:
		if p.state == Acquired {
			p.setStateLocked(Release, nil)
		}
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *SetPartitioner) forward(ctx context.Context) {
	defer p.wg.Done()
	p.q.Run(ctx.Done(), func(st State) bool {
		select {
		case p.changes <- st:
			return true
		case <-ctx.Done():
			return false
		}
	})
}

// releaseLocks releases every lock held; a lock that was lost needs no
// release.
func (p *SetPartitioner) releaseLocks(ctx context.Context) error {
	p.mu.Lock()
	locks := p.locks
	p.locks, p.owned = nil, nil
	p.mu.Unlock()
	var errs []error
	for _, l := range locks {
		if err := l.Release(ctx); err != nil && !errors.Is(err, lock.ErrLost) && !errors.Is(err, lock.ErrNotHeld) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errRestart: the party changed (or the connection did) while allocating.
var errRestart = errors.New("partition: restart allocation")

// run is the partitioner's loop: allocate, hold, wait for ReleaseSet.
func (p *SetPartitioner) run(ctx context.Context) {
	defer p.wg.Done()
	var watch <-chan keeper.Event // the party's child watch, when set
	defer func() {
		if watch != nil {
			node.DropWatch(ctx, p.c, p.partyP, keeper.WatchChildren, watch)
		}
	}()
	for ctx.Err() == nil {
		switch p.State() {
		case Failure:
			// As Kazoo's _fail_out: leave the party, so that the others
			// divide the set without us.
			_ = node.Cleanup(ctx, p.c, func(cctx context.Context) error {
				_ = p.releaseLocks(cctx)
				return p.member.Leave(cctx)
			})
			return
		case Allocating:
			err := p.allocate(ctx, &watch)
			switch {
			case errors.Is(err, errRestart):
				_ = p.releaseLocks(ctx)
			case err != nil:
				if ctx.Err() == nil {
					p.fail(err)
				}
			}
		case Acquired:
			p.hold(ctx, &watch)
		case Release:
			select {
			case <-p.release:
			case <-p.wake:
			case <-ctx.Done():
			}
		}
	}
}

// settle waits until the party has not changed for the time boundary and
// returns its members, its child version, with its watch set in *watch.
func (p *SetPartitioner) settle(ctx context.Context, watch *<-chan keeper.Event) ([]string, int32, error) {
	var b node.Backoff
	for {
		if *watch != nil {
			// Left over from an earlier round: a fresh one goes with the
			// listing below.
			node.DropWatch(ctx, p.c, p.partyP, keeper.WatchChildren, *watch)
			*watch = nil
		}
		kids, st, ch, err := p.c.ChildrenW(ctx, p.partyP)
		if err != nil {
			node.Abandoned(ctx, p.c, p.partyP, keeper.WatchChildren, err)
			if ctx.Err() != nil || !node.IsTransient(err) {
				return nil, 0, err
			}
			if err := b.Sleep(ctx); err != nil {
				return nil, 0, err
			}
			continue
		}
		*watch = ch
		t := time.NewTimer(p.cfg.boundary)
		select {
		case <-ch:
			t.Stop()
			*watch = nil
			continue
		case <-ctx.Done():
			t.Stop()
			return nil, 0, ctx.Err()
		case <-t.C:
		}
		members := make([]string, 0, len(kids))
		for _, k := range kids {
			if _, id, ok := strings.Cut(k, "-"); ok {
				members = append(members, id)
			}
		}
		slices.Sort(members)
		return members, st.Cversion, nil
	}
}

// allocate takes the locks of this member's items for one stable party.
func (p *SetPartitioner) allocate(ctx context.Context, watch *<-chan keeper.Event) error {
	members, cversion, err := p.settle(ctx, watch)
	if err != nil {
		return err
	}
	if !slices.Contains(members, p.cfg.id) {
		return errRestart // our own member node is not there yet (rejoining)
	}
	mine := p.cfg.fn(p.cfg.id, members, slices.Clone(p.set))
	deadline := time.Now().Add(p.cfg.acquireTimeout)
	fired := func() bool {
		select {
		case <-*watch:
			*watch = nil
			return true
		default:
			return p.State() != Allocating
		}
	}
	for _, item := range mine {
		l := lock.New(p.c, keeper.JoinPath(p.locksP, item), "")
		for {
			actx, cancel := context.WithTimeout(ctx, p.cfg.reaction)
			err := l.Acquire(actx)
			cancel()
			if err == nil {
				break
			}
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case fired():
				return errRestart
			case !errors.Is(err, context.DeadlineExceeded) && !node.IsTransient(err):
				return err
			case time.Now().After(deadline):
				return fmt.Errorf("%w: %s (after %v)", ErrAcquireTimeout, keeper.JoinPath(p.locksP, item), p.cfg.acquireTimeout)
			}
		}
		p.mu.Lock()
		p.locks = append(p.locks, l)
		p.mu.Unlock()
		if fired() {
			return errRestart
		}
	}
	// Every lock is held. The party must still be the one we partitioned
	// for: a change during the last acquisition is seen here by its child
	// version even if its watch event is still on the way (kazoo PR #259).
	var st *keeper.Stat
	err = node.Retry(ctx, func(ctx context.Context) error {
		var err error
		st, err = p.c.Exists(ctx, p.partyP)
		if err == nil && st == nil {
			err = keeper.ErrNoNode
		}
		return err
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st.Cversion != cversion || p.state != Allocating {
		return errRestart
	}
	select {
	case <-*watch:
		*watch = nil
		return errRestart
	default:
	}
	p.owned = slices.Clone(mine)
	p.setStateLocked(Acquired, nil)
	return nil
}

// hold waits in Acquired until the party changes, a lock is lost or the
// session changes, and moves to Release.
func (p *SetPartitioner) hold(ctx context.Context, watch *<-chan keeper.Event) {
	p.mu.Lock()
	locks := slices.Clone(p.locks)
	p.mu.Unlock()
	lost := make(chan struct{}, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, l := range locks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-l.Lost():
				select {
				case lost <- struct{}{}:
				default:
				}
			case <-stop:
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for {
		select {
		case <-*watch:
			*watch = nil
		case <-lost:
		case <-p.wake:
			if p.State() == Acquired {
				continue
			}
			return
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
		if p.state == Acquired {
			p.setStateLocked(Release, nil)
		}
		p.mu.Unlock()
		return
	}
}
