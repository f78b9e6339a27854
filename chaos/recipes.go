package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/counter"
	"github.com/keeper-go/keeper/recipe/queue"
)

// The data recipes' nodes.
const (
	counterPath = "/data/counter"
	atomicPath  = "/data/along"
	queuePath   = "/data/queue"
)

// recipeState counts the data recipes' increments by outcome: each
// acknowledged one must have taken effect exactly once, each unknown one at
// most once.
type recipeState struct {
	mu      sync.Mutex
	counter tally
	atomic  tally
	// The LockingQueue's items, each a unique token: puts not yet consumed
	// (by outcome), consumes whose outcome is unknown, and a bit per token
	// number consumed for sure.
	puts     map[string]outcome
	maybe    map[string]bool
	consumed []uint64
	nPut     tally
	nConsume tally
}

type tally struct{ acked, unknown, refused int }

func (t *tally) add(o outcome) {
	switch o {
	case applied:
		t.acked++
	case unknown:
		t.unknown++
	default:
		t.refused++
	}
}

// recipesOn reports whether the data recipes are part of the workload.
func (ch *chaos) recipesOn() bool { return true }

// recipeOutcome classifies a data recipe's error: the recipes settle a lost
// reply themselves and say ErrUnknownOutcome (the counter and the queue
// share it) only when they could not.
func recipeOutcome(err error) outcome {
	if errors.Is(err, counter.ErrUnknownOutcome) {
		return unknown
	}
	return classify(err)
}

// recipes increments a Counter and an AtomicLong.
func (w *worker) recipes(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.seed, 4))
	rs := &w.ch.recipe
	rep := w.ch.rep
	k := counter.New[int64](w.c, counterPath, 0)
	a := counter.NewAtomicLong(w.c, atomicPath)
	q := queue.NewLocking(w.c, queuePath)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		defer cancel()
		_ = k.Close(cctx)
		_ = a.Close(cctx)
		_ = q.Close(cctx) // releases a held item
	}()
	for ctx.Err() == nil {
		if !pause(ctx, time.Duration(20+rng.IntN(80))*time.Millisecond) {
			return
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		switch rng.IntN(4) {
		case 0:
			w.put(octx, q)
		case 1:
			w.consume(octx, q)
		case 2:
			_, err := k.Add(octx, 1)
			o := recipeOutcome(err)
			rep.count("recipe: Counter.Add", o)
			rs.mu.Lock()
			rs.counter.add(o)
			rs.mu.Unlock()
		default:
			r, err := a.Increment(octx)
			o := recipeOutcome(err)
			if err == nil && !r.Succeeded {
				o = notApplied
			}
			rep.count("recipe: AtomicLong.Increment", o)
			rs.mu.Lock()
			rs.atomic.add(o)
			rs.mu.Unlock()
		}
		cancel()
	}
}

// checkRecipes checks that each data recipe's value counts every
// acknowledged increment once and unknown ones at most once.
func (ch *chaos) checkRecipes(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	rs := &ch.recipe
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if err := ch.admin.Sync(qctx, ch.chroot+counterPath); err != nil {
		ch.rep.violation(checkRecipes, "sync: %v", err)
		return
	}
	data, _, err := ch.admin.Get(qctx, ch.chroot+counterPath)
	if err != nil {
		ch.rep.violation(checkRecipes, "reading the Counter: %v", err)
		return
	}
	kv, _ := strconv.ParseInt(string(data), 10, 64)
	av, err := counter.NewAtomicLong(ch.admin, ch.chroot+atomicPath).Get(qctx)
	if err != nil {
		ch.rep.violation(checkRecipes, "reading the AtomicLong: %v", err)
		return
	}
	for _, c := range []struct {
		name  string
		value int64
		t     tally
	}{{"Counter", kv, rs.counter}, {"AtomicLong", av.PostValue, rs.atomic}} {
		if c.value < int64(c.t.acked) || c.value > int64(c.t.acked+c.t.unknown) {
			ch.rep.violation(checkRecipes, "%s is %d after %d acknowledged and %d unknown increments", c.name, c.value, c.t.acked, c.t.unknown)
		}
	}
	qd := ch.checkQueue(qctx)
	ch.rep.detail(checkRecipes, "Counter %d (%d acknowledged, %d unknown), AtomicLong %d (%d acknowledged, %d unknown, %d not succeeded); LockingQueue: %s",
		kv, rs.counter.acked, rs.counter.unknown, av.PostValue, rs.atomic.acked, rs.atomic.unknown, rs.atomic.refused, qd)
}

// put adds an item holding a new token to the LockingQueue.
func (w *worker) put(ctx context.Context, q *queue.LockingQueue) {
	rs := &w.ch.recipe
	token := "q" + strconv.Itoa(w.slot) + "-" + strconv.FormatInt(tokens.Add(1), 10)
	o := recipeOutcome(q.Put(ctx, []byte(token), queue.DefaultPriority))
	w.ch.rep.count("recipe: LockingQueue.Put", o)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.nPut.add(o)
	// A consumer may have taken and consumed the item before the put's
	// reply (or its check of a lost one) came back.
	if n, _ := tokenNumber(token); o != notApplied && !bitSet(rs.consumed, n) && !rs.maybe[token] {
		rs.puts[token] = o
	}
}

// consume takes an item (waiting a little) and consumes it, unless the
// handle lost it meanwhile.
func (w *worker) consume(ctx context.Context, q *queue.LockingQueue) {
	rs := &w.ch.recipe
	rep := w.ch.rep
	gctx, cancel := context.WithTimeout(ctx, time.Second)
	data, err := q.Get(gctx)
	cancel()
	if err != nil {
		return // empty, or cut off: nothing held
	}
	token := string(data)
	select {
	case <-q.Lost():
		return // another consumer may take it now
	default:
	}
	ok, err := q.Consume(ctx)
	o := recipeOutcome(err)
	if err == nil && !ok {
		o = notApplied
	}
	// ErrLost after a lost reply on a session that ended meanwhile carries
	// the connection loss: the item may have been consumed, and
	// recipeOutcome says unknown. ErrLost for an item found gone, or before
	// sending, says not applied.
	rep.count("recipe: LockingQueue.Consume", o)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.nConsume.add(o)
	switch o {
	case applied:
		n, _ := tokenNumber(token)
		if bitSet(rs.consumed, n) {
			rep.violation(checkRecipes, "LockingQueue item %s consumed twice", token)
		}
		rs.consumed = setBit(rs.consumed, n)
		delete(rs.puts, token)
		delete(rs.maybe, token)
	case unknown:
		rs.maybe[token] = true
	}
}

func bitSet(bits []uint64, n int) bool {
	return n >= 0 && n/64 < len(bits) && bits[n/64]&(1<<(n%64)) != 0
}

func setBit(bits []uint64, n int) []uint64 {
	for len(bits) <= n/64 {
		bits = append(bits, 0)
	}
	bits[n/64] |= 1 << (n % 64)
	return bits
}

// checkQueue checks the items left in the LockingQueue: each once, each put
// and not consumed; and every item put for sure is either there or
// consumed.
func (ch *chaos) checkQueue(ctx context.Context) string {
	rs := &ch.recipe
	dir := ch.chroot + queuePath + "/entries"
	kids, err := ch.admin.Children(ctx, dir)
	if errors.Is(err, keeper.ErrNoNode) {
		kids, err = nil, nil
	}
	if err != nil {
		ch.rep.violation(checkRecipes, "listing the LockingQueue: %v", err)
		return ""
	}
	there := map[string]bool{}
	for _, k := range kids {
		data, _, err := ch.admin.Get(ctx, dir+"/"+k)
		if errors.Is(err, keeper.ErrNoNode) {
			continue
		}
		if err != nil {
			ch.rep.violation(checkRecipes, "reading the LockingQueue: %v", err)
			return ""
		}
		token := string(data)
		n, _ := tokenNumber(token)
		switch _, put := rs.puts[token]; {
		case there[token]:
			ch.rep.violation(checkRecipes, "LockingQueue item %s stored twice", token)
		case bitSet(rs.consumed, n):
			ch.rep.violation(checkRecipes, "LockingQueue item %s consumed, but still queued", token)
		case !put && !rs.maybe[token]:
			ch.rep.violation(checkRecipes, "LockingQueue item %s queued, but never put", token)
		}
		there[token] = true
	}
	for token, o := range rs.puts {
		if n, _ := tokenNumber(token); o == applied && !there[token] && !rs.maybe[token] && !bitSet(rs.consumed, n) {
			ch.rep.violation(checkRecipes, "LockingQueue item %s was put, but is neither queued nor consumed", token)
		}
	}
	return strconv.Itoa(rs.nPut.acked) + " puts acknowledged (" + strconv.Itoa(rs.nPut.unknown) + " unknown), " +
		strconv.Itoa(rs.nConsume.acked) + " consumed (" + strconv.Itoa(rs.nConsume.unknown) + " unknown), " +
		strconv.Itoa(len(kids)) + " left queued"
}
