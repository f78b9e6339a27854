package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/election"
	"github.com/keeper-go/keeper/zktest"
)

// leaderFailover is part of measurement 9 (Keeper only): the time from a
// LeaderSelector leader going to the next selector's leader function
// starting, over n terms each way: (a) the leader cut off for good (its
// connection paused through a proxy and never restored, so the server
// expires its session), from the pause; (b) the leader's function
// returning (a clean hand-over), from the return.
func (e *env) leaderFailover(ctx context.Context, n int) (cutoff, clean []time.Duration, err error) {
	for i := range 2 * n {
		d, err := e.selectorTerm(ctx, i%2 == 0)
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 0 {
			cutoff = append(cutoff, d)
		} else {
			clean = append(clean, d)
		}
	}
	slices.Sort(cutoff)
	slices.Sort(clean)
	return cutoff, clean, nil
}

// selectorTerm runs one hand-over between two selectors on a fresh path.
func (e *env) selectorTerm(ctx context.Context, cut bool) (time.Duration, error) {
	p, err := zktest.NewProxy(e.addr)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	via := keeper.WithDialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.Addr())
	})
	lc, err := keeper.Connect(ctx, e.servers, keeper.WithSessionTimeout(recoveryTimeout), via)
	if err != nil {
		return 0, err
	}
	defer lc.Close()
	sc, err := keeper.Connect(ctx, e.servers, keeper.WithSessionTimeout(recoveryTimeout))
	if err != nil {
		return 0, err
	}
	defer sc.Close()
	path := e.unique("selector")
	leading := make(chan struct{})
	release := make(chan struct{})
	first := election.NewLeaderSelector(lc, path, "first", func(ctx context.Context) {
		close(leading)
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	defer first.Close()
	if err := first.Start(); err != nil {
		return 0, err
	}
	select {
	case <-leading:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	next := make(chan time.Time, 1)
	second := election.NewLeaderSelector(sc, path, "second", func(context.Context) { next <- time.Now() })
	defer second.Close()
	if err := second.Start(); err != nil {
		return 0, err
	}
	// Wait until the second has queued behind the first.
	for {
		ps, err := second.Participants(ctx)
		if err != nil {
			return 0, err
		}
		if len(ps) == 2 {
			break
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	t0 := time.Now()
	if cut {
		p.Pause() // never resumed: the server expires the session
	} else {
		close(release)
	}
	select {
	case t1 := <-next:
		if cut {
			lc.Close() // cut off for good: do not wait for its reconnect
		}
		return t1.Sub(t0), nil
	case <-time.After(10 * recoveryTimeout):
		return 0, fmt.Errorf("no new leader %v after the first went", 10*recoveryTimeout)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
