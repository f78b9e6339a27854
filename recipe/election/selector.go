package election

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// mutexMarker is what Curator's InterProcessMutex (and so its
// LeaderSelector) puts before the sequence: "_c_<uuid>-lock-<seq>".
const mutexMarker = "-lock-"

// ErrInterrupted is the cause of a leader's context when
// LeaderSelector.InterruptLeadership ended its term.
var ErrInterrupted = errors.New("election: leadership interrupted")

// AutoRequeue makes a LeaderSelector contend again each time its leader
// function returns (Curator's autoRequeue), so that it stays in the
// election until closed. Without it a selector leads at most once per
// Start or Requeue. Election and LeaderLatch ignore it.
func AutoRequeue() Option { return func(c *config) { c.autoRequeue = true } }

// Participant is one contender of a LeaderSelector's election, as
// Curator's Participant: its id (its node's data) and whether it leads.
type Participant struct {
	ID     string
	Leader bool
}

// LeaderSelector is Curator's LeaderSelector: a contender that, each time
// it is elected, runs a function for as long as it leads; returning from
// the function gives leadership up. Its node is Curator's
// InterProcessMutex node, "<path>/_c_<uuid>-lock-<seq>" (ephemeral,
// sequential, protected, holding the id; a fresh uuid per term) in
// container parents, ordered by the number after the last "-lock-", so
// Keeper selectors, Curator's LeaderSelector and Curator's InterProcessMutex
// (and Keeper's lock.Lock with its Curator layout) on the same path exclude
// one another.
//
// The function's ctx is cancelled when leadership is lost (the session is
// lost, the node deleted or, after a reconnect, found gone or another
// session's; with StopOnSuspend at the first disconnect), on
// InterruptLeadership, and on Close; its cause matches ErrLost,
// ErrInterrupted or ErrClosed. The function must stop acting as leader then:
// the next leader may already run. HasLeadership turns false before the
// node is deleted, as in Curator. A contender claims leadership only with a
// node that exists and is owned by the client's current session
// (CURATOR-696).
//
// With AutoRequeue the selector contends again after each term, until
// Close; without it, once per Start or Requeue. Create one with
// NewLeaderSelector, then Start it. Its methods are safe for concurrent use.
type LeaderSelector struct {
	c    *keeper.Client
	path string
	id   string
	lead func(ctx context.Context)
	cfg  config

	life     sync.Mutex // serialises Start and Close
	started  bool
	stop     context.CancelCauseFunc
	done     chan struct{} // closed when run has returned
	closeErr error

	mu        sync.Mutex // guards what follows; never held across a call
	closed    bool
	queued    bool // contend (again) when the current term ends
	wake      chan struct{}
	leader    bool
	term      term
	interrupt context.CancelCauseFunc // ends the current term
	terms     int64
	err       error // why the selector stopped, other than Close
	purgeErr  error // the last failed deletion of our node
}

// NewLeaderSelector returns a selector for the election at path, for
// client c. id (any text) is stored in its node and listed by
// Participants; an empty id stores the host's address, as Curator does.
// lead is called, on a goroutine of the selector, each time the selector
// leads. Options: AutoRequeue, StopOnSuspend. Nothing is sent until Start.
func NewLeaderSelector(c *keeper.Client, path, id string, lead func(ctx context.Context), opts ...Option) *LeaderSelector {
	if id == "" {
		id = node.LocalAddress()
	}
	return &LeaderSelector{c: c, path: path, id: id, lead: lead, cfg: newConfig(opts), wake: make(chan struct{}, 1)}
}

// ID returns the selector's id, the data of its node.
func (s *LeaderSelector) ID() string { return s.id }

// Path returns the election's path.
func (s *LeaderSelector) Path() string { return s.path }

// Start starts contending in the background. It returns at once; it fails
// for a nil client or function, a bad path, a second Start, or after Close
// (ErrClosed).
func (s *LeaderSelector) Start() error {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return wrap("start", s.path, ErrClosed)
	case s.started:
		return wrap("start", s.path, errors.New("selector already started"))
	case s.c == nil:
		return wrap("start", s.path, errors.New("nil client"))
	case s.lead == nil:
		return wrap("start", s.path, errors.New("nil leader function"))
	}
	if err := keeper.ValidatePath(s.path); err != nil {
		return wrap("start", s.path, err)
	}
	s.started = true
	s.Requeue()
	ctx, cancel := context.WithCancelCause(context.Background())
	s.stop = cancel
	s.done = make(chan struct{})
	go s.run(ctx)
	return nil
}

// Requeue asks the selector to contend once more after the current term
// (or now, when it neither leads nor waits), Curator's requeue. It
// reports false when the selector was already queued to contend, or is
// closed. With AutoRequeue it is never needed.
func (s *LeaderSelector) Requeue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.queued {
		return false
	}
	s.queued = true
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// run contends, term after term, until ctx ends (Close) or the client is
// closed.
func (s *LeaderSelector) run(ctx context.Context) {
	defer close(s.done)
	for {
		s.mu.Lock()
		queued := s.queued
		s.mu.Unlock()
		if !queued {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		err := s.contend(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The client was closed, or the path cannot be used.
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
	}
}

// contend waits for leadership with a new node, runs one term, and gives
// leadership up.
func (s *LeaderSelector) contend(ctx context.Context) error {
	k := &candidate{
		c:         s.c,
		dir:       s.path,
		prefix:    "_c_" + node.UUID() + mutexMarker,
		marker:    mutexMarker,
		data:      []byte(s.id),
		container: true,
	}
	defer func() {
		err := giveUp(ctx, s.c, k.purge)
		if gone(err) {
			err = nil
		}
		s.mu.Lock()
		s.purgeErr = err
		s.mu.Unlock()
	}()
	var fence *node.Fence
	for fence == nil {
		if err := k.await(ctx); err != nil {
			return err
		}
		f := node.NewFence(s.c, k.node, k.session, nil)
		if !f.Held() {
			f.Stop() // the session changed between the check and the fence
			continue
		}
		fence = f
	}
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.leader = true
	s.term = term{fence: fence, token: k.czxid, last: k.node}
	s.interrupt = cancel
	s.terms++
	// This term uses up the request to contend; AutoRequeue renews it.
	s.queued = s.cfg.autoRequeue && !s.closed
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var suspended <-chan struct{}
		if s.cfg.stopOnSuspend {
			suspended = fence.Suspended()
		}
		select {
		case <-fence.Lost():
			if cause := fence.Err(); cause != nil {
				cancel(fmt.Errorf("%w: %w", ErrLost, cause))
			}
		case <-suspended:
			cancel(fmt.Errorf("%w: connection suspended", ErrLost))
		case <-tctx.Done():
		}
	}()
	func() {
		defer func() {
			// Leadership is given up before the node goes (Curator's
			// order), even after a panic in lead.
			s.mu.Lock()
			s.leader = false
			s.term.fence = nil
			s.interrupt = nil
			s.mu.Unlock()
		}()
		s.lead(tctx)
	}()
	cancel(nil)
	wg.Wait()
	fence.Stop()
	return nil
}

// InterruptLeadership ends the current term: the leader function's ctx is
// cancelled with ErrInterrupted as its cause (Curator's
// interruptLeadership). It does nothing when the selector does not lead.
func (s *LeaderSelector) InterruptLeadership() {
	s.mu.Lock()
	cancel := s.interrupt
	s.mu.Unlock()
	if cancel != nil {
		cancel(ErrInterrupted)
	}
}

// HasLeadership reports whether the selector leads now: its function runs
// and leadership has not been given up.
func (s *LeaderSelector) HasLeadership() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

// Terms returns how many terms of leadership the selector has begun.
func (s *LeaderSelector) Terms() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terms
}

// Guard adds to t the condition that the current term still holds (a
// Check of the leader's node), so the server refuses the transaction once
// leadership is lost; see Election.Guard. Call it from the leader
// function.
func (s *LeaderSelector) Guard(t *keeper.Txn) *keeper.Txn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.guard(t)
}

// Token returns the current term's fencing token (the leader's node's
// czxid, larger for every later term), or 0 when not leading.
func (s *LeaderSelector) Token() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.tokenNow()
}

// Suspended returns a channel closed at the next disconnect during the
// current term (a new one after each Verified), or when not leading.
func (s *LeaderSelector) Suspended() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.suspended()
}

// Verified returns a channel closed when, after a disconnect during the
// current term, leadership is known to be still held; see
// Election.Verified.
func (s *LeaderSelector) Verified() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term.verified()
}

// Participants returns the contenders in queue order, each with its id and
// whether it leads (the first), as Curator's getParticipants; Curator's
// selectors and InterProcessMutex holders on the path are listed too. A
// missing path has no participants.
func (s *LeaderSelector) Participants(ctx context.Context) ([]Participant, error) {
	ids, err := node.Contenders(ctx, s.c, s.path, mutexMarker)
	if err != nil {
		return nil, wrap("participants", s.path, err)
	}
	out := make([]Participant, len(ids))
	for i, id := range ids {
		out[i] = Participant{ID: id, Leader: i == 0}
	}
	return out, nil
}

// Leader returns the participant that leads, and false when nobody
// contends.
func (s *LeaderSelector) Leader(ctx context.Context) (Participant, bool, error) {
	ps, err := s.Participants(ctx)
	if err != nil || len(ps) == 0 {
		return Participant{}, false, err
	}
	return ps[0], true, nil
}

// Err returns why the selector stopped contending by itself (the client
// was closed), or nil.
func (s *LeaderSelector) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return nil
	}
	return wrap("run", s.path, s.err)
}

// Close leaves the election: a running leader function's ctx is cancelled
// with ErrClosed as its cause, and Close waits for it to return, then
// deletes the selector's node (at most twice the session timeout; its
// error is the deletion's, none when the client is closed). It is
// idempotent.
func (s *LeaderSelector) Close() error {
	s.mu.Lock()
	s.closed = true
	s.queued = false
	s.mu.Unlock()
	s.life.Lock()
	defer s.life.Unlock()
	if !s.started || s.stop == nil {
		return s.closeErr
	}
	s.stop(ErrClosed)
	s.stop = nil
	<-s.done
	s.mu.Lock()
	if err := s.purgeErr; err != nil {
		s.closeErr = wrap("close", s.path, err)
	}
	s.mu.Unlock()
	return s.closeErr
}
