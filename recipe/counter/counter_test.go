package counter

import (
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

func TestPyFloat(t *testing.T) {
	t.Parallel()
	// What Python 3's repr prints for each.
	tests := map[float64]string{
		0: "0.0", 1: "1.0", -1: "-1.0", 3.75: "3.75", 0.1: "0.1", 1e-05: "1e-05", 0.0001: "0.0001",
		1e16: "1e+16", 1e15: "1000000000000000.0", 123456789.125: "123456789.125", 1.5e-07: "1.5e-07",
		-2.5e+20: "-2.5e+20", 0.30000000000000004: "0.30000000000000004", math.Inf(1): "inf", math.Inf(-1): "-inf",
		9999999999999998: "9999999999999998.0", 1.7976931348623157e308: "1.7976931348623157e+308",
	}
	for f, want := range tests {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
		if back, err := strconv.ParseFloat(want, 64); err != nil || back != f {
			t.Errorf("%q does not read back as %v: %v, %v", want, f, back, err)
		}
	}
	if pyFloat(math.NaN()) != "nan" {
		t.Error("NaN")
	}
}

func TestCounterInt(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	k := New[int64](c, "/a/cnt", 0)
	if v, err := k.Value(ctx); v != 0 || err != nil {
		t.Fatalf("Value of a new counter = %v, %v", v, err)
	}
	if _, _, ok := k.Last(); ok {
		t.Fatal("Last before any change says ok")
	}
	if v, err := k.Add(ctx, 5); v != 5 || err != nil {
		t.Fatalf("Add(5) = %v, %v", v, err)
	}
	if v, err := k.Add(ctx, -7); v != -2 || err != nil {
		t.Fatalf("Add(-7) = %v, %v", v, err)
	}
	if pre, post, ok := k.Last(); pre != 5 || post != -2 || !ok {
		t.Fatalf("Last = %v, %v, %v", pre, post, ok)
	}
	data, _, err := c.Get(ctx, "/a/cnt")
	if err != nil || string(data) != "-2" {
		t.Fatalf("node data %q, %v", data, err)
	}
	// Another handle sees the same value and a default only for empty data.
	other := New[int64](c, "/a/cnt", 100)
	if v, err := other.Value(ctx); v != -2 || err != nil {
		t.Fatalf("other handle's Value = %v, %v", v, err)
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if kids, err := c.Children(ctx, "/a/cnt"); err != nil || len(kids) != 0 {
		t.Fatalf("after Close the node has children %q, %v", kids, err)
	}
	// Overflow is an error, and nothing is written.
	if _, err := k.Add(ctx, math.MinInt64); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Add(MinInt64) to -2 = %v; want ErrOverflow", err)
	}
	if v, err := k.Add(ctx, math.MaxInt64); v != math.MaxInt64-2 || err != nil {
		t.Fatalf("Add(MaxInt64) to -2 = %v, %v", v, err)
	}
	if _, err := k.Add(ctx, 3); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Add(3) to MaxInt64-2 = %v; want ErrOverflow", err)
	}
	if v, _ := k.Value(ctx); v != math.MaxInt64-2 {
		t.Fatalf("value after a refused add = %d", v)
	}
}

func TestCounterFloat(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	k := New[float64](c, "/f", 1.5)
	defer k.Close(ctx)
	if v, err := k.Value(ctx); v != 1.5 || err != nil {
		t.Fatalf("default = %v, %v", v, err)
	}
	if v, err := k.Add(ctx, 2.25); v != 3.75 || err != nil {
		t.Fatalf("Add = %v, %v", v, err)
	}
	data, _, _ := c.Get(ctx, "/f")
	if string(data) != "3.75" {
		t.Fatalf("data %q", data)
	}
	if _, err := k.Add(ctx, -3.75); err != nil {
		t.Fatal(err)
	}
	data, _, _ = c.Get(ctx, "/f")
	if string(data) != "0.0" {
		t.Fatalf("data %q, want Python's 0.0", data)
	}
	// An int counter cannot read a float, as in Kazoo.
	if _, err := New[int64](c, "/f", 0).Value(ctx); !errors.Is(err, ErrBadData) {
		t.Fatalf("int counter on %q: %v", data, err)
	}
}

func TestCounterBadInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/text", []byte("twelve"), keeper.MakeParents()); err != nil {
		t.Fatal(err)
	}
	k := New[int64](c, "/text", 0)
	_, err := k.Add(ctx, 1)
	if !errors.Is(err, ErrBadData) || !containsAll(err.Error(), "/text", "twelve") {
		t.Fatalf("Add on non-numeric data = %v; want ErrBadData naming the node", err)
	}
	if data, st, _ := c.Get(ctx, "/text"); string(data) != "twelve" || st.Version != 0 {
		t.Fatalf("data %q version %d after a refused Add", data, st.Version)
	}
	if _, err := New[int64](c, "bad", 0).Add(ctx, 1); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("bad path: %v", err)
	}
	closed := testutil.Connect(t, srv, c)
	closed.Close()
	if _, err := New[int64](closed, "/x", 0).Add(ctx, 1); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("closed client: %v", err)
	}
	if kids, _ := c.Children(ctx, "/"); len(kids) != 1 {
		t.Fatalf("nodes written: %q", kids)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !contains(s, x) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestCounterLostReply drops the reply of an increment's write: the
// increment is applied once, and the call still succeeds.
func TestCounterLostReply(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c, p := testutil.Proxied(t, srv)
	k := New[int64](c, "/lost", 0)
	if _, err := k.Add(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 6; i++ {
		// Arm after the read, so that the write's reply is the one lost.
		var dropped bool
		p.Tap(func(fromServer bool, frame []byte) {
			if !fromServer && !dropped && len(frame) >= 8 && opcode(frame) == 14 { // multi
				dropped = true
				p.DropNextReply()
			}
		})
		v, err := k.Add(ctx, 1)
		p.Tap(nil)
		if err != nil || v != int64(i) {
			t.Fatalf("Add %d after a lost reply = %v, %v", i, v, err)
		}
		if !dropped {
			t.Fatal("no write was seen")
		}
	}
	if v, _ := New[int64](c, "/lost", 0).Value(ctx); v != 6 {
		t.Fatalf("value %d after 6 increments", v)
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/lost", c)
}

// opcode reads a request frame's operation code (after the xid).
func opcode(frame []byte) int32 {
	return int32(uint32(frame[4])<<24 | uint32(frame[5])<<16 | uint32(frame[6])<<8 | uint32(frame[7]))
}

// TestAtomicAndSharedBadInput: AtomicLong and SharedCount refuse a node of
// the wrong size, a bad path and a closed client with a clear error, and
// none of them writes anything.
func TestAtomicAndSharedBadInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := srv.Client(t)
	for _, p := range []string{"/al", "/sc"} {
		if _, err := c.Create(ctx, p, []byte("seven"), keeper.MakeParents()); err != nil {
			t.Fatal(err)
		}
	}
	a := NewAtomicLong(c, "/al")
	for name, op := range map[string]func() error{
		"Get":           func() error { _, err := a.Get(ctx); return err },
		"Add":           func() error { _, err := a.Add(ctx, 1); return err },
		"CompareAndSet": func() error { _, err := a.CompareAndSet(ctx, 0, 1); return err },
		"TrySet":        func() error { _, err := a.TrySet(ctx, 1); return err },
	} {
		if err := op(); !errors.Is(err, ErrBadData) || !containsAll(err.Error(), "/al", "5 bytes") {
			t.Fatalf("AtomicLong.%s on 5 bytes = %v; want ErrBadData naming the node and its size", name, err)
		}
	}
	if err := NewSharedCount(c, "/sc", 0).Start(ctx); !errors.Is(err, ErrBadData) || !containsAll(err.Error(), "/sc", "5 bytes") {
		t.Fatalf("SharedCount.Start on 5 bytes = %v; want ErrBadData naming the node and its size", err)
	}
	for _, p := range []string{"/al", "/sc"} {
		if data, st, err := c.Get(ctx, p); err != nil || string(data) != "seven" || st.Version != 0 {
			t.Fatalf("%s after refused operations: %q version %v, %v", p, data, st, err)
		}
	}
	if _, err := NewAtomicLong(c, "al").Add(ctx, 1); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("AtomicLong on a bad path: %v", err)
	}
	if err := NewSharedCount(c, "sc/", 0).Start(ctx); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("SharedCount on a bad path: %v", err)
	}
	closed := testutil.Connect(t, srv, c)
	closed.Close()
	if _, err := NewAtomicLong(closed, "/x").Increment(ctx); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("AtomicLong on a closed client: %v", err)
	}
	if _, err := NewAtomicLong(closed, "/x").Initialize(ctx, 1); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("AtomicLong.Initialize on a closed client: %v", err)
	}
	if err := NewSharedCount(closed, "/y", 1).Start(ctx); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("SharedCount on a closed client: %v", err)
	}
	if kids, _ := c.Children(ctx, "/"); len(kids) != 2 {
		t.Fatalf("nodes written: %q", kids)
	}
}
