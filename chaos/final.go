package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/keeper-go/keeper"
)

// finalChecks runs the checks that need the workload stopped, then closes
// every client and proxy and looks for what was left behind.
func (ch *chaos) finalChecks(ctx context.Context, baseFDs int) {
	rep := ch.rep

	ch.hist.check(rep, 0, true)
	ch.hist.mu.Lock()
	undecided := ch.hist.unknown
	ch.hist.mu.Unlock()
	if undecided > 0 {
		rep.violation(checkLinear, "%d partition(s) porcupine could not decide", undecided)
	}
	rep.detail(checkLinear, "%s", ch.hist.summary())
	rep.detail(checkMonotonic, "every read and acknowledged write of the counter nodes, per client")

	ch.checkObservers(ctx)
	ch.checkLock(ctx)
	ch.checkLog(ctx)
	ch.checkRecipes(ctx)
	rep.heapSample("end", heapInUse())

	// Close the observers, then look for server-side watches of the
	// clients' sessions.
	ch.obs.stop(4)
	ch.obs.stop(5)
	ch.checkWatches(ctx)

	// Close every client: no ephemeral node may remain.
	for s := range slots {
		c := ch.client(s)
		id := c.SessionID()
		c.Close()
		ch.ended(id, "closed")
	}
	deadline := time.Now().Add(ch.cfg.sessionTimeout + 5*time.Second)
	left := 0
	for {
		left = ch.countEphemerals(ctx)
		if left == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left > 0 {
		ch.checkEphemerals(ctx, true)
	}
	ch.mu.Lock()
	nSessions := len(ch.sessions)
	ch.mu.Unlock()
	rep.detail(checkEphemeral, "%d sessions closed or lost, checked during the run and at the end", nSessions)

	ch.closeAll()
	ch.checkGoroutines()
	ch.checkFDs(baseFDs)
	ch.checkHeap()
}

// checkLock compares the lock counter with the critical sections.
func (ch *chaos) checkLock(ctx context.Context) {
	ls := &ch.lock
	qctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	var data []byte
	err := ch.admin.Sync(qctx, ch.chroot+"/lockctr")
	if err == nil {
		data, _, err = ch.admin.Get(qctx, ch.chroot+"/lockctr")
	}
	if err != nil {
		ch.rep.violation(checkLockCount, "reading the lock counter: %v", err)
		return
	}
	n, _ := strconv.Atoi(string(data))
	ls.resolve(ch.rep, -1, n)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ch.rep.detail(checkLockCount, "counter %d = %d acknowledged + %d of %d unknown that took effect",
		n, ls.acked, ls.applied-ls.acked, ls.unknowns)
	ch.rep.detail(checkHolders, "%d critical sections", ls.sections.Load())
}

// checkLog checks the sequential nodes under /log: each token at most
// once, every acknowledged and not deleted one present, nothing else.
func (ch *chaos) checkLog(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	kids, err := ch.admin.Children(qctx, ch.chroot+"/log")
	if err != nil {
		ch.rep.violation(checkOnce, "listing /log: %v", err)
		return
	}
	ls := &ch.logs
	ls.mu.Lock()
	defer ls.mu.Unlock()
	at := map[string]string{}
	for _, k := range kids {
		p := "/log/" + k
		data, _, err := ch.admin.Get(qctx, ch.chroot+p)
		if errors.Is(err, keeper.ErrNoNode) {
			continue
		}
		if err != nil {
			ch.rep.violation(checkOnce, "reading %s: %v", p, err)
			return
		}
		token := string(data)
		if first, dup := at[token]; dup {
			ch.rep.violation(checkOnce, "%s is in both %s and %s: a write applied twice", token, first, p)
			continue
		}
		at[token] = p
		if want, ok := ls.live[token]; ok && want != p {
			ch.rep.violation(checkOnce, "%s was acknowledged as %s but is in %s", token, want, p)
		}
		if _, ok := ls.live[token]; !ok && !ls.maybe[token] && !ls.gone[token] {
			if ls.wasDone(token) {
				ch.rep.violation(checkOnce, "%s holds %s, which was created (acknowledged) and deleted elsewhere: a write applied twice", p, token)
			} else {
				ch.rep.violation(checkOnce, "%s holds %s, which no create acknowledged or left unknown", p, token)
			}
		}
	}
	for token, p := range ls.live {
		if _, ok := at[token]; !ok {
			ch.rep.violation(checkOnce, "acknowledged %s (%s) is missing", p, token)
		}
	}
	maybeIn := 0
	for token := range ls.maybe {
		if _, ok := at[token]; ok {
			maybeIn++
		}
	}
	ch.rep.detail(checkOnce, "%d sequential creates acknowledged, %d deleted, %d live compared; %d of %d unknown creates took effect",
		ls.created.Load(), ls.deleted.Load(), len(ls.live), maybeIn, len(ls.maybe))
}

// checkWatches waits until no member holds a data watch of a slot's session
// under the chroot and no client holds a watch of any kind on the workload's
// nodes, now that the observers are closed and the locks released.
func (ch *chaos) checkWatches(ctx context.Context) {
	deadline := time.Now().Add(30 * time.Second)
	var left string
	for {
		left = ch.watchesLeft(ctx)
		if left == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left != "" {
		ch.rep.violation(checkWatches, "%s", left)
	}
	ch.rep.detail(checkWatches, "wchc on every member, checkWatches on every directory, for %d sessions", slots)
}

func (ch *chaos) watchesLeft(ctx context.Context) string {
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ours := map[int64]int{}
	for s := range slots {
		ours[ch.client(s).SessionID()] = s
	}
	for m := range members {
		out, err := keeper.Command(qctx, ch.zk.Addr(m), "wchc")
		if err != nil {
			return fmt.Sprintf("wchc on member %d: %v", m, err)
		}
		cur := int64(0)
		for _, line := range strings.Split(out, "\n") {
			line = strings.TrimRight(line, "\r")
			switch {
			case strings.HasPrefix(line, "0x"):
				v, _ := strconv.ParseUint(line[2:], 16, 64)
				cur = int64(v)
			case strings.HasPrefix(line, "\t"):
				p := strings.TrimSpace(line)
				if s, ok := ours[cur]; ok && (p == ch.chroot || strings.HasPrefix(p, ch.chroot+"/")) {
					return fmt.Sprintf("member %d holds a watch of client %d on %s", m, s, p)
				}
			}
		}
	}
	for s := range slots {
		c := ch.client(s)
		if c.State() == keeper.Closed {
			continue // replaced when the run ended
		}
		for _, p := range []string{"/", "/reg", "/lock", "/eph", "/log", "/lockctr", "/data", counterPath, atomicPath, queuePath, queuePath + "/entries", queuePath + "/taken"} {
			err := c.CheckWatches(qctx, p, keeper.WatchAny)
			switch {
			case errors.Is(err, keeper.ErrNoWatcher):
			case err == nil:
				return fmt.Sprintf("client %d still watches %s", s, p)
			default:
				return fmt.Sprintf("checkWatches %s: %v", p, err)
			}
		}
	}
	return ""
}

// countEphemerals counts the ephemeral nodes under the chroot's directories.
func (ch *chaos) countEphemerals(ctx context.Context) int {
	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	n := 0
	for _, dir := range []string{"/eph", "/lock", counterPath, atomicPath, queuePath + "/taken", queuePath + ".keeper"} {
		kids, err := ch.admin.Children(qctx, ch.chroot+dir)
		if err != nil {
			continue
		}
		for _, k := range kids {
			if st, err := ch.admin.Exists(qctx, ch.chroot+dir+"/"+k); err == nil && st != nil && st.EphemeralOwner != 0 {
				n++
			}
		}
	}
	return n
}

// closeAll closes every client and proxy; it is idempotent.
func (ch *chaos) closeAll() {
	for s := range slots {
		if c := ch.client(s); c != nil {
			c.Close()
		}
		for _, p := range ch.proxies[s] {
			if p != nil {
				p.Close()
			}
		}
	}
	if ch.admin != nil {
		if ch.zk != nil {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = ch.admin.DeleteAll(dctx, ch.chroot)
			cancel()
		}
		ch.admin.Close()
	}
}

// checkGoroutines waits up to 10s for every goroutine running the
// library's code to exit.
func (ch *chaos) checkGoroutines() {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := libraryGoroutines()
		if len(left) == 0 {
			ch.rep.detail(checkGoroutine, "%d goroutines in all, none in the library", runtime.NumGoroutine())
			return
		}
		if time.Now().After(deadline) {
			for _, g := range left {
				ch.rep.violation(checkGoroutine, "%s", firstLines(g, 6))
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// libraryGoroutines returns the stacks of goroutines in the client or the
// recipes (not zktest's servers and proxies, nor this program).
func libraryGoroutines() []string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/keeper-go/keeper.") || strings.Contains(g, "github.com/keeper-go/keeper/recipe/") ||
			strings.Contains(g, "github.com/keeper-go/keeper/internal/") {
			out = append(out, g)
		}
	}
	return out
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// checkFDs waits up to 10s for the process's open files to fall back to
// what they were before the clients and proxies opened any.
func (ch *chaos) checkFDs(base int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := openFDs()
		if n <= base {
			ch.rep.detail(checkFD, "%d open at the end, %d before the run", n, base)
			return
		}
		if time.Now().After(deadline) {
			ch.rep.violation(checkFD, "%d open at the end, %d before the run", n, base)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

// heapInUse returns the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapSlack is how much the heap may grow over the run: the workload's own
// records, the TreeCache's (bounded) tree, the runtime's noise.
const heapSlack = 8 << 20

// checkHeap fails when the heap grew over the run to more than twice its
// start plus heapSlack.
func (ch *chaos) checkHeap() {
	r := ch.rep
	r.mu.Lock()
	samples := append([]heapSample(nil), r.heap...)
	r.mu.Unlock()
	if len(samples) < 2 {
		r.skip(checkHeap, "too few samples")
		return
	}
	start := samples[0].bytes
	limit := 2*start + heapSlack
	for _, s := range samples[1:] {
		if s.bytes > limit {
			r.violation(checkHeap, "%s: %.1f MiB, more than %.1f MiB (start %.1f MiB)", s.when,
				float64(s.bytes)/(1<<20), float64(limit)/(1<<20), float64(start)/(1<<20))
		}
	}
	r.detail(checkHeap, "limit 2 x start + %d MiB", heapSlack>>20)
}
