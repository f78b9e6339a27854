package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/lock"
)

// worker runs the workload of one client.
type worker struct {
	ch   *chaos
	slot int
	c    *keeper.Client
	seed uint64
}

// opTimeout bounds one operation: long enough to ride out a long pause and
// a member's restart.
const opTimeout = 30 * time.Second

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// counter does versioned read-modify-write increments and synced reads of
// the epoch's counter nodes, recording them for the linearizability check,
// and checks that its own reads never go back in time.
func (w *worker) counter(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.seed, 1))
	h := w.ch.hist
	rep := w.ch.rep
	seen := &seenZxids{m: map[string]int64{}} // the newest mzxid of each node this session saw
	created := map[string]bool{}              // nodes known to exist
	for ctx.Err() == nil {
		if !pause(ctx, time.Duration(rng.IntN(20))*time.Millisecond) {
			return
		}
		epoch := w.ch.epoch()
		key := fmt.Sprintf("/reg/e%d-k%d", epoch, rng.IntN(keysPerEpoch))
		if !created[key] {
			if h.isClosed(key) || !w.ensure(ctx, key) {
				continue
			}
			created[key] = true
			if len(created) > 4*keysPerEpoch {
				clear(created) // old epochs' nodes are not used again
			}
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		if rng.IntN(4) == 0 {
			call, ok := h.begin(key, epoch)
			if !ok {
				cancel()
				continue
			}
			sid := w.c.SessionID()
			err := w.c.Sync(octx, key)
			var data []byte
			var st *keeper.Stat
			synced := w.c.LastZxid() // no older than what the Sync waited for
			syncedAt := w.ch.member(w.slot, w.c.Server())
			if err == nil {
				data, st, err = w.c.Get(octx, key)
			}
			var out regOutput
			if err == nil {
				n, _ := strconv.Atoi(string(data))
				out.state = regState{val: n, ver: int(st.Version)}
				out.note = fmt.Sprintf(" (sync@%s z=0x%x, get@%s z=0x%x mz=0x%x)", syncedAt, synced, w.ch.member(w.slot, w.c.Server()), w.c.LastZxid(), st.Mzxid)
				w.monotonic(seen, sid, key, st.Mzxid, "synced read")
			}
			linear := syncedReadLinear(err, sid, w.c.SessionID())
			h.end(key, w.slot, call, regInput{read: true}, out, linear)
			rep.count("counter: synced read", classify(err))
			if err == nil && !linear {
				rep.count("counter: synced read across sessions (not checked)", applied)
				if w.c.LastZxid() < synced {
					// The new session's member had not reached the Sync.
					rep.count("counter: ... of which served behind the Sync", applied)
				}
			}
		} else {
			sid := w.c.SessionID()
			data, st, err := w.c.Get(octx, key)
			rep.count("counter: plain read", classify(err))
			if err != nil {
				cancel()
				continue
			}
			w.monotonic(seen, sid, key, st.Mzxid, "read")
			n, _ := strconv.Atoi(string(data))
			in := regInput{expVer: int(st.Version), newVal: n + 1}
			call, ok := h.begin(key, epoch)
			if !ok {
				cancel()
				continue
			}
			st2, err := w.c.Set(octx, key, []byte(strconv.Itoa(n+1)), st.Version)
			o := classify(err)
			out := regOutput{outcome: o}
			if o == applied {
				out.note = fmt.Sprintf(" (@%s mz=0x%x)", w.ch.member(w.slot, w.c.Server()), st2.Mzxid)
			}
			if o == notApplied && !errors.Is(err, keeper.ErrBadVersion) {
				// Refused for another reason (throttled, session moved):
				// it reveals nothing about the node.
				h.end(key, w.slot, call, in, out, false)
			} else {
				h.end(key, w.slot, call, in, out, true)
			}
			if o == applied {
				w.monotonic(seen, sid, key, st2.Mzxid, "write")
			}
			rep.count("counter: versioned set", o)
		}
		cancel()
		if len(seen.m) > 4*keysPerEpoch {
			clear(seen.m)
		}
	}
}

// syncedReadLinear reports whether a Get that ended with err after a Sync
// is a linearizable read: only when both ran in one session, the one
// current before the Sync (sid) and still after the Get (after). A new
// session starts from zxid 0 (as a new Java client does), so its first
// connection may be to a member that has not applied what the Sync waited
// for: a Get that the read policy retried into the next session, or that
// was queued while the session was being replaced, may return an older
// state than the Sync promised. Session ids are never reused, so equal ids
// on both sides mean the session was current throughout.
func syncedReadLinear(err error, sid, after int64) bool {
	return err == nil && sid != 0 && sid == after
}

// seenZxids is what one session of a client saw: the newest mzxid of each
// node, and the session it belongs to.
type seenZxids struct {
	sid int64
	m   map[string]int64
}

// monotonic fails when this client sees an older state of key than it saw
// before in the same session, by the zxid of its last change (ZooKeeper
// promises a session a view that never goes back, across reconnects: the
// client sends the last zxid it saw; a node deleted and created again has a
// newer zxid). A new session starts from zxid 0, as a new Java client does,
// and may first reach a member that is behind: what an older session saw
// promises nothing then. sid is the session current when the operation
// began; an operation that ended in another session is not compared.
func (w *worker) monotonic(seen *seenZxids, sid int64, key string, mzxid int64, what string) {
	if sid == 0 || w.c.SessionID() != sid {
		return
	}
	if seen.sid != sid {
		clear(seen.m)
		seen.sid = sid
	}
	if last, ok := seen.m[key]; ok && mzxid < last {
		w.ch.rep.violation(checkMonotonic, "client %d: %s of %s got mzxid 0x%x after it saw 0x%x", w.slot, what, key, mzxid, last)
	}
	seen.m[key] = max(seen.m[key], mzxid)
}

// ensure creates key with value 0 unless it exists; false when ctx ended.
func (w *worker) ensure(ctx context.Context, key string) bool {
	for ctx.Err() == nil {
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		_, err := w.c.Create(octx, key, []byte("0"))
		cancel()
		if err == nil || errors.Is(err, keeper.ErrNodeExists) {
			return true
		}
		pause(ctx, 50*time.Millisecond)
	}
	return false
}

// lockState is the lock-protected counter as the critical sections saw it.
type lockState struct {
	holders   atomic.Int32 // critical sections running now
	holder    atomic.Int32 // 1 + the slot of the last holder to enter, 0 when none is inside
	sections  atomic.Int64 // critical sections entered
	maxHeld   atomic.Int32
	mu        sync.Mutex
	applied   int  // increments known to have taken effect
	acked     int  // increments acknowledged (completed critical sections)
	pending   bool // the last increment's outcome is unknown
	pendingOf int  // the value it read
	unknowns  int
}

// resolve settles the outcome of the last unknown increment from the value
// the next critical section read (the sections run one at a time, so only
// that increment can have changed it), and checks the value.
func (ls *lockState) resolve(rep *report, slot, n int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.pending {
		ls.pending = false
		if n == ls.pendingOf+1 {
			ls.applied++
		}
	}
	if n != ls.applied {
		rep.violation(checkLockCount, "client %d read %d under the lock, but %d increments took effect", slot, n, ls.applied)
		ls.applied = n // report each divergence once
	}
}

func (ls *lockState) wrote(o outcome, n int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	switch o {
	case applied:
		ls.applied++
		ls.acked++
	case unknown:
		ls.pending, ls.pendingOf = true, n
		ls.unknowns++
	}
}

// locker takes the lock and, inside, increments the lock counter with a
// versioned Set, stopping as soon as the lock says Suspended or Lost (as the
// lock's documentation tells applications that must never overlap).
func (w *worker) locker(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.seed, 2))
	rep := w.ch.rep
	l := lock.New(w.c, "/lock", "client-"+strconv.Itoa(w.slot))
	for ctx.Err() == nil {
		if !pause(ctx, time.Duration(rng.IntN(50))*time.Millisecond) {
			return
		}
		actx, cancel := context.WithTimeout(ctx, opTimeout)
		err := l.Acquire(actx)
		cancel()
		rep.count("lock: acquire", classify(err))
		if err != nil {
			continue
		}
		w.critical(ctx, l, rng)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		err = l.Release(rctx)
		cancel()
		if errors.Is(err, lock.ErrLost) {
			err = nil // released by the session's end
		}
		rep.count("lock: release", classify(err))
	}
}

// critical is one critical section.
func (w *worker) critical(ctx context.Context, l *lock.Lock, rng *rand.Rand) {
	ls := &w.ch.lock
	rep := w.ch.rep
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if w.ch.cfg.broken != "lost" {
		go func() {
			select {
			case <-l.Suspended():
			case <-l.Lost():
			case <-cctx.Done():
			}
			cancel()
		}()
	}
	if n := ls.holders.Add(1); n > 1 {
		rep.violation(checkHolders, "client %d entered its critical section while %d other holder(s) were inside", w.slot, n-1)
	}
	ls.holder.Store(int32(w.slot + 1))
	defer func() {
		ls.holder.CompareAndSwap(int32(w.slot+1), 0)
		ls.holders.Add(-1)
	}()
	ls.sections.Add(1)
	// Work a little while under the lock, as real work would, then write
	// the result: a fault during the work finds the holder about to write.
	pause(cctx, time.Duration(rng.IntN(100))*time.Millisecond)
	for cctx.Err() == nil {
		octx, cancelOp := context.WithTimeout(cctx, opTimeout)
		data, st, err := w.c.Get(octx, "/lockctr")
		if err != nil {
			cancelOp()
			if w.ch.cfg.broken == "lost" && ctx.Err() == nil {
				pause(ctx, 20*time.Millisecond)
				continue // a broken holder keeps going
			}
			return
		}
		n, _ := strconv.Atoi(string(data))
		ls.resolve(rep, w.slot, n)
		_, err = w.c.Set(octx, "/lockctr", []byte(strconv.Itoa(n+1)), st.Version)
		cancelOp()
		o := classify(err)
		if errors.Is(err, keeper.ErrBadVersion) {
			rep.violation(checkLockCount, "client %d: the lock counter changed under the lock (read version %d)", w.slot, st.Version)
		}
		ls.wrote(o, n)
		rep.count("lock: protected set", o)
		if o == applied || w.ch.cfg.broken != "lost" || ctx.Err() != nil {
			break
		}
	}
}

// logState tracks the persistent sequential nodes under /log, each holding a
// unique token, for the exactly-once check.
type logState struct {
	mu      sync.Mutex
	live    map[string]string // token → path, acknowledged and not deleted
	maybe   map[string]bool   // tokens whose create's outcome is unknown
	gone    map[string]bool   // tokens whose delete's outcome is unknown
	done    []uint64          // bit n: token n was acknowledged and then deleted
	created atomic.Int64
	deleted atomic.Int64
}

// tokens numbers the nodes the workload creates, unique in the run.
var tokens atomic.Int64

// tokenNumber returns the number n of token "t<slot>-<n>".
func tokenNumber(token string) (int, bool) {
	_, num, ok := strings.Cut(token, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil && n >= 0
}

// markDone notes that token was acknowledged and deleted; the caller holds
// ls.mu.
func (ls *logState) markDone(token string) {
	if n, ok := tokenNumber(token); ok {
		for len(ls.done) <= n/64 {
			ls.done = append(ls.done, 0)
		}
		ls.done[n/64] |= 1 << (n % 64)
	}
}

// wasDone reports whether token was acknowledged and deleted; the caller
// holds ls.mu.
func (ls *logState) wasDone(token string) bool {
	n, ok := tokenNumber(token)
	return ok && n/64 < len(ls.done) && ls.done[n/64]&(1<<(n%64)) != 0
}

// ephemerals creates and deletes ephemeral (plain and sequential) nodes and
// persistent sequential nodes carrying unique tokens.
func (w *worker) ephemerals(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.seed, 3))
	rep := w.ch.rep
	ls := &w.ch.logs
	var mine []string // my ephemeral nodes
	var logs []string // my acknowledged /log tokens, oldest first
	for ctx.Err() == nil {
		if !pause(ctx, time.Duration(5+rng.IntN(30))*time.Millisecond) {
			return
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		r := rng.IntN(10)
		switch {
		case r < 3 && len(mine) >= 20:
			r = 3 // delete instead: the number of nodes stays bounded
		case r >= 5 && r < 8 && len(logs) >= 20:
			r = 8
		}
		switch {
		case r < 3:
			p := fmt.Sprintf("/eph/c%d-%d", w.slot, tokens.Add(1))
			opts := []keeper.CreateOption{keeper.Ephemeral()}
			if r == 2 {
				p = fmt.Sprintf("/eph/s%d-", w.slot)
				opts = append(opts, keeper.Sequential())
			}
			got, err := w.c.Create(octx, p, nil, opts...)
			rep.count("ephemeral: create", classify(err))
			if err == nil {
				mine = append(mine, got)
			}
		case r < 5:
			if len(mine) == 0 {
				break
			}
			i := rng.IntN(len(mine))
			err := w.c.Delete(octx, mine[i], keeper.AnyVersion)
			if errors.Is(err, keeper.ErrNoNode) {
				err = nil // gone with an earlier session
			}
			rep.count("ephemeral: delete", classify(err))
			if classify(err) != unknown {
				mine = append(mine[:i], mine[i+1:]...)
			}
		case r < 8:
			token := fmt.Sprintf("t%d-%d", w.slot, tokens.Add(1))
			got, err := w.c.Create(octx, "/log/e-", []byte(token), keeper.Sequential())
			for w.ch.cfg.broken == "replay" && classify(err) == unknown && ctx.Err() == nil {
				// A client that replays writes: send it again.
				got, err = w.c.Create(octx, "/log/e-", []byte(token), keeper.Sequential())
			}
			o := classify(err)
			rep.count("log: sequential create", o)
			ls.mu.Lock()
			switch o {
			case applied:
				ls.live[token] = got
				logs = append(logs, token)
				ls.created.Add(1)
			case unknown:
				ls.maybe[token] = true
			}
			ls.mu.Unlock()
		default:
			if len(logs) == 0 {
				break
			}
			token := logs[0]
			ls.mu.Lock()
			p := ls.live[token]
			ls.mu.Unlock()
			err := w.c.Delete(octx, p, keeper.AnyVersion)
			o := classify(err)
			if errors.Is(err, keeper.ErrNoNode) {
				rep.violation(checkOnce, "acknowledged %s (%s) vanished before its delete", p, token)
				o = applied
			}
			rep.count("log: delete", o)
			ls.mu.Lock()
			switch o {
			case applied:
				delete(ls.live, token)
				ls.markDone(token)
				ls.deleted.Add(1)
				logs = logs[1:]
			case unknown:
				delete(ls.live, token)
				ls.gone[token] = true
				logs = logs[1:]
			}
			ls.mu.Unlock()
		}
		cancel()
	}
}
