package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/keeper-go/keeper/recipe/lock"
)

// lockContenders is how many sessions contend for the lock in
// measurement 6's first row; the curve's other points are in main.go.
const lockContenders = 4

// tenure is one holding of the lock: when Acquire returned and when
// Release was called.
type tenure struct{ acquired, released time.Time }

// lockHandoff is measurement 6: contenders sessions, each acquiring the
// lock and releasing it at once in a loop; a handoff is the time from one
// holder's release call to the next holder's Acquire returning.
func (e *env) lockHandoff(name string, contenders int) error {
	path := e.unique("lock")
	n := e.sizes.handoffs + 1
	var mu sync.Mutex
	var log []tenure
	// hold records a tenure and says whether the run needs more.
	hold := func(acq time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(log) >= n {
			return false
		}
		log = append(log, tenure{acquired: acq, released: time.Now()})
		return true
	}
	var acquire, release []func() error
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for i := range contenders {
		switch name {
		case nameKeeper:
			s, err := connectKeeper(e.servers)
			if err != nil {
				return err
			}
			closers = append(closers, s.close)
			l := lock.New(s.c, path, "contender-"+strconv.Itoa(i))
			ctx := context.Background()
			acquire = append(acquire, func() error { return l.Acquire(ctx) })
			release = append(release, func() error { return l.Release(ctx) })
		case nameGoZK:
			s, err := connectGoZK([]string{e.addr}, sessionTimeout, false)
			if err != nil {
				return err
			}
			closers = append(closers, s.close)
			l := zk.NewLock(s.c, path, gozkACL)
			acquire = append(acquire, l.Lock)
			release = append(release, l.Unlock)
		default:
			return fmt.Errorf("no lock for %s", name)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, contenders)
	for i := range contenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := acquire[i](); err != nil {
					errs <- fmt.Errorf("acquire: %w", err)
					return
				}
				more := hold(time.Now())
				// The release time is taken in hold, just before this call.
				if err := release[i](); err != nil {
					errs <- fmt.Errorf("release: %w", err)
					return
				}
				if !more {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	var hand []time.Duration
	for i := 1; i < len(log); i++ {
		d := log[i].acquired.Sub(log[i-1].released)
		if d < 0 {
			return fmt.Errorf("%s lock: holder %d acquired before holder %d released", name, i, i-1)
		}
		hand = append(hand, d)
	}
	slices.Sort(hand)
	// The first setting keeps the rows' original labels.
	label := "6 · Lock handoff"
	if contenders != lockContenders {
		label = fmt.Sprintf("6 · Lock handoff, %d contenders", contenders)
	}
	fig(label+" p50", "µs").add(name, micros(percentile(hand, 50))).goal("≤ go-zk", atMost(0, 1, 0))
	fig(label+" p99", "µs").add(name, micros(percentile(hand, 99))).goal("≤ go-zk", atMost(0, 1, 0))
	return e.rawDeleteTree(path)
}
