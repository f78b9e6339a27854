package main

import "github.com/keeper-go/keeper"

// outcome is what a write's error says about whether it took effect.
type outcome int

const (
	applied    outcome = iota // it succeeded
	notApplied                // it certainly did not take effect
	unknown                   // it may or may not have taken effect
)

func (o outcome) String() string {
	switch o {
	case applied:
		return "ok"
	case notApplied:
		return "not applied"
	default:
		return "unknown"
	}
}

// classify tells what a call's error means, as keeper.OutcomeOf says: a
// server's refusal (bad version, no node, its own session-expired reply)
// or a request that never reached the wire was not applied; connection
// loss, a session lost with the request in flight and a call abandoned
// after its request was written leave the outcome unknown.
func classify(err error) outcome {
	switch keeper.OutcomeOf(err) {
	case keeper.Applied:
		return applied
	case keeper.NotApplied:
		return notApplied
	}
	return unknown
}
