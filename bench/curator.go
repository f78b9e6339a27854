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

	"github.com/keeper-go/keeper/recipe/queue"
)

// nameCurator is Apache Curator (Debian's jars), driven by curatorBench.
const nameCurator = "Curator"

// curatorJavaDir and curatorBenchJars are Debian's Curator 5.4 and
// ZooKeeper jars; their manifests pull in what else they need.
const curatorJavaDir = "/usr/share/java"

var curatorBenchJars = []string{"curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar", "slf4j-nop.jar"}

// Sizes of measurement 11.
func (s sizes) curatorItems() int {
	if s.seqGets < 1000 {
		return 1000
	}
	return 10000
}

// curatorBench runs one queue workload with Curator in this JVM (one
// producer, G consumers sharing one CuratorFramework, 100-byte items) and
// prints {"Wall": s, "CPU": s, "Value": items consumed}. The timed part
// excludes the JVM's start, the compile and the connection.
const curatorBench = `
import java.lang.management.ManagementFactory;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.curator.framework.*;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.framework.recipes.queue.*;

public class CQBench {
    static final QueueSerializer<byte[]> SER = new QueueSerializer<byte[]>() {
        public byte[] serialize(byte[] b) { return b; }
        public byte[] deserialize(byte[] b) { return b; }
    };

    public static void main(String[] a) throws Exception {
        String hosts = a[0], mode = a[1], path = a[2];
        final int n = Integer.parseInt(a[3]), g = Integer.parseInt(a[4]);
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(hosts).sessionTimeoutMs(10000)
            .retryPolicy(new ExponentialBackoffRetry(100, 10)).build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) throw new Exception("no connection");
        final byte[] item = new byte[100];
        final AtomicInteger got = new AtomicInteger();
        final CountDownLatch done = new CountDownLatch(1);
        com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        List<Thread> threads = new ArrayList<>();
        List<DistributedQueue<byte[]>> queues = new ArrayList<>();
        long c0 = os.getProcessCpuTime(), t0 = System.nanoTime();
        if (mode.equals("squeue")) {
            final SimpleDistributedQueue q = new SimpleDistributedQueue(c, path);
            threads.add(new Thread(() -> {
                try { for (int i = 0; i < n; i++) q.offer(item); } catch (Exception e) { e.printStackTrace(); System.exit(1); }
            }));
            for (int i = 0; i < g; i++) {
                threads.add(new Thread(() -> {
                    SimpleDistributedQueue mine = new SimpleDistributedQueue(c, path);
                    try {
                        while (got.get() < n) {
                            if (mine.poll(100, TimeUnit.MILLISECONDS) != null && got.incrementAndGet() == n) done.countDown();
                        }
                    } catch (Exception e) { e.printStackTrace(); System.exit(1); }
                }));
            }
        } else {
            QueueConsumer<byte[]> cons = new QueueConsumer<byte[]>() {
                public void consumeMessage(byte[] m) { if (got.incrementAndGet() == n) done.countDown(); }
                public void stateChanged(CuratorFramework cf, ConnectionState s) {}
            };
            for (int i = 0; i < g; i++) {
                QueueBuilder<byte[]> b = QueueBuilder.builder(c, cons, SER, path);
                if (mode.equals("dqueue-lock")) b = b.lockPath(path + "-lock");
                DistributedQueue<byte[]> q = b.buildQueue();
                q.start();
                queues.add(q);
            }
            final DistributedQueue<byte[]> p = QueueBuilder.builder(c, null, SER, path).putInBackground(false).buildQueue();
            p.start();
            queues.add(p);
            threads.add(new Thread(() -> {
                try { for (int i = 0; i < n; i++) p.put(item); } catch (Exception e) { e.printStackTrace(); System.exit(1); }
            }));
        }
        for (Thread t : threads) t.start();
        done.await();
        double wall = (System.nanoTime() - t0) / 1e9, cpu = (os.getProcessCpuTime() - c0) / 1e9;
        System.out.println("{\"Wall\":" + wall + ",\"CPU\":" + cpu + ",\"Value\":" + got.get() + "}");
        System.out.flush();
        System.exit(0);
    }
}
`

// runCurator compiles and runs curatorBench for mode.
func (e *env) runCurator(mode, path string, n, g int) (kazooResult, error) {
	dir, err := os.MkdirTemp("", "curator-bench")
	if err != nil {
		return kazooResult{}, err
	}
	defer os.RemoveAll(dir)
	var cp []string
	for _, j := range curatorBenchJars {
		cp = append(cp, filepath.Join(curatorJavaDir, j))
	}
	classpath := strings.Join(cp, string(os.PathListSeparator))
	src := filepath.Join(dir, "CQBench.java")
	if err := os.WriteFile(src, []byte(curatorBench), 0o644); err != nil {
		return kazooResult{}, err
	}
	if out, err := exec.Command("javac", "-nowarn", "-cp", classpath, "-d", dir, src).CombinedOutput(); err != nil {
		return kazooResult{}, fmt.Errorf("curator: javac: %v: %s (are default-jdk-headless and libcurator-recipes-java installed?)", err, out)
	}
	out, err := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-cp", dir+string(os.PathListSeparator)+classpath,
		"CQBench", e.servers, mode, path, strconv.Itoa(n), strconv.Itoa(g)).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return kazooResult{}, fmt.Errorf("curator %s: %v: %s", mode, err, ee.Stderr)
		}
		return kazooResult{}, fmt.Errorf("curator %s: %w", mode, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r kazooResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return r, fmt.Errorf("curator %s: %q: %w", mode, out, err)
	}
	if r.Value != n {
		return r, fmt.Errorf("curator %s: consumed %d, want %d", mode, r.Value, n)
	}
	return r, nil
}

// curatorQueues is measurement 11: Curator's DistributedQueue (with and
// without lock safety) and SimpleDistributedQueue, one producer and four
// consumers, Keeper beside Curator's own Java producer and consumers on
// the same server.
func (e *env) curatorQueues(name string) error {
	for _, mode := range []string{"dqueue-lock", "dqueue", "squeue"} {
		if err := e.curatorRun(name, mode); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) curatorRun(name, mode string) error {
	const consumers = 4
	n := e.sizes.curatorItems()
	path := e.unique(mode)
	defer e.rawDeleteTree(path)
	defer e.rawDeleteTree(path + "-lock")
	defer e.rawDeleteTree(path + ".keeper")
	label := map[string]string{
		"dqueue-lock": "11 · DistributedQueue, lock safety",
		"dqueue":      "11 · DistributedQueue, at most once",
		"squeue":      "11 · SimpleDistributedQueue",
	}[mode] + ", 1 producer, 4 consumers"
	var wall, cpu time.Duration
	switch name {
	case nameCurator:
		r, err := e.runCurator(mode, path, n, consumers)
		if err != nil {
			return err
		}
		wall, cpu = secs(r.Wall), secs(r.CPU)
	case nameKeeper:
		s, err := connectKeeper(e.servers)
		if err != nil {
			return err
		}
		defer s.close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var got atomic.Int64
		count := func() {
			if got.Add(1) == int64(n) {
				cancel()
			}
		}
		errs := make(chan error, consumers+1)
		m := startMeter(e.pid)
		var opts []queue.CuratorOption
		if mode == "dqueue" {
			opts = append(opts, queue.WithAtMostOnce())
		}
		go func() {
			if mode == "squeue" {
				q := queue.NewSimple(s.c, path)
				defer q.Close(context.Background())
				for range n {
					if err := q.Offer(ctx, e.data); err != nil {
						errs <- err
						return
					}
				}
			} else {
				q := queue.NewDistributed(s.c, path, opts...)
				defer q.Close(context.Background())
				for range n {
					if err := q.Put(ctx, e.data); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
		for range consumers {
			go func() {
				var err error
				if mode == "squeue" {
					q := queue.NewSimple(s.c, path)
					for err == nil {
						if _, err = q.Take(ctx); err == nil {
							count()
						}
					}
					q.Close(context.Background())
				} else {
					q := queue.NewDistributed(s.c, path, opts...)
					err = q.Consume(ctx, func(context.Context, []byte) error { count(); return nil })
					q.Close(context.Background())
				}
				if ctx.Err() != nil && got.Load() >= int64(n) {
					err = nil
				}
				errs <- err
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
	fig(label, "items/s").add(name, rate(n, wall)).goal("≥ Curator", atLeastCurator(1))
	fig(label+": client CPU", "µs/item").add(name, perOp(cpu, n)).goal("≤ Curator", atMostCurator(1))
	return nil
}

func atLeastCurator(factor float64) func(k, r, g float64) verdict {
	return func(k, _, cu float64) verdict {
		if math.IsNaN(k) || math.IsNaN(cu) || cu == 0 {
			return verdict{}
		}
		if k >= factor*cu {
			return verdict{known: true, met: true}
		}
		return verdict{known: true, how: fmt.Sprintf("%.1f %% short", 100*(1-k/(factor*cu)))}
	}
}

func atMostCurator(factor float64) func(k, r, g float64) verdict {
	return func(k, _, cu float64) verdict {
		if math.IsNaN(k) || math.IsNaN(cu) || cu == 0 {
			return verdict{}
		}
		if k <= factor*cu {
			return verdict{known: true, met: true}
		}
		return verdict{known: true, how: fmt.Sprintf("%.1f %% over", 100*(k/(factor*cu)-1))}
	}
}

// isCurator reports whether f belongs to measurement 11's table.
func (f *figure) isCurator() bool { return strings.HasPrefix(f.label, "11 · ") }

// curatorTable renders measurement 11's figures: Curator, Keeper.
func curatorTable() string {
	var b strings.Builder
	for _, f := range figures {
		if !f.isCurator() {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("| Measurement | Unit | Curator | Keeper | Keeper ÷ Curator | Target | Met |\n")
			b.WriteString("|---|---|---:|---:|---:|---|---|\n")
		}
		met := f.judge(nameRaw, nameCurator) // Curator's rows have no raw column
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
			f.label, f.unit, cell(f.vals[nameCurator]), cell(f.vals[nameKeeper]), f.ratioCell(nameKeeper, nameCurator), f.target, met)
	}
	return b.String()
}
