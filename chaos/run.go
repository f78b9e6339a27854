package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// config is the run's command line.
type config struct {
	duration       time.Duration
	seed           uint64
	broken         string
	sessionTimeout time.Duration
	verbose        bool
}

const (
	members = 3
	slots   = 6 // clients, each behind proxies of its own to every member
	// epochLen is how long the workload uses one set of counter nodes
	// before moving to fresh ones: it bounds porcupine's partitions.
	epochLen     = 5 * time.Second
	keysPerEpoch = 3
	// settle bounds each wait for the ensemble and the clients to recover
	// once the faults stop.
	settle = 90 * time.Second
)

// chaos is one run: the ensemble, the proxies, the clients and what they saw.
type chaos struct {
	cfg     config
	rep     *report
	zk      *zktest.Cluster
	admin   *keeper.Client // direct, never faulted: set-up and final reads
	chroot  string
	proxies [slots][members]*zktest.Proxy
	hist    *history
	start   time.Time

	mu       sync.Mutex
	clients  [slots]*keeper.Client // the current client of each slot
	sessions []endedSession        // sessions closed or lost, for the ephemeral check
	// unsettled is the last time the ensemble was seen without a leader or
	// with a new one: a new leader gives every session a fresh timeout, so
	// a session the old leader had not expired yet lives on that long.
	unsettled time.Time

	lock   lockState
	logs   logState
	obs    observers
	recipe recipeState
}

// endedSession is a session that ended at a known time.
type endedSession struct {
	id  int64
	at  time.Time
	why string
}

func run(cfg config) (*report, error) {
	rep := newReport(cfg.seed)
	rep.duration = cfg.duration.String()
	zk, err := zktest.New(zktest.Nodes(members))
	if err != nil {
		return rep, fmt.Errorf("starting the ensemble: %w", err)
	}
	defer zk.Close()
	fmt.Printf("chaos: ZooKeeper %s, %d members, %d clients\n", zk.Version(), members, slots)
	ch := &chaos{cfg: cfg, rep: rep, zk: zk}
	ch.logs.live, ch.logs.maybe, ch.logs.gone = map[string]string{}, map[string]bool{}, map[string]bool{}
	ch.recipe.puts, ch.recipe.maybe = map[string]outcome{}, map[string]bool{}
	baseFDs := openFDs()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+10*time.Minute)
	defer cancel()
	if err := ch.setUp(ctx); err != nil {
		return rep, err
	}
	err = ch.drive(ctx, baseFDs)
	ch.closeAll()
	return rep, err
}

// setUp makes the chroot and the nodes of the workload, and the proxies.
func (ch *chaos) setUp(ctx context.Context) error {
	var err error
	ch.admin, err = keeper.Connect(ctx, ch.zk.Servers())
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	ch.chroot = "/" + zktest.ChrootName("chaos")
	for _, p := range []string{"", "/reg", "/lock", "/eph", "/log", "/data", counterPath, atomicPath} {
		if _, err := ch.admin.Create(ctx, ch.chroot+p, nil); err != nil {
			return fmt.Errorf("creating %s: %w", ch.chroot+p, err)
		}
	}
	if _, err := ch.admin.Create(ctx, ch.chroot+"/lockctr", []byte("0")); err != nil {
		return fmt.Errorf("creating the lock counter: %w", err)
	}
	for s := range slots {
		for m := range members {
			p, err := zktest.NewProxy(ch.zk.Addr(m))
			if err != nil {
				return err
			}
			ch.proxies[s][m] = p
		}
	}
	return nil
}

// member names the ensemble member behind slot s's proxy at addr (as
// Client.Server reports it), for failure reports: "m0".."m2", numbered as
// the fault log numbers them, or "?" when the client is not connected.
func (ch *chaos) member(s int, addr string) string {
	for m := range members {
		if ch.proxies[s][m].Addr() == addr {
			return fmt.Sprintf("m%d", m)
		}
	}
	return "?"
}

// connect opens slot s's client through its proxies.
func (ch *chaos) connect(ctx context.Context, s int) (*keeper.Client, error) {
	addrs := make([]string, members)
	for m := range members {
		addrs[m] = ch.proxies[s][m].Addr()
	}
	cctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	c, err := keeper.Connect(cctx, strings.Join(addrs, ",")+ch.chroot, keeper.WithSessionTimeout(ch.cfg.sessionTimeout))
	if err != nil {
		return nil, fmt.Errorf("client %d: %w", s, err)
	}
	return c, nil
}

// client returns slot s's current client (nil between two).
func (ch *chaos) client(s int) *keeper.Client {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.clients[s]
}

func (ch *chaos) ended(id int64, why string) {
	if id == 0 {
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.sessions = append(ch.sessions, endedSession{id: id, at: time.Now(), why: why})
}

// drive runs the workload under faults, then stops everything and checks.
func (ch *chaos) drive(ctx context.Context, baseFDs int) error {
	ch.start = time.Now()
	ch.hist = newHistory(ch.start, 20*time.Second)

	wctx, stopWork := context.WithCancel(ctx)
	var slotWG sync.WaitGroup
	churn := make([]chan struct{}, slots)
	ready := make(chan error, slots)
	for s := range slots {
		churn[s] = make(chan struct{}, 1)
		slotWG.Go(func() { ch.slot(wctx, s, churn[s], ready) })
	}
	for range slots {
		if err := <-ready; err != nil {
			stopWork()
			slotWG.Wait()
			return err
		}
	}
	if err := ch.obs.waitReady(ctx); err != nil {
		stopWork()
		slotWG.Wait()
		return err
	}
	ch.rep.heapSample("start", heapInUse())

	// The fault scheduler, the background checks and the heap's midpoint.
	fctx, stopFaults := context.WithCancel(ctx)
	var bgWG sync.WaitGroup
	f := newFaults(ch, churn)
	bgWG.Go(func() { f.run(fctx) })
	bgWG.Go(func() { ch.checkLoop(fctx) })
	bgWG.Go(func() { ch.watchLeader(fctx) })
	bgWG.Go(func() {
		select {
		case <-fctx.Done():
		case <-time.After(ch.cfg.duration / 2):
			ch.rep.heapSample("middle", heapInUse())
		}
	})

	select {
	case <-ctx.Done():
	case <-time.After(ch.cfg.duration):
	}
	fmt.Printf("chaos: %v of faults done; stopping the faults\n", time.Since(ch.start).Round(time.Second))
	stopFaults()
	bgWG.Wait()
	f.heal()
	if err := ch.waitHealthy(ctx); err != nil {
		stopWork()
		slotWG.Wait()
		return err
	}
	// Let the workload run a moment on a healthy ensemble, so that every
	// slot is past its faults, then stop it.
	time.Sleep(2 * time.Second)
	stopWork()
	slotWG.Wait()
	fmt.Println("chaos: workload stopped; checking")

	ch.finalChecks(ctx, baseFDs)
	return nil
}

// waitHealthy waits until every member serves and every slot's client is
// connected.
func (ch *chaos) waitHealthy(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	for m := range members {
		if err := ch.zk.WaitServing(wctx, m); err != nil {
			return fmt.Errorf("member %d after the faults: %w", m, err)
		}
	}
	for s := range slots {
		for {
			c := ch.client(s)
			if c != nil && c.WaitConnected(wctx) == nil {
				break
			}
			if wctx.Err() != nil {
				return fmt.Errorf("client %d never reconnected after the faults", s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// slot runs one client and its workers until ctx ends, replacing the client
// by a new one (a new session) each time churn fires.
func (ch *chaos) slot(ctx context.Context, s int, churn <-chan struct{}, ready chan<- error) {
	rng := rand.New(rand.NewPCG(ch.cfg.seed, uint64(s)))
	first := true
	for ctx.Err() == nil {
		c, err := ch.connect(ctx, s)
		if err != nil {
			if first {
				ready <- err
				return
			}
			if ctx.Err() == nil {
				ch.rep.violation(checkEphemeral, "slot %d could not open a new client: %v", s, err)
			}
			return
		}
		ch.mu.Lock()
		ch.clients[s] = c
		ch.mu.Unlock()
		stopListen := c.Listen(func(ev keeper.StateEvent) {
			if ev.State == keeper.Lost {
				ch.ended(ev.SessionID, fmt.Sprintf("lost (%v)", ev.Err))
			}
		})
		wctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		w := &worker{ch: ch, slot: s, c: c, seed: rng.Uint64()}
		wg.Go(func() { w.counter(wctx) })
		wg.Go(func() { w.locker(wctx) })
		wg.Go(func() { w.ephemerals(wctx) })
		if ch.recipesOn() {
			wg.Go(func() { w.recipes(wctx) })
		}
		var obsErr error
		switch s {
		case 4:
			obsErr = ch.obs.startCache(ctx, c, ch.rep)
		case 5:
			obsErr = ch.obs.startDataWatch(c, ch.rep)
		}
		if first {
			ready <- obsErr
			first = false
		} else if obsErr != nil {
			ch.rep.violation(checkCache, "slot %d: restarting its observer: %v", s, obsErr)
		}
		select {
		case <-ctx.Done():
		case <-churn:
		}
		stop()
		wg.Wait()
		if ctx.Err() != nil {
			// The end of the run: the final checks close the client.
			stopListen()
			return
		}
		ch.obs.stop(s)
		id := c.SessionID()
		stopListen()
		c.Close()
		ch.ended(id, "closed")
	}
}

// checkLoop checks ripe history partitions and ended sessions' ephemerals
// while the run goes on.
func (ch *chaos) checkLoop(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var old []string // checked counter nodes
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Checked counter nodes are used no more: delete them a few epochs
		// later, so that the tree (and the TreeCache) stays small.
		old = append(old, ch.hist.check(ch.rep, ch.epoch(), false)...)
		for len(old) > 3*keysPerEpoch {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_ = ch.admin.Delete(dctx, ch.chroot+old[0], keeper.AnyVersion)
			cancel()
			old = old[1:]
		}
		ch.checkEphemerals(ctx, false)
	}
}

// watchLeader notes when the ensemble is without a leader or has a new one.
func (ch *chaos) watchLeader(ctx context.Context) {
	last := ch.zk.Leader()
	for pause(ctx, 250*time.Millisecond) {
		l := ch.zk.Leader()
		if l < 0 || l != last {
			ch.mu.Lock()
			ch.unsettled = time.Now()
			ch.mu.Unlock()
		}
		last = l
	}
}

// epoch is the current epoch of the counter workload.
func (ch *chaos) epoch() int { return int(time.Since(ch.start) / epochLen) }

// checkEphemerals fails for an ephemeral node owned by a session that ended
// more than two session timeouts ago, and as long after the last leader
// change; with all, for an ephemeral node of any session.
func (ch *chaos) checkEphemerals(ctx context.Context, all bool) (left int) {
	// Two session timeouts: a new leader gives every session a fresh
	// timeout once it has taken over, which srvr shows only roughly.
	grace := 2*ch.cfg.sessionTimeout + 2*time.Second
	ch.mu.Lock()
	dead := map[int64]endedSession{}
	unsettled := ch.unsettled
	for _, e := range ch.sessions {
		if all || time.Since(e.at) > grace && time.Since(unsettled) > grace {
			dead[e.id] = e
		}
	}
	ch.mu.Unlock()
	if len(dead) == 0 && !all {
		return 0
	}
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for _, dir := range []string{"/eph", "/lock", counterPath, atomicPath, queuePath + "/taken", queuePath + ".keeper"} {
		kids, err := ch.admin.Children(qctx, ch.chroot+dir)
		if err != nil {
			continue // a member is down: next time
		}
		for _, k := range kids {
			st, err := ch.admin.Exists(qctx, ch.chroot+dir+"/"+k)
			if err != nil || st == nil || st.EphemeralOwner == 0 {
				continue
			}
			if e, ok := dead[st.EphemeralOwner]; ok {
				left++
				ch.rep.violation(checkEphemeral, "%s/%s owned by session 0x%x, %s %v ago (last leader change %v ago)",
					dir, k, e.id, e.why, time.Since(e.at).Round(time.Millisecond), time.Since(unsettled).Round(time.Millisecond))
			} else if all {
				left++
			}
		}
	}
	return left
}

var errStopped = errors.New("stopped")
