package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
)

// The checks, in the order the table shows them.
const (
	checkLinear    = "counter history linearizable (porcupine)"
	checkMonotonic = "each client's reads never go back"
	checkOnce      = "acknowledged writes present exactly once"
	checkLockCount = "lock counter = completed critical sections"
	checkHolders   = "never two lock holders"
	checkCache     = "TreeCache final view = server tree"
	checkDataWatch = "DataWatch in order, final view = server"
	checkEphemeral = "no ephemeral of a closed or lost session"
	checkWatches   = "no server-side watch left after Close"
	checkGoroutine = "no goroutine left after Close"
	checkFD        = "no file descriptor left after Close"
	checkHeap      = "heap flat (start / middle / end)"
	checkRecipes   = "data recipes (Counter, AtomicLong, LockingQueue)"
)

var checkOrder = []string{
	checkLinear, checkMonotonic, checkOnce, checkLockCount, checkHolders,
	checkCache, checkDataWatch, checkEphemeral, checkWatches, checkGoroutine,
	checkFD, checkHeap, checkRecipes,
}

// maxExamples is how many violations of one check the report quotes.
const maxExamples = 5

// report collects the run's figures and violations. Its methods are safe
// for concurrent use.
type report struct {
	seed uint64

	mu         sync.Mutex
	violations map[string][]string // check → the first violations
	counts     map[string]int      // check → number of violations
	details    map[string]string   // check → what was checked
	skipped    map[string]string   // check → why it did not run
	faults     map[string]int      // fault kind → times injected
	ops        map[string]*opCount // operation → outcomes
	heap       []heapSample
	duration   string
}

// opCount counts the outcomes of one kind of operation.
type opCount struct{ ok, failed, unknown atomic.Int64 }

type heapSample struct {
	when  string
	bytes uint64
}

func newReport(seed uint64) *report {
	return &report{
		seed:       seed,
		violations: map[string][]string{},
		counts:     map[string]int{},
		details:    map[string]string{},
		skipped:    map[string]string{},
		faults:     map[string]int{},
		ops:        map[string]*opCount{},
	}
}

// violation records a broken promise of check.
func (r *report) violation(check, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[check]++
	if len(r.violations[check]) < maxExamples {
		r.violations[check] = append(r.violations[check], fmt.Sprintf(format, args...))
	}
}

// detail says what check covered, for the table.
func (r *report) detail(check, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.details[check] = fmt.Sprintf(format, args...)
}

// skip marks check as not run.
func (r *report) skip(check, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipped[check] = why
}

func (r *report) fault(kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults[kind]++
}

// op returns the counters of operation name.
func (r *report) op(name string) *opCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.ops[name]
	if c == nil {
		c = &opCount{}
		r.ops[name] = c
	}
	return c
}

// count adds one outcome of operation name.
func (r *report) count(name string, o outcome) {
	c := r.op(name)
	switch o {
	case applied:
		c.ok.Add(1)
	case notApplied:
		c.failed.Add(1)
	default:
		c.unknown.Add(1)
	}
}

func (r *report) heapSample(when string, bytes uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heap = append(r.heap, heapSample{when, bytes})
}

func (r *report) violationCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.counts {
		n += c
	}
	return n
}

func (r *report) failed() bool { return r.violationCount() > 0 }

// print writes the tables: faults, operations, heap, checks.
func (r *report) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nfault\tinjected\n")
	kinds := make([]string, 0, len(r.faults))
	total := 0
	for k, n := range r.faults {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t%d\n", k, r.faults[k])
	}
	fmt.Fprintf(tw, "total\t%d\n", total)
	tw.Flush()

	fmt.Fprintf(tw, "\noperation\tok\tfailed\tunknown\n")
	names := make([]string, 0, len(r.ops))
	for k := range r.ops {
		names = append(names, k)
	}
	sort.Strings(names)
	var tok, tfail, tunk int64
	for _, k := range names {
		c := r.ops[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", k, c.ok.Load(), c.failed.Load(), c.unknown.Load())
		tok += c.ok.Load()
		tfail += c.failed.Load()
		tunk += c.unknown.Load()
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\n", tok, tfail, tunk)
	tw.Flush()

	if len(r.heap) > 0 {
		var parts []string
		for _, h := range r.heap {
			parts = append(parts, fmt.Sprintf("%s %.1f MiB", h.when, float64(h.bytes)/(1<<20)))
		}
		fmt.Fprintf(w, "\nheap in use after GC: %s\n", strings.Join(parts, ", "))
	}

	fmt.Fprintf(tw, "\ncheck\tviolations\tresult\tcovered\n")
	for _, name := range checkOrder {
		res := "ok"
		n := r.counts[name]
		switch {
		case n > 0:
			res = "FAIL"
		case r.skipped[name] != "":
			res = "skipped"
		}
		d := r.details[name]
		if why := r.skipped[name]; why != "" {
			d = why
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", name, n, res, d)
	}
	tw.Flush()
	for _, name := range checkOrder {
		if ex := r.violations[name]; len(ex) > 0 {
			fmt.Fprintf(w, "\n%s: %d violation(s), first ones:\n", name, r.counts[name])
			for _, e := range slices.Clone(ex) {
				fmt.Fprintf(w, "  - %s\n", e)
			}
		}
	}
}
