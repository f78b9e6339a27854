package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

// The kinds of fault, as the report names them.
const (
	faultPauseShort   = "pause shorter than the session timeout"
	faultPauseLong    = "pause longer than the session timeout"
	faultDrop         = "dropped connections"
	faultDropReply    = "dropped reply (and connection)"
	faultKillFollower = "SIGKILL of a follower, restart"
	faultKillLeader   = "SIGKILL of the leader, restart"
	faultExpire       = "forced session expiry"
	faultChurn        = "client closed, new client"
)

// faults is the seeded fault scheduler. Every decision is drawn from one
// generator seeded with the run's seed, in the same order whatever the
// timing, so a seed replays the same sequence of faults. Client faults run
// on their own goroutines, one at a time per client; member faults one at a
// time, so that never more than one member is down.
type faults struct {
	ch    *chaos
	rng   *rand.Rand
	churn []chan struct{}

	wg       sync.WaitGroup
	mu       sync.Mutex
	busy     [slots]bool
	memberOp bool
}

func newFaults(ch *chaos, churn []chan struct{}) *faults {
	return &faults{ch: ch, rng: rand.New(rand.NewPCG(ch.cfg.seed, 0xfa017)), churn: churn}
}

// run injects faults until ctx ends, then waits for the running ones.
func (f *faults) run(ctx context.Context) {
	defer f.wg.Wait()
	timeout := f.ch.cfg.sessionTimeout
	for step := 0; ; step++ {
		// Draw everything this step needs first, so that skipping a busy
		// target does not change later draws.
		wait := time.Duration(300+f.rng.IntN(1200)) * time.Millisecond
		kind := f.rng.IntN(100)
		s := f.rng.IntN(slots)
		frac := f.rng.Float64()
		down := time.Duration(1000+f.rng.IntN(4000)) * time.Millisecond
		pick := f.rng.IntN(members - 1)
		// Half the pauses and expiries hit the lock's holder, if any (a
		// Jepsen-style nemesis): the case mutual exclusion must survive.
		// The holder is looked up when the fault strikes, not when it is
		// drawn: a critical section is shorter than the wait.
		toHolder := f.rng.IntN(2) == 0 && (kind >= 22 && kind < 32 || kind >= 76 && kind < 88)
		if !pause(ctx, wait) {
			return
		}
		if h := f.ch.lock.holder.Load(); toHolder && h > 0 {
			s = int(h) - 1
		}
		switch {
		case kind < 22:
			d := time.Duration(float64(timeout) * (0.1 + 0.4*frac)) // 10-50% of the timeout
			f.client(ctx, s, faultPauseShort, func() { f.pauseClient(ctx, s, d) })
		case kind < 32:
			d := time.Duration(float64(timeout) * (1.5 + frac)) // 150-250%
			f.client(ctx, s, faultPauseLong, func() { f.pauseClient(ctx, s, d) })
		case kind < 50:
			f.client(ctx, s, faultDrop, func() {
				for _, p := range f.ch.proxies[s] {
					p.Drop()
				}
			})
		case kind < 66:
			f.client(ctx, s, faultDropReply, func() { f.dropReply(s) })
		case kind < 72:
			f.member(ctx, faultKillFollower, down, pick)
		case kind < 76:
			f.member(ctx, faultKillLeader, down, pick)
		case kind < 88:
			f.client(ctx, s, faultExpire, func() { f.expire(ctx, s) })
		default:
			f.client(ctx, s, faultChurn, func() {
				select {
				case f.churn[s] <- struct{}{}:
				default:
				}
			})
		}
	}
}

func (f *faults) logf(format string, args ...any) {
	if f.ch.cfg.verbose {
		fmt.Printf("%8.3fs  %s\n", time.Since(f.ch.start).Seconds(), fmt.Sprintf(format, args...))
	}
}

// client runs fn against slot s unless a fault is already running there.
func (f *faults) client(ctx context.Context, s int, kind string, fn func()) {
	f.mu.Lock()
	if f.busy[s] {
		f.mu.Unlock()
		return
	}
	f.busy[s] = true
	f.mu.Unlock()
	f.ch.rep.fault(kind)
	f.logf("client %d: %s", s, kind)
	f.wg.Go(func() {
		defer func() {
			f.mu.Lock()
			f.busy[s] = false
			f.mu.Unlock()
		}()
		fn()
	})
}

// pauseClient stalls all of slot s's connections for d.
func (f *faults) pauseClient(ctx context.Context, s int, d time.Duration) {
	for _, p := range f.ch.proxies[s] {
		p.Pause()
	}
	pause(ctx, d)
	for _, p := range f.ch.proxies[s] {
		p.Resume()
	}
}

// dropReply loses the next reply on the connection of slot s, and with it
// the connection.
func (f *faults) dropReply(s int) {
	c := f.ch.client(s)
	if c == nil {
		return
	}
	srv := c.Server()
	for _, p := range f.ch.proxies[s] {
		if p.Addr() == srv {
			p.DropNextReply()
		}
	}
}

// expire ends slot s's session on the server while the client is cut off.
// The client is paused until it has noticed the silence (Suspended) first:
// a server expires a session only after it heard nothing for a timeout, and
// a lock holder is told to stop at Suspended; expiring a session whose
// client still believes itself connected would test nothing a real server
// does.
func (f *faults) expire(ctx context.Context, s int) {
	c := f.ch.client(s)
	if c == nil {
		return
	}
	for _, p := range f.ch.proxies[s] {
		p.Pause()
	}
	defer func() {
		for _, p := range f.ch.proxies[s] {
			p.Resume()
		}
	}()
	deadline := time.Now().Add(2 * f.ch.cfg.sessionTimeout)
	for c.State() == keeper.Connected && time.Now().Before(deadline) {
		if !pause(ctx, 20*time.Millisecond) {
			return
		}
	}
	id, pw := c.Session()
	if id == 0 {
		return
	}
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	side, err := keeper.Connect(ectx, f.ch.zk.Servers(), keeper.WithSession(id, pw), keeper.WithNoAutoResession())
	if err != nil {
		f.logf("client %d: expiring session 0x%x: %v", s, id, err)
		return
	}
	side.Close() // closes the session: the server deletes its ephemerals
}

// member kills a member (a follower or the leader) with SIGKILL, waits down
// and restarts it, unless a member fault is running.
func (f *faults) member(ctx context.Context, kind string, down time.Duration, pick int) {
	f.mu.Lock()
	if f.memberOp {
		f.mu.Unlock()
		return
	}
	f.memberOp = true
	f.mu.Unlock()
	zk := f.ch.zk
	leader := zk.Leader()
	if leader < 0 {
		f.mu.Lock()
		f.memberOp = false
		f.mu.Unlock()
		return // an election is running
	}
	victim := leader
	if kind == faultKillFollower {
		victim = (leader + 1 + pick) % members
	}
	f.ch.rep.fault(kind)
	f.logf("member %d: %s", victim, kind)
	f.wg.Go(func() {
		defer func() {
			f.mu.Lock()
			f.memberOp = false
			f.mu.Unlock()
		}()
		if err := zk.Kill(victim); err != nil {
			f.ch.rep.violation(checkEphemeral, "killing member %d: %v", victim, err)
			return
		}
		pause(ctx, down)
		if err := zk.Restart(victim); err != nil {
			fmt.Printf("chaos: restarting member %d: %v\n", victim, err)
			return
		}
		f.logf("member %d: restarted", victim)
		// Wait until it has rejoined (a follower or the leader) before the
		// next member fault, so that a quorum is always up.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settle)
		defer cancel()
		if err := zk.WaitMode(wctx, victim, "leader", "follower"); err == nil {
			f.logf("member %d: rejoined", victim)
		}
	})
}

// heal ends every fault: resumes the proxies and restarts a stopped member.
func (f *faults) heal() {
	for s := range slots {
		for _, p := range f.ch.proxies[s] {
			p.Resume()
		}
	}
	for m := range members {
		if f.ch.zk.PID(m) == 0 {
			if err := f.ch.zk.Restart(m); err != nil {
				fmt.Printf("chaos: restarting member %d: %v\n", m, err)
			}
		}
	}
}
