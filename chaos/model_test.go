package main

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/keeper-go/keeper"
)

func cas(client int, call, ret int64, exp, val int, o outcome) porcupine.Operation {
	if o == unknown {
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: client, Call: call, Return: ret,
		Input: regInput{expVer: exp, newVal: val}, Output: regOutput{outcome: o}}
}

func read(client int, call, ret int64, val, ver int) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret,
		Input: regInput{read: true}, Output: regOutput{state: regState{val: val, ver: ver}}}
}

func TestRegisterModel(t *testing.T) {
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential", []porcupine.Operation{
			cas(0, 0, 1, 0, 1, applied), read(1, 2, 3, 1, 1), cas(1, 4, 5, 0, 1, notApplied),
		}, porcupine.Ok},
		{"stale read after an acknowledged write", []porcupine.Operation{
			cas(0, 0, 1, 0, 1, applied), read(1, 2, 3, 0, 0),
		}, porcupine.Illegal},
		{"a version applied twice", []porcupine.Operation{
			cas(0, 0, 1, 0, 1, applied), cas(1, 2, 3, 0, 1, applied),
		}, porcupine.Illegal},
		{"bad version on the current version", []porcupine.Operation{
			cas(0, 0, 1, 0, 1, notApplied),
		}, porcupine.Illegal},
		{"unknown write that took effect later", []porcupine.Operation{
			cas(0, 0, 0, 0, 1, unknown), read(1, 2, 3, 0, 0), read(1, 4, 5, 1, 1),
		}, porcupine.Ok},
		{"unknown write that never took effect", []porcupine.Operation{
			cas(0, 0, 0, 0, 1, unknown), read(1, 2, 3, 0, 0), cas(1, 4, 5, 0, 7, applied), read(1, 6, 7, 7, 1),
		}, porcupine.Ok},
		{"unknown write cannot take effect before its call", []porcupine.Operation{
			read(1, 0, 1, 1, 1), cas(0, 2, 0, 0, 1, unknown),
		}, porcupine.Illegal},
		{"concurrent writes, one wins", []porcupine.Operation{
			cas(0, 0, 10, 0, 1, applied), cas(1, 1, 9, 0, 5, notApplied), read(2, 11, 12, 1, 1),
		}, porcupine.Ok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperationsTimeout(registerModel, tc.ops, 0); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHistoryPartitions(t *testing.T) {
	rep := newReport(1)
	h := newHistory(time.Now(), 0)
	call, ok := h.begin("/reg/e0-k0", 0)
	if !ok {
		t.Fatal("begin refused on a new key")
	}
	h.end("/reg/e0-k0", 0, call, regInput{expVer: 0, newVal: 1}, regOutput{outcome: applied}, true)
	call, _ = h.begin("/reg/e0-k0", 0)
	// A stale read: not linearizable.
	h.end("/reg/e0-k0", 1, call, regInput{read: true}, regOutput{state: regState{}}, true)
	if keys := h.check(rep, 0, false); len(keys) != 0 {
		t.Fatalf("checked %v in its own epoch", keys)
	}
	if keys := h.check(rep, 1, false); len(keys) != 1 {
		t.Fatalf("checked %v after its epoch", keys)
	}
	if rep.counts[checkLinear] != 1 {
		t.Fatalf("%d violations, want 1", rep.counts[checkLinear])
	}
	if _, ok := h.begin("/reg/e0-k0", 0); ok {
		t.Fatal("begin accepted on a checked key")
	}
}

func TestClassify(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		err  error
		want outcome
	}{
		{nil, applied},
		{keeper.ErrBadVersion, notApplied},
		{fmt.Errorf("wrapped: %w", keeper.ErrNodeExists), notApplied},
		{keeper.ErrConnectionLoss, unknown},
		{keeper.ErrSessionExpired, notApplied}, // the server's reply
		{ctx.Err(), unknown},                   // not Keeper's: may have been sent
		{keeper.ErrInvalidPath, notApplied},
	}
	for _, tc := range cases {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestLockStateResolve(t *testing.T) {
	rep := newReport(1)
	var ls lockState
	ls.resolve(rep, 0, 0)
	ls.wrote(applied, 0)
	ls.resolve(rep, 1, 1)
	ls.wrote(unknown, 1) // took effect: the next section reads 2
	ls.resolve(rep, 2, 2)
	ls.wrote(unknown, 2) // did not: the next section reads 2
	ls.resolve(rep, 3, 2)
	if n := rep.counts[checkLockCount]; n != 0 {
		t.Fatalf("%d violations on a clean sequence: %v", n, rep.violations)
	}
	if ls.applied != 2 || ls.acked != 1 {
		t.Fatalf("applied %d, acked %d; want 2, 1", ls.applied, ls.acked)
	}
	ls.resolve(rep, 4, 5) // someone wrote outside the lock
	if n := rep.counts[checkLockCount]; n != 1 {
		t.Fatalf("%d violations, want 1", n)
	}
}

func TestTokens(t *testing.T) {
	var ls logState
	ls.markDone("t3-130")
	if !ls.wasDone("t3-130") || ls.wasDone("t3-131") || ls.wasDone("t1-5000") || ls.wasDone("bad") {
		t.Fatal("wasDone disagrees with markDone")
	}
}

// A synced read whose Get ran in a new session is no linearizable read (the
// new session may start on a member behind the Sync): kept in the history
// it makes a correct run fail, so it is left out; one within a session is
// still checked, and a stale one still fails.
func TestSyncedReadAcrossSessions(t *testing.T) {
	const s1, s2 = 0x100, 0x101
	cases := []struct {
		name       string
		err        error
		sid, after int64
		want       int // violations
	}{
		{"stale, Get retried into a new session", nil, s1, s2, 0},
		{"stale, Sync made between sessions", nil, 0, s2, 0},
		{"stale, session lost after the Get", nil, s1, 0, 0},
		{"stale within one session", nil, s1, s1, 1},
		{"failed Get", keeper.ErrConnectionLoss, s1, s1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := newReport(1)
			h := newHistory(time.Now(), 0)
			const key = "/reg/e0-k0"
			call, _ := h.begin(key, 0)
			h.end(key, 0, call, regInput{expVer: 0, newVal: 1}, regOutput{outcome: applied}, true)
			call, _ = h.begin(key, 0)
			// The Get returned the state before the acknowledged write.
			h.end(key, 1, call, regInput{read: true}, regOutput{state: regState{}}, syncedReadLinear(tc.err, tc.sid, tc.after))
			h.check(rep, 1, false)
			if got := rep.counts[checkLinear]; got != tc.want {
				t.Fatalf("%d violations, want %d", got, tc.want)
			}
		})
	}
}
