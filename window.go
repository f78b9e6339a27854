package keeper

import (
	"context"
	"sync"
)

// window is the WithMaxInflight bound: at most max requests outstanding.
// A call that finds it full waits, and the waiters are woken once the
// window has drained to resume, not at every reply: a goroutine keeping
// the window full with asynchronous calls then wakes once per max/4
// replies and queues that many requests together (one write, one wake of
// the writer) instead of one at a time.
type window struct {
	mu      sync.Mutex
	used    int
	max     int
	resume  int // waiters are woken when used drops to this
	waiting int
	wake    chan struct{} // 1-buffered: room for the waiters
}

func newWindow(n int) *window {
	return &window{max: n, resume: n - max(1, n/4), wake: make(chan struct{}, 1)}
}

// acquire takes a slot, waiting within ctx (or until closing is closed)
// while the window is full; false when it gave up.
func (w *window) acquire(ctx context.Context, closing <-chan struct{}) (ok bool, closed bool) {
	w.mu.Lock()
	if w.used < w.max {
		w.used++
		w.mu.Unlock()
		return true, false
	}
	w.waiting++
	w.mu.Unlock()
	for {
		select {
		case <-w.wake:
			w.mu.Lock()
			if w.used < w.max {
				w.used++
				w.waiting--
				w.signalLocked()
				w.mu.Unlock()
				return true, false
			}
			w.mu.Unlock()
		case <-ctx.Done():
			w.leave()
			return false, false
		case <-closing:
			w.leave()
			return false, true
		}
	}
}

// leave removes a waiter that gave up, passing on a wake-up it may have
// left unclaimed.
func (w *window) leave() {
	w.mu.Lock()
	w.waiting--
	if w.used < w.max {
		w.signalLocked()
	}
	w.mu.Unlock()
}

// release frees a slot.
func (w *window) release() {
	w.mu.Lock()
	w.used--
	if w.used <= w.resume {
		w.signalLocked()
	}
	w.mu.Unlock()
}

// signalLocked wakes one waiter, which wakes the next while room is left.
func (w *window) signalLocked() {
	if w.waiting == 0 {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
