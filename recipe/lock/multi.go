package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// Locker is a lock a MultiLock can take: *Lock and *Semaphore are Lockers.
type Locker interface {
	Acquire(ctx context.Context) error
	Release(ctx context.Context) error
	IsAcquired() bool
	Lost() <-chan struct{}
	Err() error
	Guard(t *keeper.Txn) *keeper.Txn
}

// MultiLock takes several locks as one, all or nothing, as Curator's
// InterProcessMultiLock: Acquire takes them in the order given and, when
// one cannot be had, releases those it took, in reverse order, so a failed
// or cancelled Acquire leaves nothing held and no node behind; Release
// releases them in reverse order. Processes that share locks must list
// them in the same order, or they may deadlock until their ctx ends.
//
// Unlike Curator's, Acquire never returns holding a lock that was lost
// meanwhile (an earlier lock's session expired while a later one was
// awaited): it gives everything back and starts again. Lost is closed when
// any of the locks is lost (the others stay held until Release), and Guard
// adds every lock's condition, so a guarded write is refused once any is
// lost.
//
// Its methods are safe for concurrent use; Acquire and Release run one at
// a time. The locks must not be used on their own meanwhile.
type MultiLock struct {
	locks []Locker
	turn  chan struct{} // 1-buffered: serialises Acquire and Release

	mu   sync.Mutex
	held bool
	lost chan struct{} // closed when any lock is lost, or on Release
	stop chan struct{} // ends the loss watchers
	wg   sync.WaitGroup
}

// NewMultiLock returns a MultiLock of locks, taken in this order. Nothing
// is sent until Acquire; Acquire fails when locks is empty or holds nil.
func NewMultiLock(locks ...Locker) *MultiLock {
	return &MultiLock{locks: locks, turn: make(chan struct{}, 1), lost: closedCh}
}

// NewMultiLockPaths returns a MultiLock of a Lock on each path, taken in
// this order, as Curator's InterProcessMultiLock(client, paths) (which
// uses an InterProcessMutex per path: give WithCuratorLayout to share the
// locks with it).
func NewMultiLockPaths(c *keeper.Client, paths []string, identifier string, opts ...Option) *MultiLock {
	locks := make([]Locker, len(paths))
	for i, p := range paths {
		locks[i] = New(c, p, identifier, opts...)
	}
	return NewMultiLock(locks...)
}

var closedCh = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Acquire waits until it holds every lock, or ctx ends. When a lock cannot
// be taken (ctx ended, the client was closed), it releases those it took,
// in reverse order, with a fresh context bounded by the session timeout,
// and returns the error: nothing is held then.
func (m *MultiLock) Acquire(ctx context.Context) error {
	if len(m.locks) == 0 || slicesContainsNil(m.locks) {
		return fmt.Errorf("%w: MultiLock needs locks, and no nil ones", ErrBadOption)
	}
	select {
	case m.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock: acquire multi-lock: %w", node.CtxErr(ctx))
	}
	defer func() { <-m.turn }()
	m.mu.Lock()
	held := m.held
	m.mu.Unlock()
	if held {
		return fmt.Errorf("%w: multi-lock", ErrHeld)
	}
	for {
		n := 0
		var err error
		for _, l := range m.locks {
			if err = l.Acquire(ctx); err != nil {
				break
			}
			n++
		}
		if err == nil && m.anyLost() {
			err = ErrLost
		}
		if err == nil {
			m.watch()
			return nil
		}
		m.rollback(ctx, n)
		if !errors.Is(err, ErrLost) || ctx.Err() != nil {
			return fmt.Errorf("lock: acquire multi-lock: %w", err)
		}
		// A lock taken earlier was lost while a later one was awaited:
		// everything was given back; start again.
	}
}

func slicesContainsNil(ls []Locker) bool {
	for _, l := range ls {
		if l == nil {
			return true
		}
	}
	return false
}

func (m *MultiLock) anyLost() bool {
	for _, l := range m.locks {
		if !l.IsAcquired() {
			return true
		}
	}
	return false
}

// rollback releases the first n locks in reverse order, each with a fresh
// context that outlives ctx, bounded by its client's session timeout (see
// node.Cleanup).
func (m *MultiLock) rollback(ctx context.Context, n int) {
	for i := n - 1; i >= 0; i-- {
		l := m.locks[i]
		if c := clientOf(l); c != nil {
			_ = node.Cleanup(ctx, c, l.Release)
			continue
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		_ = l.Release(cctx)
		cancel()
	}
}

// rollbackTimeout bounds the release of a Locker whose client is unknown.
const rollbackTimeout = 10 * time.Second

// clientOf returns the client of the package's own Lockers, else nil.
func clientOf(l Locker) *keeper.Client {
	switch l := l.(type) {
	case *Lock:
		return l.c
	case *Semaphore:
		return l.c
	}
	return nil
}

// watch starts the loss watchers of a new holding.
func (m *MultiLock) watch() {
	lost := make(chan struct{})
	stop := make(chan struct{})
	var once sync.Once
	m.mu.Lock()
	m.held, m.lost, m.stop = true, lost, stop
	m.mu.Unlock()
	for _, l := range m.locks {
		ch := l.Lost()
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			select {
			case <-ch:
				once.Do(func() { close(lost) })
			case <-stop:
			}
		}()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		<-stop
		once.Do(func() { close(lost) })
	}()
}

// Release releases every lock, in reverse order, and closes Lost. It
// returns ErrNotHeld when the MultiLock does not hold, else the releases'
// errors joined (a lost lock gives an error matching ErrLost).
func (m *MultiLock) Release(ctx context.Context) error {
	select {
	case m.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock: release multi-lock: %w", node.CtxErr(ctx))
	}
	defer func() { <-m.turn }()
	m.mu.Lock()
	held, stop := m.held, m.stop
	m.held = false
	m.mu.Unlock()
	if !held {
		return fmt.Errorf("%w: multi-lock", ErrNotHeld)
	}
	var errs []error
	for i := len(m.locks) - 1; i >= 0; i-- {
		if err := m.locks[i].Release(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	close(stop)
	m.wg.Wait()
	return errors.Join(errs...)
}

// IsAcquired reports whether every lock is held now.
func (m *MultiLock) IsAcquired() bool {
	m.mu.Lock()
	held := m.held
	m.mu.Unlock()
	return held && !m.anyLost()
}

// Lost returns a channel that is closed when any of the locks is lost,
// and on Release; before the first Acquire it is closed. Take it after
// Acquire.
func (m *MultiLock) Lost() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lost
}

// Err returns why a lock was lost (the first lost lock's Err), or nil.
func (m *MultiLock) Err() error {
	for _, l := range m.locks {
		if err := l.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Guard adds to t the condition of every lock (see Lock.Guard): the server
// applies the transaction only while all of them are held.
func (m *MultiLock) Guard(t *keeper.Txn) *keeper.Txn {
	for _, l := range m.locks {
		t = l.Guard(t)
	}
	return t
}
