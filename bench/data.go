package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper/recipe/counter"
	"github.com/keeper-go/keeper/recipe/queue"
)

// nameKazoo is Kazoo (python3-kazoo, Debian's Python), driven by kazooBench.
const nameKazoo = "Kazoo"

// kazooPython is Debian's interpreter, for which python3-kazoo is installed.
const kazooPython = "/usr/bin/python3"

// Sizes of measurement 10.
func (s sizes) counterOps(g int) int {
	n := 600
	if g > 1 {
		n = 1200
	}
	if s.seqGets < 1000 { // quick
		n /= 3
	}
	return n
}

func (s sizes) queueItems() int {
	if s.seqGets < 1000 {
		return 200
	}
	return 600
}

// kazooBench runs one of the data-recipe workloads with Kazoo in this
// process and prints {"wall": s, "cpu": s, "value": final counter or items}.
// The timed part excludes the interpreter's start and the connection.
const kazooBench = `
import json, sys, threading, time
from kazoo.client import KazooClient
hosts, mode, path, n, g = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
zk = KazooClient(hosts=hosts, timeout=10)
zk.start(timeout=30)
value = 0
def run(threads):
    t0, c0 = time.time(), time.process_time()
    for t in threads: t.start()
    for t in threads: t.join()
    return time.time() - t0, time.process_time() - c0
if mode == "counter":
    c = zk.Counter(path)
    c += 0
    per = [n // g + (1 if i < n % g else 0) for i in range(g)]
    def work(k):
        cc = zk.Counter(path)
        for _ in range(k):
            cc += 1
    wall, cpu = run([threading.Thread(target=work, args=(k,)) for k in per])
    value = c.value
else:
    q = zk.Queue(path) if mode == "queue" else zk.LockingQueue(path)
    got = [0]
    mu = threading.Lock()
    def produce():
        for _ in range(n):
            q.put(b"x" * 100)
    def consume():
        mine = zk.Queue(path) if mode == "queue" else zk.LockingQueue(path)
        while True:
            with mu:
                if got[0] >= n:
                    return
            if mode == "queue":
                item = mine.get()
                if item is None:
                    time.sleep(0.001)
                    continue
            else:
                item = mine.get(timeout=0.2)
                if item is None:
                    continue
                mine.consume()
            with mu:
                got[0] += 1
    wall, cpu = run([threading.Thread(target=produce)] + [threading.Thread(target=consume) for _ in range(g)])
    value = got[0]
print(json.dumps({"wall": wall, "cpu": cpu, "value": value}))
sys.stdout.flush()
zk.stop()
zk.close()
`

type kazooResult struct {
	Wall, CPU float64
	Value     int
}

func (e *env) runKazoo(mode, path string, n, g int) (kazooResult, error) {
	dir, err := os.MkdirTemp("", "kazoo-bench")
	if err != nil {
		return kazooResult{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "bench.py")
	if err := os.WriteFile(script, []byte(kazooBench), 0o644); err != nil {
		return kazooResult{}, err
	}
	out, err := exec.Command(kazooPython, script, e.servers, mode, path, strconv.Itoa(n), strconv.Itoa(g)).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return kazooResult{}, fmt.Errorf("kazoo %s: %v: %s", mode, err, ee.Stderr)
		}
		return kazooResult{}, fmt.Errorf("kazoo %s: %w (is python3-kazoo installed?)", mode, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r kazooResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("kazoo %s: %q: %w", mode, out, err)
	}
	if r.Value != n {
		return r, fmt.Errorf("kazoo %s: final %d, want %d", mode, r.Value, n)
	}
	return r, nil
}

// dataRecipes is measurement 10: Counter increments (1 and 64 goroutines
// on one counter) and Queue/LockingQueue put-then-get (1 producer, 4
// consumers), for Keeper and Kazoo; the raw row is the same number of
// versioned sets (for the counter) or of creates, reads and deletes (for
// the queues), pipelined.
func (e *env) dataRecipes(name string) error {
	for _, g := range []int{1, 64} {
		if err := e.counterRun(name, g); err != nil {
			return err
		}
	}
	for _, mode := range []string{"queue", "lqueue"} {
		if err := e.queueRun(name, mode); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) counterRun(name string, g int) error {
	n := e.sizes.counterOps(g)
	path := e.unique("counter")
	label := fmt.Sprintf("10 · Counter, %d goroutine%s", g, map[bool]string{true: "s", false: ""}[g > 1])
	defer e.rawDeleteTree(path)
	var wall, cpu time.Duration
	switch name {
	case nameKazoo:
		r, err := e.runKazoo("counter", path, n, g)
		if err != nil {
			return err
		}
		wall, cpu = secs(r.Wall), secs(r.CPU)
	case nameRaw:
		if err := e.rawCreate(1, func(int) string { return path }, []byte("0")); err != nil {
			return err
		}
		rc, err := e.raw()
		if err != nil {
			return err
		}
		defer rc.close()
		p := func(int) string { return path }
		m := startMeter(e.pid)
		if g == 1 {
			// One read and one write per increment, one at a time.
			for range n {
				if _, err := rc.pipeline(opGetData, 1, 1, encGet([]string{path}, false), nil, nil); err != nil {
					return err
				}
				if _, err := rc.pipeline(opSetData, 1, 1, encSet(p, []byte("1")), nil, nil); err != nil {
					return err
				}
			}
		} else {
			if _, err := rc.pipeline(opGetData, n, g, encGet([]string{path}, false), nil, nil); err != nil {
				return err
			}
			if _, err := rc.pipeline(opSetData, n, g, encSet(p, []byte("1")), nil, nil); err != nil {
				return err
			}
		}
		res := m.stop()
		wall, cpu = res.wall, res.cpu
	case nameKeeper:
		s, err := connectKeeper(e.servers)
		if err != nil {
			return err
		}
		defer s.close()
		ctx := context.Background()
		k := counter.New[int64](s.c, path, 0)
		if _, err := k.Value(ctx); err != nil {
			return err
		}
		m := startMeter(e.pid)
		err = parallel(g, n, func(int) error { _, err := k.Add(ctx, 1); return err })
		res := m.stop()
		if err != nil {
			return err
		}
		if v, err := k.Value(ctx); err != nil || v != int64(n) {
			return fmt.Errorf("counter: final %d, want %d: %v", v, n, err)
		}
		if err := k.Close(ctx); err != nil {
			return err
		}
		wall, cpu = res.wall, res.cpu
		if g > 1 {
			// Where the time goes: the writes one increment tries under
			// this contention (AtomicLong counts them).
			a := counter.NewAtomicLong(s.c, path+"-al", counter.WithTries(100000))
			var tries atomic.Int64
			if err := parallel(g, n/2, func(int) error {
				r, err := a.Increment(ctx)
				tries.Add(int64(r.OptimisticTries))
				return err
			}); err != nil {
				return err
			}
			a.Close(ctx)
			_ = s.c.Delete(ctx, path+"-al", -1)
			fig(label+": versioned writes tried per increment (Keeper)", "writes").add(name, float64(tries.Load())/float64(n/2))
		}
	}
	f := fig(label, "increments/s").add(name, rate(n, wall))
	if g == 1 {
		f.goal("≥ 3 × Kazoo", atLeastKazoo(3))
	} else {
		f.goal("≥ 3 × Kazoo", atLeastKazoo(3))
	}
	c := fig(label+": client CPU", "µs/increment").add(name, perOp(cpu, n))
	if g == 1 {
		c.goal("≤ 1.3 × raw get+set", atMost(1.3, 0, 0))
	}
	return nil
}

func (e *env) queueRun(name, mode string) error {
	const consumers = 4
	n := e.sizes.queueItems()
	path := e.unique(mode)
	defer e.rawDeleteTree(path)
	defer e.rawDeleteTree(path + ".keeper")
	label := map[string]string{"queue": "10 · Queue", "lqueue": "10 · LockingQueue"}[mode] + " put then get, 1 producer, 4 consumers"
	var wall, cpu time.Duration
	switch name {
	case nameKazoo:
		r, err := e.runKazoo(mode, path, n, consumers)
		if err != nil {
			return err
		}
		wall, cpu = secs(r.Wall), secs(r.CPU)
	case nameRaw:
		// The same creates, reads and deletes, pipelined.
		if err := e.rawCreate(1, func(int) string { return path }, nil); err != nil {
			return err
		}
		rc, err := e.raw()
		if err != nil {
			return err
		}
		defer rc.close()
		names := make([]string, n)
		m := startMeter(e.pid)
		_, err = rc.pipeline(opCreate, n, 1, encCreate(func(int) string { return path + "/entry-100-" }, e.data, 2),
			func(i int, code int32, body []byte) error {
				if code != 0 {
					return fmt.Errorf("raw: create: code %d", code)
				}
				var err error
				names[i], err = decodeString(body)
				return err
			}, nil)
		if err == nil {
			_, err = rc.pipeline(opGetData, n, consumers, encGet(names, false), nil, nil)
		}
		if err == nil {
			_, err = rc.pipeline(opDelete, n, consumers, encDelete(names), nil, nil)
		}
		res := m.stop()
		if err != nil {
			return err
		}
		wall, cpu = res.wall, res.cpu
	case nameKeeper:
		s, err := connectKeeper(e.servers)
		if err != nil {
			return err
		}
		defer s.close()
		ctx := context.Background()
		var got atomic.Int64
		m := startMeter(e.pid)
		errs := make(chan error, consumers+1)
		go func() {
			q := queue.NewLocking(s.c, path)
			if mode == "queue" {
				qq := queue.New(s.c, path)
				for range n {
					if err := qq.Put(ctx, e.data, queue.DefaultPriority); err != nil {
						errs <- err
						return
					}
				}
				errs <- qq.Close(ctx)
				return
			}
			for range n {
				if err := q.Put(ctx, e.data, queue.DefaultPriority); err != nil {
					errs <- err
					return
				}
			}
			errs <- q.Close(ctx)
		}()
		for range consumers {
			go func() {
				errs <- e.keeperConsume(ctx, s, mode, path, n, &got)
			}()
		}
		for range consumers + 1 {
			if err := <-errs; err != nil {
				return err
			}
		}
		res := m.stop()
		wall, cpu = res.wall, res.cpu
	}
	fig(label, "items/s").add(name, rate(n, wall)).goal("≥ 3 × Kazoo", atLeastKazoo(3))
	fig(label+": client CPU", "µs/item").add(name, perOp(cpu, n))
	return nil
}

func (e *env) keeperConsume(ctx context.Context, s *keeperSubject, mode, path string, n int, got *atomic.Int64) error {
	if mode == "queue" {
		q := queue.New(s.c, path)
		defer q.Close(ctx)
		for got.Load() < int64(n) {
			_, ok, err := q.Get(ctx)
			if err != nil {
				return err
			}
			if ok {
				got.Add(1)
			} else {
				time.Sleep(time.Millisecond)
			}
		}
		return nil
	}
	q := queue.NewLocking(s.c, path)
	defer q.Close(ctx)
	for got.Load() < int64(n) {
		gctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := q.Get(gctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := q.Consume(ctx); err != nil {
			return err
		}
		got.Add(1)
	}
	return nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// atLeastKazoo checks Keeper ≥ factor × Kazoo; the Kazoo median is kept in
// the go-zk slot of the check's arguments by dataTable.
func atLeastKazoo(factor float64) func(k, r, g float64) verdict {
	return func(k, _, kz float64) verdict {
		if math.IsNaN(k) || math.IsNaN(kz) || kz == 0 {
			return verdict{}
		}
		if k >= factor*kz {
			return verdict{known: true, met: true}
		}
		return verdict{known: true, how: fmt.Sprintf("%.1f %% short", 100*(1-k/(factor*kz)))}
	}
}

// isData reports whether f belongs to measurement 10's table.
func (f *figure) isData() bool { return strings.HasPrefix(f.label, "10 · ") }

// dataTable renders measurement 10's figures: raw ceiling, Kazoo, Keeper.
func dataTable() string {
	var b strings.Builder
	for _, f := range figures {
		if !f.isData() {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("| Measurement | Unit | raw ceiling | Kazoo | Keeper | Keeper ÷ raw | Keeper ÷ Kazoo | Target | Met |\n")
			b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---|\n")
		}
		met := f.judge(nameRaw, nameKazoo)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			f.label, f.unit, cell(f.vals[nameRaw]), cell(f.vals[nameKazoo]), cell(f.vals[nameKeeper]),
			f.ratioCell(nameKeeper, nameRaw), f.ratioCell(nameKeeper, nameKazoo), f.target, met)
	}
	return b.String()
}
