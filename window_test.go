package keeper

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waiters returns w's count of waiting acquirers.
func (w *window) waiters() (waiting, used int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting, w.used
}

// TestWindowBound: many goroutines through a window of 5 never hold more
// than 5 slots at once, and all get through.
func TestWindowBound(t *testing.T) {
	w := newWindow(5)
	var held, peak atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			for range 200 {
				if ok, _ := w.acquire(context.Background(), nil); !ok {
					t.Error("acquire failed")
					return
				}
				n := held.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				held.Add(-1)
				w.release()
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 5 || p < 1 {
		t.Fatalf("peak %d slots held, window 5", p)
	}
	if waiting, used := w.waiters(); waiting != 0 || used != 0 {
		t.Fatalf("after: %d waiting, %d used", waiting, used)
	}
}

// TestWindowResume: a waiter on a full window of 8 is woken only once
// the window has drained to 6 (a quarter free), not at the first reply.
func TestWindowResume(t *testing.T) {
	w := newWindow(8)
	for range 8 {
		if ok, _ := w.acquire(context.Background(), nil); !ok {
			t.Fatal("acquire on a free window failed")
		}
	}
	got := make(chan bool, 2)
	for range 2 {
		go func() {
			ok, _ := w.acquire(context.Background(), nil)
			got <- ok
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for waiting, _ := w.waiters(); waiting != 2; waiting, _ = w.waiters() {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters registered, want 2", waiting)
		}
		time.Sleep(time.Millisecond)
	}
	w.release() // 7 used: above resume, nobody woken
	if len(w.wake) != 0 {
		t.Fatal("a waiter was signalled with 7 of 8 slots used")
	}
	select {
	case <-got:
		t.Fatal("a waiter got a slot with 7 of 8 used")
	default:
	}
	w.release() // 6 used: both waiters get in, one waking the other
	for range 2 {
		select {
		case ok := <-got:
			if !ok {
				t.Fatal("waiter failed")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("waiter not woken after the window drained to resume")
		}
	}
	if waiting, used := w.waiters(); waiting != 0 || used != 8 {
		t.Fatalf("after: %d waiting, %d used; want 0, 8", waiting, used)
	}
}

// TestWindowGiveUp: a waiter whose ctx ends, or whose client closes,
// gives up without a slot and without losing another waiter's wake-up.
func TestWindowGiveUp(t *testing.T) {
	w := newWindow(1)
	if ok, _ := w.acquire(context.Background(), nil); !ok {
		t.Fatal("acquire failed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if ok, closed := w.acquire(ctx, nil); ok || closed {
		t.Fatalf("acquire on a full window with a short ctx = %v, %v", ok, closed)
	}
	closing := make(chan struct{})
	close(closing)
	if ok, closed := w.acquire(context.Background(), closing); ok || !closed {
		t.Fatalf("acquire on a full window of a closing client = %v, %v", ok, closed)
	}
	if waiting, used := w.waiters(); waiting != 0 || used != 1 {
		t.Fatalf("after giving up: %d waiting, %d used; want 0, 1", waiting, used)
	}
	w.release()
	if ok, _ := w.acquire(context.Background(), nil); !ok {
		t.Fatal("acquire after release failed")
	}
}
