// Command bench measures Keeper against go-zookeeper v1.0.4 and a raw
// pipelined protocol client (the ceiling) on the same ZooKeeper server in
// one run, interleaving the clients, and writes the results as a Markdown
// table to RESULTS.md and stdout.
//
//	go run . [-quick] [-reps 5] [-only 1,2,5] [-scale full] [-cpuprofile cpu.pprof] [-out RESULTS.md]
//
// The measurements are those of issue 8: 1 sequential Get, 2 concurrent Get,
// 3 Create and Delete, 4 allocations, 5 watches, 6 lock handoff, 7 failover,
// 8 bulk read; and of issues 14 and 15: 9 recipe latency (Keeper only), 10
// data recipes beside Kazoo, 11 Curator's queues beside Curator; and of issue 17: 12
// asynchronous calls beside the raw pipelined loop; and the scale curves
// of the performance issue: 2 from 1 to 1 024 goroutines, 6 from 2 to 64
// contenders, 13 TreeCache load and heap per node and 14 heap per watch and
// watch restore after a reconnect, each at 10 000 and 100 000 nodes or
// watches (-scale full adds 1 000 000). See RESULTS.md for how each is
// taken.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper/zktest"
)

// measurement is one kind of run, repeated for each client in each
// repetition.
type measurement struct {
	id      int
	name    string
	clients []string // nil: all three
	// step, when not 0, makes the entry one point of a scale curve: it
	// runs at sizes.scale[step-1] and only when the run has that step.
	step     int
	setup    func(e *env) error
	run      func(e *env, client string) error
	teardown func(e *env) error
}

var allClients = []string{nameRaw, nameGoZK, nameKeeper}

// measurements lists the runs on the standalone server, in order.
var measurements = []measurement{
	{id: 1, name: "sequential Get", run: (*env).seqGet},
	{id: 2, name: "concurrent Get ×1", run: func(e *env, c string) error { return e.concGet(c, 1) }},
	{id: 2, name: "concurrent Get ×8", run: func(e *env, c string) error { return e.concGet(c, 8) }},
	{id: 2, name: "concurrent Get ×64", run: func(e *env, c string) error { return e.concGet(c, 64) }},
	{id: 2, name: "concurrent Get ×256", run: func(e *env, c string) error { return e.concGet(c, 256) }},
	{id: 2, name: "concurrent Get ×1024", run: func(e *env, c string) error { return e.concGet(c, 1024) }},
	{id: 3, name: "Create and Delete", run: (*env).createDelete},
	{id: 4, name: "allocations", run: (*env).allocs},
	{id: 5, name: "watches", setup: (*env).setupWatchNodes, run: (*env).watches,
		teardown: func(e *env) error { return e.rawDeleteTree(watchParent) }},
	{id: 6, name: "lock handoff", clients: []string{nameGoZK, nameKeeper},
		run: func(e *env, c string) error { return e.lockHandoff(c, lockContenders) }},
	{id: 6, name: "lock handoff ×2", clients: []string{nameGoZK, nameKeeper},
		run: func(e *env, c string) error { return e.lockHandoff(c, 2) }},
	{id: 6, name: "lock handoff ×16", clients: []string{nameGoZK, nameKeeper},
		run: func(e *env, c string) error { return e.lockHandoff(c, 16) }},
	{id: 6, name: "lock handoff ×64", clients: []string{nameGoZK, nameKeeper},
		run: func(e *env, c string) error { return e.lockHandoff(c, 64) }},
	{id: 8, name: "bulk read", setup: (*env).setupBulk, run: (*env).bulk,
		teardown: func(e *env) error { return e.rawDeleteTree(bulkRoot) }},
	{id: 9, name: "recipe latency", clients: []string{nameKeeper}, run: (*env).recipeLatency},
	{id: 10, name: "data recipes", clients: []string{nameRaw, nameKazoo, nameKeeper}, run: (*env).dataRecipes},
	{id: 11, name: "Curator queues", clients: []string{nameCurator, nameKeeper}, run: (*env).curatorQueues},
	asyncStep("Get", 64), asyncStep("Create", 64),
	asyncStep("Get", 256), asyncStep("Create", 256),
	asyncStep("Get", 1000), asyncStep("Create", 1000),
	treeStep(1), treeStep(2), treeStep(3),
	watchStep(1), watchStep(2), watchStep(3),
}

// title names an entry in the progress lines, with its scale step's size.
func (m measurement) title(e *env) string {
	if m.step == 0 {
		return m.name
	}
	return m.name + " " + thousands(int64(e.step(m.step)))
}

func main() {
	testing.Init()
	quick := flag.Bool("quick", false, "smaller counts, for trying the benchmark out")
	reps := flag.Int("reps", 5, "repetitions of each measurement per client")
	only := flag.String("only", "", "comma-separated measurement numbers to run (default: all)")
	out := flag.String("out", "RESULTS.md", "where to write the Markdown results")
	scale := flag.String("scale", "default", "steps of the scale curves 13 and 14: default (10 000 and 100 000 nodes or watches; "+
		"-quick: 1 000 and 10 000) or full (adding 1 000 000, with a 4 GiB server heap and G1; 13 and 14 then take about 10 minutes)")
	flag.BoolVar(&rawSock, "rawsock", false, "a diagnostic: the raw client reads and writes its socket as Keeper does (internal/sock), not through net.Conn")
	flag.StringVar(&profile, "cpuprofile", "", "write the CPU profile of an extra Keeper 256-goroutine Get run to `file`")
	flag.Parse()
	if err := run(*quick, *reps, *only, *scale, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(quick bool, reps int, only, scale, out string) error {
	sz := fullSizes
	if quick {
		sz = quickSizes
	}
	switch scale {
	case "default":
	case "full":
		sz.scale[2] = fullScaleStep
		serverJVM = fullScaleJVM
	default:
		return fmt.Errorf("-scale %q: want default or full", scale)
	}
	if reps < 1 {
		return fmt.Errorf("-reps %d: need at least 1", reps)
	}
	ids := map[int]bool{7: true} // 7 runs on its own ensemble
	for _, m := range measurements {
		ids[m.id] = true
	}
	want := map[int]bool{}
	for _, f := range strings.Split(only, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || !ids[n] {
			return fmt.Errorf("-only: bad measurement %q (1 to 14)", f)
		}
		want[n] = true
	}
	selected := func(id int) bool { return len(want) == 0 || want[id] }
	if err := flag.Set("test.benchtime", strconv.Itoa(sz.allocOps)+"x"); err != nil {
		return err
	}

	started := time.Now()
	loadStart := loadAvg()
	commit := gitCommit() // what go run built: later commits do not count
	var version string
	var failures []string
	fail := func(what string, err error) {
		msg := fmt.Sprintf("%s: %v", what, err)
		fmt.Println("  FAILED:", msg)
		failures = append(failures, msg)
	}
	standalone := false
	for _, m := range measurements {
		standalone = standalone || selected(m.id)
	}
	if standalone {
		v, err := runStandalone(sz, reps, selected, fail)
		if err != nil {
			return err
		}
		version = v
	}
	if selected(7) {
		fmt.Println("starting a three-member ensemble for failover...")
		ens, err := zktest.New(append([]zktest.Option{zktest.Nodes(3)}, ensembleFlags...)...)
		if err != nil {
			fail("7 failover: ensemble", err)
		} else {
			if version == "" {
				version = ens.Version()
			}
			if err := failover(ens, reps); err != nil {
				fail("7 failover", err)
			}
			ens.Close()
		}
	}
	md := document(docInfo{
		started: started, took: time.Since(started), version: version, reps: reps, quick: quick,
		sizes: sz, loadStart: loadStart, loadEnd: loadAvg(), failures: failures, commit: commit,
	})
	fmt.Println()
	fmt.Println(table())
	fmt.Println(dataTable())
	fmt.Println(curatorTable())
	for _, f := range failures {
		fmt.Println("FAILED:", f)
	}
	if err := writeResults(out, md); err != nil {
		return err
	}
	fmt.Println("results written to", out)
	return nil
}

// runStandalone runs the selected measurements on a standalone server and
// returns its version.
func runStandalone(sz sizes, reps int, selected func(int) bool, fail func(string, error)) (string, error) {
	fmt.Println("starting a standalone ZooKeeper...")
	var opts []zktest.Option
	for _, f := range serverJVM {
		opts = append(opts, zktest.JVMFlag(f))
	}
	cl, err := zktest.New(opts...)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	e := &env{servers: cl.Servers(), addr: cl.Addr(0), pid: cl.PID(0), sizes: sz, data: make([]byte, 100)}
	for i := range e.data {
		e.data[i] = byte('a' + i%26)
	}
	if err := prepare(e); err != nil {
		return "", err
	}
	for _, m := range measurements {
		if !selected(m.id) || (m.step > 0 && e.step(m.step) == 0) {
			continue
		}
		name := m.title(e)
		if m.setup != nil {
			fmt.Printf("setting up %d (%s)...\n", m.id, name)
			t0 := time.Now()
			if err := m.setup(e); err != nil {
				fail(name+" setup", err)
				continue
			}
			fmt.Printf("  set up in %.1fs\n", time.Since(t0).Seconds())
		}
		clients := m.clients
		if clients == nil {
			clients = allClients
		}
		for rep := range reps {
			curRep = rep
			for i := range clients {
				c := clients[(i+rep)%len(clients)] // rotate who goes first
				t0 := time.Now()
				if err := m.run(e, c); err != nil {
					fail(fmt.Sprintf("%d %s, %s, rep %d", m.id, name, c, rep+1), err)
					continue
				}
				fmt.Printf("%d %-22s rep %d %-13s %6.1fs\n", m.id, name, rep+1, c, time.Since(t0).Seconds())
			}
		}
		if m.teardown != nil {
			if err := m.teardown(e); err != nil {
				fail(name+" teardown", err)
			}
		}
	}
	if profile != "" && selected(2) {
		fmt.Println("profiling Keeper's 256-goroutine Get...")
		if err := e.profileConcGet(profile); err != nil {
			fail("profile", err)
		} else {
			fmt.Println("CPU profile written to", profile)
		}
	}
	version := cl.Version()
	if err := cl.Close(); err != nil {
		fail("stopping the server", err)
	}
	return version, nil
}

// serverJVM gives the standalone server room for 100,000 watches and a
// 100,000-node tree, and the JVM's full JIT as in production (zktest's
// defaults favour quick starts).
var serverJVM = []string{"-Xms512m", "-Xmx1g", "-XX:TieredStopAtLevel=4"}

// fullScaleJVM replaces serverJVM under -scale full: a 1,000,000-node tree
// or 1,000,000 watches with their nodes, and G1 in place of zktest's serial
// collector, as a server with a heap of gigabytes runs (the serial one
// stops the server for a second or more at that size).
var fullScaleJVM = []string{"-Xms1g", "-Xmx4g", "-XX:-UseSerialGC", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=4"}

// fullScaleStep is the step -scale full adds to the scale curves.
const fullScaleStep = 1_000_000

var ensembleFlags = []zktest.Option{zktest.JVMFlag("-Xmx256m")}

// prepare creates the nodes every run reads and warms the server up.
func prepare(e *env) error {
	if err := e.rawDeleteTree("/bench"); err != nil {
		return err
	}
	if err := e.rawCreate(1, func(int) string { return "/bench" }, nil); err != nil {
		return err
	}
	if err := e.rawCreate(1, func(int) string { return getPath }, e.data); err != nil {
		return err
	}
	rc, err := e.raw()
	if err != nil {
		return err
	}
	defer rc.close()
	fmt.Println("warming the server up...")
	_, err = rc.pipeline(opGetData, 10*e.sizes.warmup+20000, 64, encGet([]string{getPath}, false), nil, nil)
	return err
}

// serverSource says where zktest took the server from, as the environment
// selects it (ZOOKEEPER_HOME, ZOOKEEPER_VERSION, else zktest's default).
func serverSource() string {
	switch v := zktest.SelectedVersion(); v {
	case "":
		return "the release in ZOOKEEPER_HOME"
	case zktest.Debian:
		return "Debian's package"
	default:
		return "the release from the Maven registry, ZOOKEEPER_VERSION=" + v
	}
}

// loadAvg returns the 1-minute load average, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func createFile(path string) (*os.File, error) { return os.Create(path) }

type docInfo struct {
	started            time.Time
	took               time.Duration
	version            string
	reps               int
	quick              bool
	sizes              sizes
	loadStart, loadEnd string
	commit             string
	failures           []string
}

// analysisMarker starts the hand-written part of RESULTS.md, which a new
// run keeps.
const analysisMarker = "<!-- analysis: written by hand, kept by later runs -->"

func document(d docInfo) string {
	var b strings.Builder
	b.WriteString("# Benchmark results: Keeper, go-zookeeper v1.0.4 and a raw pipelined client\n\n")
	fmt.Fprintf(&b, "Generated by `make bench` (`cd bench && go run .`%s) on %s; the run took %s.\n\n",
		map[bool]string{true: " -quick", false: ""}[d.quick], d.started.Format("2006-01-02 15:04 MST"), d.took.Round(time.Second))
	fmt.Fprintf(&b, "- Machine: %d cores (%s), %s, %s/%s, GOMAXPROCS %d.\n", runtime.NumCPU(), cpuModel(), runtime.Version(),
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "- Server: ZooKeeper %s (%s), standalone, started by zktest on loopback with the JVM flags %s; "+
		"measurement 7 uses a three-member ensemble. Server and clients share the machine's cores.\n", orUnknown(d.version), serverSource(), "`"+strings.Join(serverJVM, " ")+"`")
	fmt.Fprintf(&b, "- Clients: Keeper at commit %s, go-zookeeper v1.0.4, and the raw client in `bench/raw.go` "+
		"(encodes requests, keeps a window outstanding on one connection, reads only reply headers%s). "+
		"Keeper dials with its own dialer and reads and writes a plain TCP socket with raw system calls (`internal/sock`); "+
		"go-zookeeper and the raw client go through net.Conn. "+
		"Session timeout %v (failover: %v, the same for both clients).\n", d.commit,
		map[bool]string{true: "; with -rawsock, through internal/sock as Keeper", false: ""}[rawSock], sessionTimeout, failoverTimeout)
	fmt.Fprintf(&b, "- Method: %d repetitions of every measurement per client, the clients interleaved (the first one rotates), "+
		"a fresh connection per run; each client's cell is median (min–max) of its repetitions. A ratio cell is taken repetition by "+
		"repetition (one client's value over the other's from the same repetition, the two run back to back): the median "+
		"(min–max) of those ratios. Client CPU is this process's getrusage time over the timed part "+
		"divided by the operations; server CPU is the ZooKeeper process's utime+stime from /proc over the same part. "+
		"Met: \"yes\" or \"no\" only when every repetition meets, or misses, the target (Keeper's value against the references' "+
		"from the same repetition); otherwise \"not resolved\", with how many repetitions met it and what the medians say.\n", d.reps)
	fmt.Fprintf(&b, "- Load: 1-minute load average %s at the start of the run, %s at the end (the bench's own work included); "+
		"absolute figures move with the machine's other work; compare the ratios.\n", d.loadStart, d.loadEnd)
	s := d.sizes
	var steps []string
	for _, n := range s.scale {
		if n > 0 {
			steps = append(steps, strconv.Itoa(n))
		}
	}
	fmt.Fprintf(&b, "- Sizes: %d sequential Gets; %d Gets per concurrency level; %d creates then deletes; %d iterations for allocations; "+
		"%d watches; %d lock handoffs; a bulk-read tree of %d leaves; scale curves (13, 14) at %s leaves or watches. Values are 100 bytes.\n\n",
		s.seqGets, s.concGets, s.creates, s.allocOps, s.watches, s.handoffs, s.bulkLeaves, strings.Join(steps, ", "))
	b.WriteString(table())
	b.WriteString("\n")
	if dt := dataTable(); dt != "" {
		b.WriteString("## Data recipes beside Kazoo (measurement 10)\n\n")
		b.WriteString(dt)
		b.WriteString("\n")
	}
	if ct := curatorTable(); ct != "" {
		b.WriteString("## Curator's queues beside Curator (measurement 11)\n\n")
		b.WriteString(ct)
		b.WriteString("\n")
	}
	b.WriteString(methodNotes)
	if len(d.failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		for _, f := range d.failures {
			b.WriteString("- " + f + "\n")
		}
	}
	return b.String()
}

const methodNotes = `## How each figure is taken

1. Sequential Get: one connection, one Get of a 100-byte node at a time; latency per call (the raw client: per round trip).
2. Concurrent Get: one client shared by 1, 8, 64, 256 or 1 024 goroutines, each looping on Get until the total is reached; the raw client keeps a window of as many requests outstanding.
3. Create: persistent sequential nodes with 100-byte values from 64 goroutines (raw: a window of 64; raw uses create, Keeper create2, go-zookeeper create), then Delete of each from 64 goroutines.
4. Allocations: testing.Benchmark with ReportAllocs over sequential Gets and Creates on one client, unrounded (allocations over iterations: the process's background is in it, which raw's row shows); Keeper's GetAsync and CreateAsync the same from one goroutine, a Flush after every 64 calls (its own allocations spread over them), after 256 calls of each to warm the client's pools up.
5. Watches: the measured client sets one-shot data watches (GetW from 64 goroutines; raw: getData with the watch flag, a window of 256) on every node of a flat parent; a second, raw client then sets every node's data (a window of 256). Delivered events are counted until 15 s after the last change was acknowledged; the time runs from the first change to the last event. Heap per watch is the live-heap growth (after GC) while setting them, divided by their number: what the client keeps per watch.
6. Lock handoff: 4 sessions (the first rows; then 2, 16 and 64) contending for one lock in a loop, each on its own client (Keeper's recipe/lock, go-zookeeper's zk.Lock); the handoff is the time from one holder's Release call to the next holder's Acquire returning.
7. Failover: Keeper and go-zookeeper connect to the same follower of a three-member ensemble (hosts in a fixed order), the follower is killed with SIGKILL, and each client's time from the kill to its first successful Get is taken; the member is restarted between repetitions.
8. Bulk read: a tree of 10 top nodes with 100 middle nodes each, each with 100 leaves, every node holding 100 bytes, read into memory. The walk: 64 goroutines share a queue of paths, Get each node and list the children of those whose Stat says they have some (the raw client does the same level by level with a window of 256). Keeper's TreeCache (default options: 16 workers, multi-reads of up to 128 nodes under one persistent recursive watch) is timed from Start to Ready. The MultiGet row reads each level in batches of 100 from 64 goroutines.
9. Recipe latency (Keeper only): a persistent.Node (ephemeral) on a client whose connection goes through a fault proxy, session timeout 4 s; its session is expired on the server while the proxy is paused (20 times; quick: 5), and the time runs from an observer's watch reporting the node deleted to its next watch reporting the node back (the client reconnects, learns of the expiry, opens a new session and re-creates the node). Discovery: 300 (quick: 50) instances registered one after another on one client; the time runs from Register's call to a ServiceCache on a second client reporting the instance. LeaderSelector failover: 30 terms each way (quick: 5), each on a fresh path with two clients (session timeout 4 s): the leader's client goes through a fault proxy; the time runs from pausing that proxy for good (the server expires the session) or from the leader's function returning, to the next selector's function starting. Curator 5.4's LeaderSelector (Debian's jars, a javac-compiled driver, its two clients in one JVM) is measured the same way in the same run; its rows are labelled Curator and its figures sit in the Keeper column.
10. Data recipes: Counter increments (one counter; 1 goroutine, then 64 sharing one client; Kazoo: as many threads sharing one KazooClient, each with its own Counter) and Queue and LockingQueue put then get (one producer putting 100-byte items while 4 consumers take them; LockingQueue consumers Get then Consume), Keeper beside Kazoo driven by python3-kazoo on the same server; Kazoo's time and CPU exclude the interpreter's start. The raw row is the ceiling of the same requests pipelined: for the counter one getData and one versioned setData per increment (one at a time for 1 goroutine, a window of 64 otherwise, without contention), for the queues the creates (a window of 1), reads and deletes (a window of 4). Keeper's increments and puts are transactions that also create a marker node (recipe/counter's exactly-once writes); under 64 goroutines an increment retries its read and write while others win, counted in the "versioned writes tried" row.
11. Curator's queues: DistributedQueue (with lock safety, a lockPath, as Keeper's default; and at most once, Curator's default) and SimpleDistributedQueue, one producer putting 10 000 100-byte items (Curator: putInBackground(false)) while 4 consumers take them (Curator: 4 consumer queues, or 4 threads polling, on one CuratorFramework; Keeper: 4 Consume or Take loops on one client), Keeper beside Curator 5.4 (Debian's jars, compiled with javac at run time) on the same server. Curator's time and CPU (the JVM's process CPU time) exclude the JVM's start and the connection, but include its JIT warm-up. Keeper's puts, takes and at-most-once deletes are transactions with a marker node (exactly once after a lost reply), Curator's are plain.
12. Async pipelining: one goroutine makes 20 000 Gets (after a warm-up of 2 000), then 10 000 Creates (quick: 5 000, 300 and 2 000) of sequential persistent nodes with 100-byte values, with a window of 64, 256 or 1 000 requests in flight: Keeper's GetAsync and CreateAsync under WithMaxInflight(window), one Flush at the end, beside the raw client's pipelined loop with the same window. Each operation and window is its own entry, so the two clients' runs of a repetition are back to back. Requests per client write count the Write calls on the measured client's connection.
13. TreeCache scale: a tree shaped as 8's (10 top nodes, middle nodes of 100 leaves each, 100-byte values) of 10 000 and 100 000 leaves (-scale full: 1 000 000; quick: 1 000 and 10 000). Keeper's TreeCache (default options) is timed from Start to Ready; go-zookeeper, which has no TreeCache, walks the tree as in 8 (64 goroutines) into a map of path to data. Heap per node: the live heap (runtime.ReadMemStats after two GCs) after the load (Keeper: once the Initialized event was drained) less the heap before it, divided by the nodes.
14. Watch restore scale: 10 000 and 100 000 (-scale full: 1 000 000; quick: 1 000 and 10 000) empty nodes in buckets of 1 000; the client, connected through a zktest proxy, sets a one-shot ExistsW on each from 64 goroutines; heap per watch as in 5. The proxy then drops the connection; the client reconnects through it and resumes its session. The proxy's tap takes the time of the connect response and of the server's reply to the SetWatches batch that completes every watched path (it reads the paths each batch names and matches replies by xid). A raw client straight to the server then changes 1 000 of the nodes, evenly spread, and the client's watches on them must fire within 30 s.
`

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}

// cpuModel returns the processor's model name from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// gitCommit returns the short hash of the checked-out commit, and says so
// when the tree outside bench/ has changes not yet committed.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "(unknown)"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--", "..", ":(exclude)../bench").Output(); err == nil && len(st) > 0 {
		commit += " plus uncommitted changes in the tree"
	}
	return commit
}

// writeResults writes md to path, keeping the hand-written analysis of an
// earlier file.
func writeResults(path, md string) error {
	if old, err := os.ReadFile(path); err == nil {
		if i := strings.Index(string(old), analysisMarker); i >= 0 {
			md += "\n" + string(old[i:])
		}
	}
	return os.WriteFile(path, []byte(md), 0o644)
}
