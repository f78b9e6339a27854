package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/keeper-go/keeper"
)

// asyncStep is one entry of measurement 12: Gets or sequential Creates
// from one goroutine with window requests in flight, Keeper's GetAsync
// or CreateAsync under WithMaxInflight(window) beside the raw client's
// pipelined loop with the same window. One entry per operation and
// window, as measurement 2 has one per level, so that the two clients'
// runs of a repetition are back to back and their ratio is not spread by
// the machine's drift over the other windows' runs. go-zookeeper has no
// asynchronous calls.
func asyncStep(op string, window int) measurement {
	run := func(e *env, c string) error { return e.asyncGet(c, window) }
	if op == "Create" {
		run = func(e *env, c string) error { return e.asyncCreate(c, window) }
	}
	return measurement{id: 12, name: fmt.Sprintf("async %s ×%d", op, window), clients: []string{nameRaw, nameKeeper}, run: run}
}

func (e *env) asyncGet(name string, window int) error {
	n := e.sizes.concGets
	var res result
	if name == nameRaw {
		rc, err := e.raw()
		if err != nil {
			return err
		}
		defer rc.close()
		enc := encGet([]string{getPath}, false)
		if _, err := rc.pipeline(opGetData, e.sizes.warmup, window, enc, nil, nil); err != nil {
			return err
		}
		m := startMeter(e.pid)
		_, err = rc.pipeline(opGetData, n, window, enc, nil, nil)
		res = m.stop()
		if err != nil {
			return err
		}
	} else {
		s, err := connectKeeper(e.servers, keeper.WithMaxInflight(window))
		if err != nil {
			return err
		}
		defer s.close()
		var failed firstErr
		cb := func(_ []byte, _ *keeper.Stat, err error) { failed.note(err) }
		run := func(k int) error {
			ctx := context.Background()
			for range k {
				s.c.GetAsync(ctx, getPath, cb)
			}
			if err := s.c.Flush(ctx); err != nil {
				return err
			}
			return failed.get()
		}
		if err := run(e.sizes.warmup); err != nil {
			return err
		}
		m := startMeter(e.pid)
		err = run(n)
		res = m.stop()
		if err != nil {
			return err
		}
	}
	e.asyncFigures(name, "Get", window, n, res)
	return nil
}

func (e *env) asyncCreate(name string, window int) error {
	n := e.sizes.creates
	parent := e.unique("async")
	if err := e.rawCreate(1, func(int) string { return parent }, nil); err != nil {
		return err
	}
	defer e.rawDeleteTree(parent)
	prefix := parent + "/n-"
	var res result
	if name == nameRaw {
		rc, err := e.raw()
		if err != nil {
			return err
		}
		defer rc.close()
		m := startMeter(e.pid)
		_, err = rc.pipeline(opCreate, n, window, encCreate(func(int) string { return prefix }, e.data, 2),
			func(i int, code int32, body []byte) error {
				if code != 0 {
					return fmt.Errorf("raw: create: code %d", code)
				}
				_, err := decodeString(body)
				return err
			}, nil)
		res = m.stop()
		if err != nil {
			return err
		}
	} else {
		s, err := connectKeeper(e.servers, keeper.WithMaxInflight(window))
		if err != nil {
			return err
		}
		defer s.close()
		var failed firstErr
		cb := func(_ string, err error) { failed.note(err) }
		ctx := context.Background()
		m := startMeter(e.pid)
		for range n {
			s.c.CreateAsync(ctx, prefix, e.data, cb, keeper.Sequential())
		}
		err = s.c.Flush(ctx)
		res = m.stop()
		if err != nil {
			return err
		}
		if err := failed.get(); err != nil {
			return err
		}
	}
	e.asyncFigures(name, "Create", window, n, res)
	return nil
}

// firstErr keeps the first error that callbacks running on another
// goroutine report. note takes the address of a copy made only for an
// error: taking the parameter's own would move every callback's err to
// the heap, one allocation per call counted against the client.
type firstErr struct{ p atomic.Pointer[error] }

func (f *firstErr) note(err error) {
	if err != nil {
		e := err
		f.p.CompareAndSwap(nil, &e)
	}
}

func (f *firstErr) get() error {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return nil
}

func (e *env) asyncFigures(name, op string, window, n int, res result) {
	what := fmt.Sprintf("12 · Async %s, one goroutine, window %d", op, window)
	fig(what, "ops/s").add(name, rate(n, res.wall)).goal("≥ 1.0 × raw", atLeast(1, 0, 0))
	cpuGoal := 1.1
	if op == "Create" {
		cpuGoal = 1.15
	}
	fig(what+": client CPU", "µs/op").add(name, perOp(res.cpu, n)).
		goal(fmt.Sprintf("≤ %g × raw", cpuGoal), atMost(cpuGoal, 0, 0))
	fig(what+": server CPU", "µs/op").add(name, perOp(res.srv, n))
	if res.io.writes > 0 {
		fig(what+": requests per client write", "ops/write").add(name, float64(n)/float64(res.io.writes))
	}
}
