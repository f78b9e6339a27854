package keeper

import (
	"sync"
	"testing"
)

// TestListenerKeepsFinalEvent closes a listener's queue right after the
// last push, as Close does with the Closed event, while the listener is
// between an empty pop and its next wait: the last event must still be
// delivered. Many rounds make the race window likely to be hit.
func TestListenerKeepsFinalEvent(t *testing.T) {
	for i := 0; i < 20000; i++ {
		var got []State
		var mu sync.Mutex
		first := make(chan struct{})
		l := newListener(func(ev StateEvent) {
			mu.Lock()
			got = append(got, ev.State)
			mu.Unlock()
			if ev.State == Connected {
				close(first)
			}
		})
		var wg sync.WaitGroup
		wg.Add(1)
		go l.run(&wg)
		l.push(StateEvent{State: Connected}, 0)
		<-first // the listener is about to find its queue empty
		l.push(StateEvent{State: Closed}, 0)
		l.close()
		wg.Wait()
		if len(got) != 2 || got[1] != Closed {
			t.Fatalf("round %d: listener got %v, want [Connected Closed]", i, got)
		}
	}
}
