package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/keeper-go/keeper"
)

// watchParent holds the nodes of measurement 5, created once.
const watchParent = "/bench/watch"

func watchPath(i int) string { return watchParent + "/n" + strconv.Itoa(i) }

// setupWatchNodes creates the nodes that measurement 5 watches.
func (e *env) setupWatchNodes() error {
	if err := e.rawDeleteTree(watchParent); err != nil {
		return err
	}
	if err := e.rawCreate(1, func(int) string { return watchParent }, nil); err != nil {
		return err
	}
	return e.rawCreate(e.sizes.watches, watchPath, e.data)
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// watchSet is a measured client with its registered watches.
type watchSet interface {
	// set registers a one-shot data watch on every path.
	set(paths []string) error
	// await waits for the watches' events until ctx ends, and returns how
	// many arrived and when the last one did.
	await(ctx context.Context) (int, time.Time)
	close()
}

// watches is measurement 5: n one-shot data watches set by the measured
// client, every node changed by a second (raw) client; the events
// delivered, the time from the first change to the last event, and the
// heap the client holds per registered watch.
func (e *env) watches(name string) error {
	n := e.sizes.watches
	paths := make([]string, n)
	for i := range paths {
		paths[i] = watchPath(i)
	}
	var ws watchSet
	var err error
	switch name {
	case nameRaw:
		ws, err = newRawWatches(e, n)
	case nameKeeper:
		ws, err = newKeeperWatches(e, n)
	case nameGoZK:
		ws, err = newGoZKWatches(e, n)
	}
	if err != nil {
		return err
	}
	defer ws.close()
	before := heapInUse()
	t0 := time.Now()
	if err := ws.set(paths); err != nil {
		return err
	}
	setTime := time.Since(t0)
	// A client that keeps nothing per watch (raw) can measure slightly
	// negative: noise from the rest of the process.
	perWatch := max(0, (float64(heapInUse())-float64(before))/float64(n))

	setter, err := e.raw()
	if err != nil {
		return err
	}
	defer setter.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type got struct {
		n    int
		last time.Time
	}
	done := make(chan got, 1)
	go func() {
		k, last := ws.await(ctx)
		done <- got{k, last}
	}()
	start := time.Now()
	if _, err := setter.pipeline(opSetData, n, 256, encSet(watchPath, e.data), nil, nil); err != nil {
		return err
	}
	timer := time.AfterFunc(15*time.Second+time.Since(start), cancel)
	defer timer.Stop()
	r := <-done
	fig(fmt.Sprintf("5 · Watches: time to set %s one-shot watches", thousands(int64(n))), "s").add(name, setTime.Seconds())
	fig("5 · Watch events delivered", "%").add(name, 100*float64(r.n)/float64(n)).
		goal("100 %", atLeast(0, 0, 100))
	if r.n > 0 {
		fig("5 · First change to last event", "s").add(name, r.last.Sub(start).Seconds())
	}
	fig("5 · Heap held per registered watch", "B").add(name, perWatch)
	if r.n != n {
		fmt.Printf("  %s delivered %d of %d watch events\n", name, r.n, n)
	}
	return nil
}

// rawWatches sets watches with pipelined getData(watch) and counts the
// notifications on its connection.
type rawWatches struct {
	rc    *rawConn
	n     int
	early int // notifications that arrived while setting
}

func newRawWatches(e *env, n int) (*rawWatches, error) {
	rc, err := e.raw()
	if err != nil {
		return nil, err
	}
	return &rawWatches{rc: rc, n: n}, nil
}

func (w *rawWatches) set(paths []string) error {
	var err error
	w.early, err = w.rc.pipeline(opGetData, len(paths), 256, encGet(paths, true), nil, nil)
	w.rc.startPinger()
	return err
}

func (w *rawWatches) await(ctx context.Context) (int, time.Time) {
	deadline := time.Now().Add(time.Hour)
	stop := context.AfterFunc(ctx, func() { _ = w.rc.nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	k, last := w.rc.countEvents(w.n-w.early, deadline)
	return k + w.early, last
}

func (w *rawWatches) close() { w.rc.close() }

// awaiters is how many goroutines wait for the events of the real
// clients; each takes every awaiters-th watch, in order.
const awaiters = 64

type keeperWatches struct {
	s     *keeperSubject
	chans []<-chan keeper.Event
}

func newKeeperWatches(e *env, n int) (*keeperWatches, error) {
	s, err := connectKeeper(e.servers)
	if err != nil {
		return nil, err
	}
	return &keeperWatches{s: s, chans: make([]<-chan keeper.Event, n)}, nil
}

func (w *keeperWatches) set(paths []string) error {
	return parallel(awaiters, len(paths), func(i int) error {
		_, _, ch, err := w.s.c.GetW(w.s.ctx, paths[i])
		w.chans[i] = ch
		return err
	})
}

func (w *keeperWatches) await(ctx context.Context) (int, time.Time) {
	return awaitAll(ctx, len(w.chans), func(i int) (<-chan struct{}, bool) {
		select {
		case ev, ok := <-w.chans[i]:
			return nil, ok && ev.Type == keeper.EventNodeDataChanged
		case <-ctx.Done():
			return ctx.Done(), false
		}
	})
}

func (w *keeperWatches) close() { w.s.close() }

type gozkWatches struct {
	s     *gozkSubject
	chans []<-chan zk.Event
}

func newGoZKWatches(e *env, n int) (*gozkWatches, error) {
	s, err := connectGoZK([]string{e.addr}, sessionTimeout, false)
	if err != nil {
		return nil, err
	}
	return &gozkWatches{s: s, chans: make([]<-chan zk.Event, n)}, nil
}

func (w *gozkWatches) set(paths []string) error {
	return parallel(awaiters, len(paths), func(i int) error {
		_, _, ch, err := w.s.c.GetW(paths[i])
		w.chans[i] = ch
		return err
	})
}

func (w *gozkWatches) await(ctx context.Context) (int, time.Time) {
	return awaitAll(ctx, len(w.chans), func(i int) (<-chan struct{}, bool) {
		select {
		case ev, ok := <-w.chans[i]:
			return nil, ok && ev.Type == zk.EventNodeDataChanged
		case <-ctx.Done():
			return ctx.Done(), false
		}
	})
}

func (w *gozkWatches) close() { w.s.close() }

// awaitAll waits for n watches from awaiters goroutines. recv(i) waits
// for watch i and says whether it delivered its change event; a non-nil
// channel means ctx ended.
func awaitAll(ctx context.Context, n int, recv func(i int) (<-chan struct{}, bool)) (int, time.Time) {
	var mu sync.Mutex
	total := 0
	var last time.Time
	var wg sync.WaitGroup
	for g := range awaiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := 0
			var mine time.Time
			for i := g; i < n; i += awaiters {
				stopped, ok := recv(i)
				if stopped != nil {
					break
				}
				if ok {
					k++
					mine = time.Now()
				}
			}
			mu.Lock()
			total += k
			if mine.After(last) {
				last = mine
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total, last
}
