package main

import (
	"errors"

	"github.com/keeper-go/keeper"
)

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

// classify tells what a write's error means: a server's refusal (bad
// version, no node, ...) or a request that never reached the wire was not
// applied; connection loss, a session that ended with the request in flight,
// an operation timeout and a call abandoned after its request was written
// leave the outcome unknown.
func classify(err error) outcome {
	if err == nil {
		return applied
	}
	if keeper.SafeToRetry(err) {
		return notApplied
	}
	var ke *keeper.Error
	if errors.As(err, &ke) {
		switch ke.Code {
		case keeper.CodeConnectionLoss, keeper.CodeSessionExpired, keeper.CodeOperationTimeout:
			return unknown
		}
		return notApplied
	}
	return unknown
}
