package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// failoverTimeout is the session timeout both clients ask for in
// measurement 7.
const failoverTimeout = 4 * time.Second

// failover is measurement 7: on a three-member ensemble, Keeper and
// go-zookeeper connect to the same follower; it is killed with SIGKILL and
// each client's time from the kill to its first successful Get (on another
// member) is measured, both clients at once. The member is restarted
// between repetitions.
func failover(cl *zktest.Cluster, reps int) error {
	for rep := range reps {
		curRep = rep
		leader, err := waitLeader(cl)
		if err != nil {
			return err
		}
		target := (leader + 1 + rep%2) % cl.Len()
		order := []string{cl.Addr(target)}
		for i := range cl.Len() {
			if i != target {
				order = append(order, cl.Addr(i))
			}
		}
		k, g, err := connectBoth(order)
		if err != nil {
			return err
		}
		for _, s := range []subject{k, g} {
			if err := s.get("/"); err != nil {
				return err
			}
		}
		probes := map[string]func() error{
			nameKeeper: func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, _, err := k.c.Get(ctx, "/")
				return err
			},
			nameGoZK: func() error { return g.get("/") },
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		took := map[string]time.Duration{}
		var t0 time.Time
		for name, probe := range probes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for time.Since(t0) < 60*time.Second {
					if probe() == nil {
						d := time.Since(t0)
						mu.Lock()
						took[name] = d
						mu.Unlock()
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		t0 = time.Now()
		killErr := cl.Kill(target)
		close(start)
		wg.Wait()
		k.close()
		g.close()
		if killErr != nil {
			return killErr
		}
		for _, name := range []string{nameGoZK, nameKeeper} {
			d, ok := took[name]
			if !ok {
				return fmt.Errorf("failover: %s made no successful Get within 60s", name)
			}
			fig("7 · Failover: SIGKILL to first successful Get", "ms").add(name, float64(d)/float64(time.Millisecond)).
				goal("≤ go-zk", atMost(0, 1, 0))
		}
		if err := cl.Restart(target); err != nil {
			return err
		}
		fmt.Printf("  failover rep %d: Keeper %.0f ms, go-zookeeper %.0f ms\n", rep+1,
			float64(took[nameKeeper])/float64(time.Millisecond), float64(took[nameGoZK])/float64(time.Millisecond))
	}
	return nil
}

// connectBoth connects Keeper and go-zookeeper to order[0] (the other
// members next), trying again while either lands elsewhere (a member that
// has just rejoined may refuse a session for a moment).
func connectBoth(order []string) (*keeperSubject, *gozkSubject, error) {
	var last string
	for range 10 {
		k, err := connectKeeper(strings.Join(order, ","), keeper.WithOrderedHosts(), keeper.WithSessionTimeout(failoverTimeout))
		if err != nil {
			return nil, nil, err
		}
		g, err := connectGoZK(order, failoverTimeout, true)
		if err != nil {
			k.close()
			return nil, nil, err
		}
		// Both must be connected to the target now and still be after a
		// round trip.
		kerr, gerr := k.get("/"), g.get("/")
		if kerr == nil && gerr == nil && k.c.Server() == order[0] && g.c.Server() == order[0] {
			return k, g, nil
		}
		last = fmt.Sprintf("Keeper on %q (%v, state %v), go-zookeeper on %q (%v)", k.c.Server(), kerr, k.c.State(), g.c.Server(), gerr)
		fmt.Printf("  failover: clients not both on %s, connecting again: %s\n", order[0], last)
		k.close()
		g.close()
		time.Sleep(500 * time.Millisecond)
	}
	return nil, nil, fmt.Errorf("failover: clients not both on %s: %s", order[0], last)
}

// waitLeader waits until the ensemble has a leader.
func waitLeader(cl *zktest.Cluster) (int, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if l := cl.Leader(); l >= 0 {
			return l, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return -1, errors.New("failover: no leader after 60s")
}
