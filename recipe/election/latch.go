package election

import (
	"context"
	"errors"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/queue"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// latchMarker is what Curator's LeaderLatch puts before the sequence.
const latchMarker = "latch-"

// LeaderLatch is a contender that stays in an election until closed, as
// Curator's LeaderLatch: it reports whether it leads, and when leadership
// comes and goes. Its node is Curator's, "<path>/_c_<uuid>-latch-<seq>"
// (ephemeral-sequential, protected, holding the id), in a container
// parent; contenders are ordered by the number after the last "latch-", so
// Keeper and Curator latches share an election.
//
// Unlike Curator 5.4, a latch never leads with a node that the current
// session does not own (CURATOR-696): after a reconnect or a new session it
// checks that its node exists and that its ephemeralOwner is the client's
// current session before claiming leadership. After a session loss it
// queues again with a new node.
//
// Create one with NewLeaderLatch, then Start it. Its methods are safe for
// concurrent use.
type LeaderLatch struct {
	c    *keeper.Client
	path string
	id   string
	cfg  config
	k    candidate

	changes *queue.Queue[bool] // changes not yet sent on out
	out     chan bool

	// life serializes Start and Close, which both talk to the server.
	life     sync.Mutex
	started  bool
	cancel   context.CancelFunc // ends run
	wg       sync.WaitGroup     // run
	closeErr error

	mu        sync.Mutex // guards what follows; never held across a call
	closed    bool
	leader    bool
	lost      chan struct{}   // closed when the current term ends
	suspended <-chan struct{} // the current term's fence's Suspended
	changed   chan struct{}   // closed (and replaced) on every change
	runErr    error           // why the latch stopped contending, if not Close
	node      string          // the node of the current term, for Node
	term      term            // the current term
	reporting bool            // Leadership was called: changes are queued
}

// closedCh is a closed channel, the Lost of a latch that does not lead.
var closedCh = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// NewLeaderLatch returns a latch for the election at path, for client c;
// id (any text) is stored in its node and listed by Participants. Nothing
// is sent until Start.
func NewLeaderLatch(c *keeper.Client, path, id string, opts ...Option) *LeaderLatch {
	l := &LeaderLatch{
		c:         c,
		path:      path,
		id:        id,
		cfg:       newConfig(opts),
		changes:   queue.New[bool](),
		out:       make(chan bool),
		lost:      closedCh,
		suspended: closedCh,
		changed:   make(chan struct{}),
	}
	l.k = candidate{
		c:         c,
		dir:       path,
		prefix:    "_c_" + node.UUID() + "-" + latchMarker,
		marker:    latchMarker,
		data:      []byte(id),
		container: true,
	}
	return l
}

// Start enters the election: it creates the latch's node (and the
// election's path, as container nodes) within ctx, then contends in the
// background until Close. Leadership may come at any time after. Start
// may be called once; after Close it returns ErrClosed.
func (l *LeaderLatch) Start(ctx context.Context) error {
	l.life.Lock()
	defer l.life.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	switch {
	case closed:
		return wrap("start", l.path, ErrClosed)
	case l.started:
		return wrap("start", l.path, errors.New("latch already started"))
	}
	if err := l.k.enqueue(ctx); err != nil {
		_ = giveUp(ctx, l.c, l.k.purge)
		return wrap("start", l.path, err)
	}
	l.started = true
	rctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(1)
	go l.run(rctx)
	return nil
}

// run contends until ctx ends (Close) or the client is closed.
func (l *LeaderLatch) run(ctx context.Context) {
	defer l.wg.Done()
	for {
		if err := l.k.await(ctx); err != nil {
			if ctx.Err() == nil {
				l.stop(err) // the client was closed
			}
			return
		}
		fence := node.NewFence(l.c, l.k.node, l.k.session, nil)
		if !fence.Held() {
			fence.Stop() // the session changed meanwhile
			continue
		}
		l.mu.Lock()
		l.term = term{fence: fence, token: l.k.czxid, last: l.k.node}
		l.mu.Unlock()
		l.set(true, l.k.node, fence.Suspended())
		suspended := fence.Suspended()
		if !l.cfg.stopOnSuspend {
			suspended = nil
		}
		select {
		case <-fence.Lost():
		case <-suspended:
		case <-ctx.Done():
		}
		// Not leader from here on; Close deletes the node only after this.
		l.set(false, "", nil)
		l.mu.Lock()
		l.term.fence = nil
		l.mu.Unlock()
		fence.Stop()
		if ctx.Err() != nil {
			return
		}
		// Lost or suspended: await looks again, and leads again only with
		// a node that is first and owned by the current session.
	}
}

// set records a change of leadership and queues it for Leadership.
func (l *LeaderLatch) set(leader bool, nodePath string, suspended <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leader == leader {
		return
	}
	l.leader = leader
	l.node = nodePath
	if leader {
		l.lost = make(chan struct{})
		l.suspended = suspended
	} else {
		close(l.lost)
		l.lost = closedCh
		l.suspended = closedCh
	}
	close(l.changed)
	l.changed = make(chan struct{})
	if l.reporting {
		l.changes.Push(leader)
	}
}

// stop records that the latch stopped contending because of err.
func (l *LeaderLatch) stop(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runErr = err
	close(l.changed)
	l.changed = make(chan struct{})
}

// pump sends the queued changes on out, in order, so that the latch never
// blocks on a slow receiver and no change is dropped, and closes out once
// Close has closed the queue and everything queued was sent.
func (l *LeaderLatch) pump() {
	defer close(l.out)
	l.changes.Run(nil, func(leader bool) bool {
		l.out <- leader
		return true
	})
}

// HasLeadership reports whether the latch leads now.
func (l *LeaderLatch) HasLeadership() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader
}

// Lost returns a channel that is closed when the current leadership ends:
// the session was lost, the node deleted, the latch closed or, with
// StopOnSuspend, the connection dropped. When the latch does not lead, the
// channel is already closed, so a leader that acts on
//
//	if err := l.Await(ctx); err != nil { return err }
//	lost := l.Lost()
//	// work, stopping when lost is closed
//
// stops at once if leadership went between Await and Lost. Each term of
// leadership has its own channel.
func (l *LeaderLatch) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Suspended returns a channel that is closed at the next disconnect
// during the current term of leadership (a new one after each Verified),
// or when the term ends: an
// application that wants Curator's conservative policy for some of its work
// only stops that work when it is closed (StopOnSuspend applies it to the
// whole latch). When the latch does not lead, the channel is already closed.
func (l *LeaderLatch) Suspended() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leader && l.term.fence != nil {
		return l.term.fence.Suspended()
	}
	return l.suspended
}

// Leadership returns the channel on which changes of leadership are
// reported in order: true when the latch becomes leader, false when it
// stops. The first call starts the reports (true first if the latch leads
// then); later calls return the same channel. Changes queue up without bound
// until received, so a caller must receive until the channel is closed,
// which Close does after the last change (the false of giving leadership
// up, if the latch led).
func (l *LeaderLatch) Leadership() <-chan bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.reporting {
		l.reporting = true
		if l.leader {
			l.changes.Push(true)
		}
		go l.pump()
	}
	return l.out
}

// Await blocks until the latch leads, and returns nil. It returns
// ErrClosed when the latch is (or gets) closed, the client's error when
// the latch stopped contending because its client was closed, and ctx's
// error when ctx ends first.
func (l *LeaderLatch) Await(ctx context.Context) error {
	for {
		l.mu.Lock()
		leader, closed, runErr, changed := l.leader, l.closed, l.runErr, l.changed
		l.mu.Unlock()
		switch {
		case closed:
			return wrap("await", l.path, ErrClosed)
		case leader:
			return nil
		case runErr != nil:
			return wrap("await", l.path, runErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return wrap("await", l.path, context.Cause(ctx))
		}
	}
}

// Node returns the path of the latch's node while it leads, else "".
func (l *LeaderLatch) Node() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.node
}

// Guard adds to t the condition that the latch's current term of
// leadership still holds (a Check of its node), so the server refuses the
// transaction once leadership is lost; see Election.Guard.
func (l *LeaderLatch) Guard(t *keeper.Txn) *keeper.Txn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term.guard(t)
}

// Token returns the current term's fencing token (the node's czxid,
// Curator's getLastPathIsLeader made a number), or 0 when not leading.
func (l *LeaderLatch) Token() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term.tokenNow()
}

// Verified returns a channel that is closed when, after a disconnect
// during the current term, leadership is known to be still held; see
// Election.Verified.
func (l *LeaderLatch) Verified() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term.verified()
}

// Participants returns the ids of the latches in the election, in queue
// order: the first is the leader (Curator's getParticipants).
func (l *LeaderLatch) Participants(ctx context.Context) ([]string, error) {
	ids, err := node.Contenders(ctx, l.c, l.path, latchMarker)
	if err != nil {
		return nil, wrap("participants", l.path, err)
	}
	return ids, nil
}

// Close leaves the election: it gives leadership up (Lost is closed and
// false reported first), deletes the latch's node, so that the next latch
// leads, and closes the Leadership channel. It waits for the deletion at
// most twice the session timeout; its error is the deletion's (none when the
// client is closed: the node went with the session). Close is idempotent.
func (l *LeaderLatch) Close() error {
	l.mu.Lock()
	l.closed = true // Await returns from now on
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	l.life.Lock()
	defer l.life.Unlock()
	if !l.started || l.cancel == nil {
		l.changes.Close()
		return l.closeErr
	}
	l.cancel()
	l.cancel = nil
	l.wg.Wait() // run has given leadership up
	err := giveUp(context.Background(), l.c, l.k.purge)
	if gone(err) {
		err = nil
	}
	if err != nil {
		err = wrap("close", l.path, err)
	}
	l.changes.Close() // the pump, if any, sends what is queued, then closes out
	l.closeErr = err
	return err
}
