package keeper

import (
	"errors"
	"strconv"
)

// Outcome says what a call's error means for its request: whether the
// server applied it. OutcomeOf computes it.
type Outcome int

// Outcomes of a call.
const (
	// Applied: the call succeeded (its error is nil).
	Applied Outcome = iota
	// NotApplied: the request certainly had no effect. It was never sent
	// (bad input, ctx ended or the session was lost or the client closed
	// before it was written, ErrRequestTooLarge), or the server answered
	// it with an error (ErrNoNode, ErrBadVersion, a failed transaction, or
	// the server's own ErrSessionExpired reply). Retrying a write is safe
	// in so far as the condition that made it fail has changed.
	NotApplied
	// Unknown: the request was sent and no answer came (the connection
	// dropped, the caller's ctx ended, the client closed with it in
	// flight): the server may or may not have applied it. A write must be
	// checked (read back) before it is retried. Errors Keeper did not make
	// count as Unknown too.
	Unknown
)

// String returns the outcome's name ("NotApplied").
func (o Outcome) String() string {
	switch o {
	case Applied:
		return "Applied"
	case NotApplied:
		return "NotApplied"
	case Unknown:
		return "Unknown"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// OutcomeOf tells from the error of a call whether its request was
// applied: Applied for nil, NotApplied when it certainly was not, Unknown
// when it may have been. It tells apart the two ways a call can fail with
// ErrSessionExpired: the server's reply (NotApplied) and the client's
// report of a session lost around a request (NotApplied if the request
// was never sent, Unknown if it was in flight).
func OutcomeOf(err error) Outcome {
	if err == nil {
		return Applied
	}
	// Client-side failures carry whether the request reached the wire.
	var re *requestError
	if errors.As(err, &re) {
		if re.sent {
			return Unknown
		}
		return NotApplied
	}
	var ke *Error
	if errors.As(err, &ke) {
		switch ke.Code {
		case CodeConnectionLoss, CodeOperationTimeout:
			return Unknown // the client's words, not a server's answer
		}
		return NotApplied // a server's reply
	}
	if errors.Is(err, ErrInvalidPath) || errors.Is(err, ErrBadConnectString) || errors.Is(err, ErrRequestTooLarge) {
		return NotApplied
	}
	return Unknown
}
