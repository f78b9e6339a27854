package main

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// The counter nodes are registers of (value, version): a versioned Set is a
// compare-and-set on the version, a Sync followed by a Get is a read. A plain
// Get may be served by a lagging follower (ZooKeeper promises sequential
// consistency for reads, not linearizability), so only synced reads enter
// the history.

// regState is a counter node's value and version.
type regState struct{ val, ver int }

// regInput is one operation on a counter node.
type regInput struct {
	read   bool
	expVer int // cas: the version the Set names
	newVal int // cas: the value it writes
}

// regOutput is what the operation returned.
type regOutput struct {
	outcome outcome  // for a cas: applied, notApplied (bad version) or unknown
	state   regState // for a read
	note    string   // where it ran and the zxids it saw, for a failure's report
}

// registerModel is the sequential specification. An operation whose outcome
// is unknown returns at +infinity (Jepsen's treatment: it may take effect at
// any point after it was invoked, or never, which is the same as at the end).
var registerModel = porcupine.Model{
	Init: func() any { return regState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(regState), input.(regInput), output.(regOutput)
		if in.read {
			return out.state == s, s
		}
		match := s.ver == in.expVer
		next := s
		if match {
			next = regState{val: in.newVal, ver: s.ver + 1}
		}
		switch out.outcome {
		case applied:
			return match, next
		case notApplied:
			return !match, s
		default:
			return true, next
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		if in.read {
			return fmt.Sprintf("read -> %d@v%d%s", out.state.val, out.state.ver, out.note)
		}
		return fmt.Sprintf("set %d if v%d -> %v%s", in.newVal, in.expVer, out.outcome, out.note)
	},
}

// history records the operations on the counter nodes, one partition per
// node, and checks each partition once no operation on it is in flight and
// no new one can start (its epoch is over). A checked partition is
// discarded, so memory stays bounded however long the run.
type history struct {
	start   time.Time
	timeout time.Duration // porcupine's budget per partition

	mu       sync.Mutex
	parts    map[string]*partition
	closed   map[string]bool // partitions checked: no operation may join them
	checked  int
	ops      int
	illegal  int
	unknown  int // partitions porcupine could not decide within timeout
	slowest  time.Duration
	largest  int
	failures []string
}

type partition struct {
	epoch    int
	inflight int
	ops      []porcupine.Operation
}

func newHistory(start time.Time, timeout time.Duration) *history {
	return &history{start: start, timeout: timeout, parts: map[string]*partition{}, closed: map[string]bool{}}
}

// now is the history's clock: nanoseconds since the start, monotonic.
func (h *history) now() int64 { return int64(time.Since(h.start)) }

// begin notes that an operation on key (of epoch) is in flight and returns
// its invocation time; false means that the key's partition was checked
// already, so the operation must not be made.
func (h *history) begin(key string, epoch int) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed[key] {
		return 0, false
	}
	p := h.parts[key]
	if p == nil {
		p = &partition{epoch: epoch}
		h.parts[key] = p
	}
	p.inflight++
	return h.now(), true
}

// isClosed reports whether key's partition was checked already.
func (h *history) isClosed(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed[key]
}

// end records the operation begun at call; record false drops it (it did
// not happen and revealed nothing).
func (h *history) end(key string, client int, call int64, in regInput, out regOutput, record bool) {
	ret := h.now()
	if out.outcome == unknown && !in.read {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.parts[key]
	p.inflight--
	if record {
		p.ops = append(p.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	}
}

// ripe removes and returns the partitions of epochs before current with
// nothing in flight.
func (h *history) ripe(current int, all bool) map[string][]porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]porcupine.Operation{}
	for k, p := range h.parts {
		if (all || p.epoch < current) && p.inflight == 0 {
			out[k] = p.ops
			delete(h.parts, k)
			h.closed[k] = true
		}
	}
	return out
}

// check runs porcupine on each ripe partition, records the results and
// returns the keys it checked.
func (h *history) check(rep *report, current int, all bool) (keys []string) {
	for key, ops := range h.ripe(current, all) {
		keys = append(keys, key)
		t0 := time.Now()
		res := porcupine.CheckOperationsTimeout(registerModel, ops, h.timeout)
		took := time.Since(t0)
		h.mu.Lock()
		h.checked++
		h.ops += len(ops)
		h.slowest = max(h.slowest, took)
		h.largest = max(h.largest, len(ops))
		switch res {
		case porcupine.Illegal:
			h.illegal++
		case porcupine.Unknown:
			h.unknown++
		}
		h.mu.Unlock()
		if res == porcupine.Illegal {
			rep.violation(checkLinear, "%s: %d operations are not linearizable (%s): %s", key, len(ops), visualize(key, ops, h.timeout), describeOps(ops))
		}
	}
	return keys
}

// writeVisualizations is set by main; tests leave no files behind.
var writeVisualizations bool

// visualize writes porcupine's HTML view of a partition that failed (its
// longest linearizable prefixes) to a temporary file and names it.
func visualize(key string, ops []porcupine.Operation, timeout time.Duration) string {
	if !writeVisualizations {
		return "no visualization"
	}
	_, info := porcupine.CheckOperationsVerbose(registerModel, ops, timeout)
	f, err := os.CreateTemp("", "chaos-"+strings.ReplaceAll(strings.Trim(key, "/"), "/", "-")+"-*.html")
	if err != nil {
		return "no visualization: " + err.Error()
	}
	defer f.Close()
	if err := porcupine.Visualize(registerModel, info, f); err != nil {
		return "no visualization: " + err.Error()
	}
	return "see " + f.Name()
}

// describeOps lists the first operations of a partition, in call order.
func describeOps(ops []porcupine.Operation) string {
	const limit = 200
	s := ""
	for i, op := range ops {
		if i == limit {
			s += fmt.Sprintf(" ... (%d more)", len(ops)-limit)
			break
		}
		ret := "inf"
		if op.Return != math.MaxInt64 {
			ret = fmt.Sprintf("%.3fs", float64(op.Return)/1e9)
		}
		s += fmt.Sprintf(" [c%d %.3fs..%s %s]", op.ClientId, float64(op.Call)/1e9, ret, registerModel.DescribeOperation(op.Input, op.Output))
	}
	return s
}

// summary describes what was checked.
func (h *history) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := fmt.Sprintf("%d operations in %d partitions (largest %d, slowest check %v)",
		h.ops, h.checked, h.largest, h.slowest.Round(time.Millisecond))
	if h.unknown > 0 {
		s += fmt.Sprintf("; %d partition(s) undecided within %v", h.unknown, h.timeout)
	}
	return s
}
