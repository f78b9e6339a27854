package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// Measurements 13 and 14 are scale curves: the same run at each step of
// sizes.scale (10 000 and 100 000 nodes or watches; -scale full adds
// 1 000 000), one measurement entry per step.

// scaleTreeRoot holds the tree of measurement 13, one step at a time.
const scaleTreeRoot = "/bench/scaletree"

// scaleWatchRoot holds the nodes of measurement 14: empty nodes in
// buckets of watchBucket, one step at a time.
const scaleWatchRoot = "/bench/scalewatch"

const watchBucket = 1000

func scaleWatchBucket(i int) string { return scaleWatchRoot + "/b" + strconv.Itoa(i) }

func scaleWatchPath(i int) string {
	return scaleWatchBucket(i/watchBucket) + "/n" + strconv.Itoa(i%watchBucket)
}

// scaleSample is how many of measurement 14's watches (evenly spread) are
// made to fire after the reconnect.
const scaleSample = 1000

// Opcodes of the watch restore a reconnecting client sends.
const (
	opSetWatches  = 101
	opSetWatches2 = 105
)

// step returns the size of scale step k (1-based), or 0 when the run has
// no such step.
func (e *env) step(k int) int {
	if k < 1 || k > len(e.sizes.scale) {
		return 0 // and 0 when the step is unset
	}
	return e.sizes.scale[k-1]
}

// treeStep is measurement 13 at step k: the initial load of a tree of
// about e.step(k) leaves.
func treeStep(k int) measurement {
	return measurement{
		id: 13, name: "TreeCache scale", step: k, clients: []string{nameGoZK, nameKeeper},
		setup:    func(e *env) error { return e.createTree(scaleTreeRoot, e.step(k)) },
		run:      func(e *env, c string) error { return e.treeScale(c, k) },
		teardown: func(e *env) error { return e.rawDeleteTree(scaleTreeRoot) },
	}
}

// watchStep is measurement 14 at step k: e.step(k) watches set, then
// restored after a dropped connection.
func watchStep(k int) measurement {
	return measurement{
		id: 14, name: "watch restore scale", step: k, clients: []string{nameGoZK, nameKeeper},
		setup:    func(e *env) error { return e.setupScaleWatches(e.step(k)) },
		run:      func(e *env, c string) error { return e.watchScale(c, k) },
		teardown: func(e *env) error { return e.rawDeleteTree(scaleWatchRoot) },
	}
}

// treeScale is measurement 13: Keeper's TreeCache loads the tree (Start to
// Ready), go-zookeeper walks it from walkers goroutines into a map; both
// give the live heap (after GC) that the loaded copy holds, per node.
func (e *env) treeScale(name string, k int) error {
	want := treeNodes(e.step(k))
	var got int
	var res result
	var grown float64
	switch name {
	case nameGoZK:
		before := heapInUse()
		st, r, err := e.gozkWalk(scaleTreeRoot, want)
		if err != nil {
			return err
		}
		grown = float64(heapInUse()) - float64(before)
		runtime.KeepAlive(st)
		got, res = len(st.nodes), r
	case nameKeeper:
		tl, err := treeCacheLoad(e, scaleTreeRoot)
		if err != nil {
			return err
		}
		got, res, grown = tl.nodes, tl.res, tl.grown
	default:
		return fmt.Errorf("no tree load for %s", name)
	}
	if got != want {
		return fmt.Errorf("%s holds %d nodes, want %d", name, got, want)
	}
	nodes := thousands(int64(want))
	what := fmt.Sprintf("13 · Tree of %s nodes", nodes)
	fig(fmt.Sprintf("%s: Keeper TreeCache initial load (go-zk: %d-goroutine walk)", what, walkers), "s").
		add(name, res.wall.Seconds()).goal("≤ 0.5 × go-zk", atMost(0, 0.5, 0))
	fig(what+": load time per node", "µs").add(name, perOp(res.wall, want))
	fig(what+": client CPU per node", "µs").add(name, perOp(res.cpu, want))
	fig(what+": server CPU per node", "µs").add(name, perOp(res.srv, want))
	fig(what+": garbage collections during the load", "GCs").add(name, float64(res.gcs))
	fig(what+": heap held per node once loaded (go-zk: the walk's map of path to data)", "B").
		add(name, max(0, grown/float64(want)))
	return nil
}

// setupScaleWatches creates n empty nodes under scaleWatchRoot, in
// buckets.
func (e *env) setupScaleWatches(n int) error {
	if err := e.rawDeleteTree(scaleWatchRoot); err != nil {
		return err
	}
	if err := e.rawCreate(1, func(int) string { return scaleWatchRoot }, nil); err != nil {
		return err
	}
	if err := e.rawCreate((n+watchBucket-1)/watchBucket, scaleWatchBucket, nil); err != nil {
		return err
	}
	return e.rawCreate(n, scaleWatchPath, nil)
}

// restorable is a measured client whose one-shot watches survive a
// reconnect.
type restorable interface {
	// set registers a one-shot data watch (ExistsW) on every path.
	set(paths []string) error
	// fired waits for watch i until ctx ends and says whether it delivered
	// its data-change event.
	fired(ctx context.Context, i int) bool
	close()
}

// watchScale is measurement 14: the client, connected through a zktest
// proxy, sets n one-shot watches (ExistsW from awaiters goroutines); the
// live heap it grew by is divided by n. Then the proxy drops the
// connection: the client reconnects through it, resumes its session and
// sends SetWatches. The proxy's tap times the connect response and the
// server's acknowledgement of the batch that completes all n watched
// paths. A raw client (straight to the server) then changes a sample of
// the nodes, and the sampled watches must fire.
func (e *env) watchScale(name string, k int) error {
	n := e.step(k)
	p, err := zktest.NewProxy(e.addr)
	if err != nil {
		return err
	}
	defer p.Close()
	var ws restorable
	switch name {
	case nameKeeper:
		s, err := connectKeeper(p.Addr())
		if err != nil {
			return err
		}
		ws = &keeperRestorable{s: s, chans: make([]<-chan keeper.Event, n)}
	case nameGoZK:
		s, err := connectGoZK([]string{p.Addr()}, sessionTimeout, false)
		if err != nil {
			return err
		}
		ws = &gozkRestorable{s: s, chans: make([]<-chan zk.Event, n)}
	default:
		return fmt.Errorf("no watches for %s", name)
	}
	defer ws.close()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = scaleWatchPath(i)
	}
	before := heapInUse()
	t0 := time.Now()
	if err := ws.set(paths); err != nil {
		return err
	}
	setTime := time.Since(t0)
	perWatch := max(0, (float64(heapInUse())-float64(before))/float64(n))

	rt := &restoreTap{want: n, done: make(chan struct{})}
	p.Tap(rt.frame)
	m := startMeter(e.pid)
	rt.arm()
	p.Drop()
	limit := 30*time.Second + time.Duration(n)*100*time.Microsecond
	select {
	case <-rt.done:
	case <-time.After(limit):
	}
	cost := m.stop()
	p.Tap(nil)
	r := rt.result()
	if r.err != nil {
		return r.err
	}
	if r.restored.IsZero() {
		return fmt.Errorf("%s: %d of %d watched paths restored (%d sent) after %v", name, r.acked, n, r.sent, limit)
	}

	sample := make([]int, min(n, scaleSample))
	for j := range sample {
		sample[j] = j * n / len(sample)
	}
	setter, err := e.raw()
	if err != nil {
		return err
	}
	defer setter.close()
	if _, err := setter.pipeline(opSetData, len(sample), 256,
		encSet(func(j int) string { return paths[sample[j]] }, e.data), nil, nil); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fired := 0
	for _, i := range sample {
		if ws.fired(ctx, i) {
			fired++
		}
	}

	what := fmt.Sprintf("14 · %s one-shot watches", thousands(int64(n)))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fig(what+": time to set, 64 goroutines through the proxy", "s").add(name, setTime.Seconds())
	fig(what+": heap held per registered watch", "B").add(name, perWatch).goal("≤ go-zk", atMost(0, 1, 0))
	fig(what+": connection dropped to session resumed", "ms").add(name, ms(r.reconnected.Sub(r.dropped)))
	fig(what+": session resumed to every watch restored (last SetWatches acknowledged)", "ms").
		add(name, ms(r.restored.Sub(r.reconnected))).goal("≤ go-zk", atMost(0, 1, 0))
	fig(what+": SetWatches requests sent", "requests").add(name, float64(r.batches))
	fig(what+": client CPU, dropped to restored (with the in-process proxy)", "ms").add(name, ms(cost.cpu))
	fig(what+": server CPU, dropped to restored", "ms").add(name, ms(cost.srv))
	fig(what+fmt.Sprintf(": %d sampled watches firing after the reconnect", len(sample)), "%").
		add(name, 100*float64(fired)/float64(len(sample))).goal("100 %", atLeast(0, 0, 100))
	if fired != len(sample) {
		fmt.Printf("  %s: %d of %d sampled watches fired after the reconnect\n", name, fired, len(sample))
	}
	return nil
}

type keeperRestorable struct {
	s     *keeperSubject
	chans []<-chan keeper.Event
}

func (w *keeperRestorable) set(paths []string) error {
	return parallel(awaiters, len(paths), func(i int) error {
		st, ch, err := w.s.c.ExistsW(w.s.ctx, paths[i])
		if err == nil && st == nil {
			err = fmt.Errorf("%s does not exist", paths[i])
		}
		w.chans[i] = ch
		return err
	})
}

func (w *keeperRestorable) fired(ctx context.Context, i int) bool {
	select {
	case ev, ok := <-w.chans[i]:
		return ok && ev.Type == keeper.EventNodeDataChanged
	case <-ctx.Done():
		return false
	}
}

func (w *keeperRestorable) close() { w.s.close() }

type gozkRestorable struct {
	s     *gozkSubject
	chans []<-chan zk.Event
}

func (w *gozkRestorable) set(paths []string) error {
	return parallel(awaiters, len(paths), func(i int) error {
		ok, _, ch, err := w.s.c.ExistsW(paths[i])
		if err == nil && !ok {
			err = fmt.Errorf("%s does not exist", paths[i])
		}
		w.chans[i] = ch
		return err
	})
}

func (w *gozkRestorable) fired(ctx context.Context, i int) bool {
	select {
	case ev, ok := <-w.chans[i]:
		return ok && ev.Type == zk.EventNodeDataChanged
	case <-ctx.Done():
		return false
	}
}

func (w *gozkRestorable) close() { w.s.close() }

// restoreTap follows a client's reconnect through a proxy's tap: the
// connect response that resumes the session, then the SetWatches batches
// the client sends (their xids and how many paths each names) and the
// server's replies to them, until the server has acknowledged want paths.
type restoreTap struct {
	want int
	done chan struct{} // closed once restored or failed

	mu  sync.Mutex
	res restoreResult
	// pending are the batches sent and not yet acknowledged, in order.
	pending []watchBatch
	armed   bool
}

type watchBatch struct {
	xid   int32
	paths int
}

// restoreResult is what a restoreTap saw.
type restoreResult struct {
	dropped, reconnected, restored time.Time
	sent, acked, batches           int // paths sent and acknowledged, batches sent
	err                            error
}

// arm starts following: the connection is dropped now.
func (t *restoreTap) arm() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = true
	t.res.dropped = time.Now()
}

func (t *restoreTap) result() restoreResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.res
}

// finish records the end: the restore completed at (err == nil) or
// failed. The caller holds mu.
func (t *restoreTap) finish(err error, at time.Time) {
	if t.res.err == nil && t.res.restored.IsZero() {
		t.res.err = err
		if err == nil {
			t.res.restored = at
		}
		close(t.done)
	}
}

func (t *restoreTap) frame(fromServer bool, f []byte) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.armed || t.res.err != nil || !t.res.restored.IsZero() {
		return
	}
	if !fromServer {
		// A request: xid, opcode, body.
		if len(f) < 8 {
			return
		}
		op := int32(binary.BigEndian.Uint32(f[4:]))
		if op != opSetWatches && op != opSetWatches2 {
			return
		}
		k, err := countWatchPaths(f[8:], op)
		if err != nil {
			t.finish(err, now)
			return
		}
		t.pending = append(t.pending, watchBatch{xid: int32(binary.BigEndian.Uint32(f)), paths: k})
		t.res.sent += k
		t.res.batches++
		return
	}
	// The connect response: protocol version 0, the timeout, the session,
	// the 16-byte password (and the read-only flag).
	if t.res.reconnected.IsZero() && (len(f) == 36 || len(f) == 37) && binary.BigEndian.Uint32(f) == 0 {
		if binary.BigEndian.Uint32(f[4:]) == 0 {
			t.finish(errors.New("the session expired during the reconnect"), now)
			return
		}
		t.res.reconnected = now
		return
	}
	// A reply header: xid, zxid, error code.
	if len(f) < 16 || len(t.pending) == 0 || int32(binary.BigEndian.Uint32(f)) != t.pending[0].xid {
		return
	}
	if code := int32(binary.BigEndian.Uint32(f[12:])); code != 0 {
		t.finish(fmt.Errorf("SetWatches refused: code %d", code), now)
		return
	}
	t.res.acked += t.pending[0].paths
	t.pending = t.pending[1:]
	if t.res.acked >= t.want {
		t.finish(nil, now)
	}
}

// countWatchPaths counts the paths in a SetWatches body (the relative
// zxid, then three vectors of paths; SetWatches2 has five).
func countWatchPaths(b []byte, op int32) (int, error) {
	lists := 3
	if op == opSetWatches2 {
		lists = 5
	}
	if len(b) < 8 {
		return 0, errors.New("short SetWatches")
	}
	b = b[8:]
	total := 0
	for range lists {
		if len(b) < 4 {
			return 0, errors.New("short SetWatches")
		}
		n := int(int32(binary.BigEndian.Uint32(b)))
		b = b[4:]
		if n < 0 || n > len(b)/4 {
			return 0, errors.New("bad SetWatches vector length")
		}
		for range n {
			if len(b) < 4 {
				return 0, errors.New("short SetWatches")
			}
			l := int(int32(binary.BigEndian.Uint32(b)))
			if l < 0 || len(b)-4 < l {
				return 0, errors.New("bad SetWatches path length")
			}
			b = b[4+l:]
		}
		total += n
	}
	return total, nil
}
