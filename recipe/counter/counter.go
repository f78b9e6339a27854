package counter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/internal/node"
)

// ErrBadData reports a node whose data is not a value of the recipe's
// format (text that is not a number, an int32 or int64 of the wrong
// length). The error names the node and quotes the data.
var ErrBadData = errors.New("counter: node data is not a counter value")

// ErrOverflow reports an int64 change that would overflow.
var ErrOverflow = errors.New("counter: int64 overflow")

// Counter is Kazoo's Counter: a number kept as text in one persistent
// node, changed by Add through a read and a versioned write that is
// repeated while other writers get in between. Create one with New; T is
// int64 or float64 (Kazoo's int and float counters).
//
// The text is Python's repr of the number, as Kazoo writes it ("3",
// "-1", "3.75", "1e-05", "1e+16"); empty data (a node just created, as
// Kazoo creates it) reads as the default. Each Add is applied exactly once,
// even when its reply is lost (see the package doc).
//
// Its methods are safe for concurrent use.
type Counter[T int64 | float64] struct {
	c    *keeper.Client
	path string
	def  T
	w    *writer
	turn chan struct{} // one Add of this handle at a time

	mu        sync.Mutex
	pre, post T
	changed   bool
}

// New returns a Counter on the node at path with default value def (the
// value of a node with no data), for client c. Nothing is sent until a
// method is called; the node and its parents are created on first use.
func New[T int64 | float64](c *keeper.Client, path string, def T) *Counter[T] {
	return &Counter[T]{c: c, path: path, def: def, w: newWriter(c, path), turn: make(chan struct{}, 1)}
}

// Path returns the counter's node.
func (k *Counter[T]) Path() string { return k.path }

// Value reads the counter's value. ctx bounds the call.
func (k *Counter[T]) Value(ctx context.Context) (T, error) {
	if err := keeper.ValidatePath(k.path); err != nil {
		return 0, fmt.Errorf("counter: %w", err)
	}
	data, _, err := read(ctx, k.c, k.path, nil)
	if err != nil {
		return 0, fmt.Errorf("counter: value of %s: %w", k.path, err)
	}
	return k.decode(data)
}

// Add adds delta to the counter and returns its new value. It repeats
// the read and versioned write while other writers change the counter in
// between, until one write of ours is applied (exactly once) or ctx ends.
// Last then reports the values before and after this handle's change.
//
// The Adds of one handle run one at a time: run concurrently they would
// only make each other's versioned writes fail. ctx also bounds the wait
// for the turn.
func (k *Counter[T]) Add(ctx context.Context, delta T) (T, error) {
	if err := keeper.ValidatePath(k.path); err != nil {
		return 0, fmt.Errorf("counter: %w", err)
	}
	select {
	case k.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, fmt.Errorf("counter: add to %s: %w", k.path, node.CtxErr(ctx))
	}
	defer func() { <-k.turn }()
	for {
		data, st, err := read(ctx, k.c, k.path, nil)
		if err != nil {
			return 0, fmt.Errorf("counter: add to %s: %w", k.path, err)
		}
		cur, err := k.decode(data)
		if err != nil {
			return 0, err
		}
		next, err := add(cur, delta)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %v + %v", err, k.path, cur, delta)
		}
		ok, _, err := k.w.set(ctx, encodeText(next), st.Version)
		switch {
		case errors.Is(err, errNotApplied), err == nil && !ok:
			continue // someone else wrote first: read again
		case err != nil:
			return 0, fmt.Errorf("counter: add to %s: %w", k.path, err)
		}
		k.mu.Lock()
		k.pre, k.post, k.changed = cur, next, true
		k.mu.Unlock()
		return next, nil
	}
}

// Last returns the values before and after this handle's last change
// (Kazoo's pre_value and post_value); ok is false before the first one.
func (k *Counter[T]) Last() (pre, post T, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pre, k.post, k.changed
}

// Close deletes the markers this handle's writes left under the node
// (see the package doc). The counter can still be used afterwards; call
// Close again when done. ctx bounds the call.
func (k *Counter[T]) Close(ctx context.Context) error { return k.w.close(ctx) }

func (k *Counter[T]) decode(data []byte) (T, error) {
	if len(data) == 0 {
		return k.def, nil
	}
	v, err := decodeText[T](data)
	if err != nil {
		return 0, fmt.Errorf("%w: %s holds %q", ErrBadData, k.path, truncate(data))
	}
	return v, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func add[T int64 | float64](a, b T) (T, error) {
	switch x := any(a).(type) {
	case int64:
		y := any(b).(int64)
		s := x + y
		if (s > x) != (y > 0) {
			return 0, ErrOverflow
		}
		return any(s).(T), nil
	default:
		return a + b, nil
	}
}

// decodeText parses Kazoo's text: int(text) or float(text) in Python,
// which allow surrounding whitespace.
func decodeText[T int64 | float64](data []byte) (T, error) {
	s := strings.TrimSpace(string(data))
	var zero T
	switch any(zero).(type) {
	case int64:
		v, err := strconv.ParseInt(s, 10, 64)
		return any(v).(T), err
	default:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, err
		}
		return any(v).(T), nil
	}
}

// encodeText writes v as Python's repr does.
func encodeText[T int64 | float64](v T) []byte {
	switch x := any(v).(type) {
	case int64:
		return strconv.AppendInt(nil, x, 10)
	default:
		return []byte(pyFloat(any(v).(float64)))
	}
}

// pyFloat formats f as Python's repr(float): the shortest text that reads
// back as f, in fixed notation with at least one decimal when the decimal
// exponent is in [-4, 16), else in scientific notation with a signed
// exponent of at least two digits.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // "d.ddde±XX"
	i := strings.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if f != 0 && (exp < -4 || exp >= 16) {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}
