package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/keeper-go/keeper/recipe/counter"
)

// The data recipes' nodes.
const (
	counterPath = "/data/counter"
	atomicPath  = "/data/along"
)

// recipeState counts the data recipes' increments by outcome: each
// acknowledged one must have taken effect exactly once, each unknown one at
// most once.
type recipeState struct {
	mu      sync.Mutex
	counter tally
	atomic  tally
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
// reply themselves and say ErrUnknownOutcome only when they could not.
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
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		defer cancel()
		_ = k.Close(cctx)
		_ = a.Close(cctx)
	}()
	for ctx.Err() == nil {
		if !pause(ctx, time.Duration(20+rng.IntN(80))*time.Millisecond) {
			return
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		if rng.IntN(2) == 0 {
			_, err := k.Add(octx, 1)
			o := recipeOutcome(err)
			rep.count("recipe: Counter.Add", o)
			rs.mu.Lock()
			rs.counter.add(o)
			rs.mu.Unlock()
		} else {
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
	ch.rep.detail(checkRecipes, "Counter %d (%d acknowledged, %d unknown), AtomicLong %d (%d acknowledged, %d unknown, %d not succeeded); LockingQueue not in the tree yet",
		kv, rs.counter.acked, rs.counter.unknown, av.PostValue, rs.atomic.acked, rs.atomic.unknown, rs.atomic.refused)
}
