package watch_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/watch"
	"github.com/keeper-go/keeper/zktest"
)

// dataCall is one call of a DataWatch function.
type dataCall struct {
	data   []byte
	st     *keeper.Stat
	ev     *keeper.Event
	client *keeper.Client
}

// dataLog records the calls of a DataWatch function, and checks that they
// never overlap.
type dataLog struct {
	mu      sync.Mutex
	calls   []dataCall
	running bool
	overlap bool
}

func (l *dataLog) fn(stopAfter int) func([]byte, *keeper.Stat, *keeper.Event) bool {
	return func(data []byte, st *keeper.Stat, ev *keeper.Event) bool {
		l.mu.Lock()
		if l.running {
			l.overlap = true
		}
		l.running = true
		l.calls = append(l.calls, dataCall{data: data, st: st, ev: ev})
		n := len(l.calls)
		l.mu.Unlock()
		time.Sleep(time.Millisecond) // widen any overlap
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
		return stopAfter <= 0 || n < stopAfter
	}
}

func (l *dataLog) get() []dataCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]dataCall(nil), l.calls...)
}

func (l *dataLog) last() (dataCall, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) == 0 {
		return dataCall{}, 0
	}
	return l.calls[len(l.calls)-1], len(l.calls)
}

// waitData waits until the last call shows data (nil: the node absent).
func (l *dataLog) waitData(t *testing.T, data []byte) dataCall {
	t.Helper()
	var c dataCall
	testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("a call with %q", data), func() bool {
		var n int
		c, n = l.last()
		if n == 0 {
			return false
		}
		if data == nil {
			return c.st == nil && c.data == nil
		}
		return c.st != nil && string(c.data) == string(data)
	})
	return c
}

// checkNoDuplicates checks that consecutive calls show different states.
func (l *dataLog) checkNoDuplicates(t *testing.T) {
	t.Helper()
	calls := l.get()
	for i := 1; i < len(calls); i++ {
		a, b := calls[i-1].st, calls[i].st
		if a == nil && b == nil || a != nil && b != nil && a.Mzxid == b.Mzxid && a.Czxid == b.Czxid {
			t.Fatalf("calls %d and %d show the same state %+v", i-1, i, b)
		}
		if a != nil && b != nil && b.Mzxid < a.Mzxid {
			t.Fatalf("call %d goes back in time: mzxid %x after %x", i, b.Mzxid, a.Mzxid)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.overlap {
		t.Fatal("calls overlapped")
	}
}

func TestDataWatchLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	var l dataLog
	w, err := watch.NewDataWatch(c, "/node", l.fn(0))
	if err != nil {
		t.Fatal(err)
	}
	first := l.waitData(t, nil)
	if first.ev != nil {
		t.Fatalf("first call has event %+v", first.ev)
	}
	if _, err := other.Create(ctx, "/node", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if c := l.waitData(t, []byte("v1")); c.ev == nil || c.ev.Type != keeper.EventNodeCreated || c.ev.Path != "/node" {
		t.Fatalf("creation call %+v", c.ev)
	}
	if _, err := other.Set(ctx, "/node", []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	if c := l.waitData(t, []byte("v2")); c.ev == nil || c.ev.Type != keeper.EventNodeDataChanged {
		t.Fatalf("change call %+v", c.ev)
	}
	// The same data again is a change too (a new mzxid).
	if _, err := other.Set(ctx, "/node", []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "a call for the second set", func() bool { _, n := l.last(); return n == 4 })
	if err := other.Delete(ctx, "/node", -1); err != nil {
		t.Fatal(err)
	}
	if c := l.waitData(t, nil); c.ev == nil || c.ev.Type != keeper.EventNodeDeleted {
		t.Fatalf("deletion call %+v", c.ev)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waits for the end unless fn is running (it may be: the call
	// seen above records before it returns); then Done closes once fn
	// returns.
	select {
	case <-w.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed after Close")
	}
	if w.Err() != nil {
		t.Fatalf("Err after Close = %v", w.Err())
	}
	n := len(l.get())
	if _, err := other.Create(ctx, "/node", nil); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
	if len(l.get()) != n {
		t.Fatal("called after Close")
	}
	l.checkNoDuplicates(t)
}

func TestDataWatchStopsWhenFnReturnsFalse(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/n", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var l dataLog
	w, err := watch.NewDataWatch(c, "/n", l.fn(2))
	if err != nil {
		t.Fatal(err)
	}
	l.waitData(t, []byte("0"))
	if _, err := c.Set(ctx, "/n", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not end after fn returned false")
	}
	if _, err := c.Set(ctx, "/n", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
	if n := len(l.get()); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if err := w.Close(); err != nil || w.Err() != nil {
		t.Fatalf("Close after the end = %v, Err %v", err, w.Err())
	}
}

// TestDataWatchFinalState makes many quick changes and checks that the
// last call shows the final data, and that no two calls show the same
// version.
func TestDataWatchFinalState(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	var l dataLog
	w, err := watch.NewDataWatch(c, "/f", l.fn(0))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l.waitData(t, nil)
	for i := 0; i < 200; i++ {
		switch {
		case i%50 == 0:
			if _, err := other.Create(ctx, "/f", []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		case i%50 == 49:
			if err := other.Delete(ctx, "/f", -1); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := other.Set(ctx, "/f", []byte(fmt.Sprint(i)), -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := other.Create(ctx, "/f", []byte("final")); err != nil {
		t.Fatal(err)
	}
	l.waitData(t, []byte("final"))
	l.checkNoDuplicates(t)
}

// TestDataWatchCallsTheClient runs client calls inside fn: fn must not run
// on the client's reader, or they would never complete.
func TestDataWatchCallsTheClient(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/n", []byte("a")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	w, err := watch.NewDataWatch(c, "/n", func(data []byte, st *keeper.Stat, ev *keeper.Event) bool {
		d, _, err := c.Get(ctx, "/n")
		if err != nil {
			got <- err.Error()
			return false
		}
		got <- string(d)
		return ev == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if s := <-got; s != "a" {
		t.Fatalf("first call read %q", s)
	}
	if _, err := c.Set(ctx, "/n", []byte("b"), -1); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "b" {
		t.Fatalf("second call read %q", s)
	}
	<-w.Done()
}

func TestDataWatchCloseFromFn(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	var w *watch.DataWatch
	ready := make(chan struct{})
	called := make(chan int, 10)
	calls := 0
	var err error
	w, err = watch.NewDataWatch(c, "/n", func([]byte, *keeper.Stat, *keeper.Event) bool {
		<-ready
		calls++
		if calls == 2 {
			w.Close() // must not deadlock
		}
		called <- calls
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	<-called
	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("Close from fn did not end the watch")
	}
	if _, err := c.Set(ctx, "/n", nil, -1); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
	if len(called) != 1 || calls != 2 {
		t.Fatalf("%d calls", calls)
	}
}

func TestDataWatchAcrossDisconnect(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, p, direct := testutil.ProxiedWithDirect(t, srv)
	if _, err := direct.Create(ctx, "/n", []byte("before")); err != nil {
		t.Fatal(err)
	}
	var l dataLog
	w, err := watch.NewDataWatch(c, "/n", l.fn(0))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l.waitData(t, []byte("before"))
	p.Pause()
	p.Drop()
	testutil.WaitFor(t, 20*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	if _, err := direct.Set(ctx, "/n", []byte("while cut off"), -1); err != nil {
		t.Fatal(err)
	}
	p.Resume()
	l.waitData(t, []byte("while cut off"))
	if _, err := direct.Set(ctx, "/n", []byte("after"), -1); err != nil {
		t.Fatal(err)
	}
	l.waitData(t, []byte("after"))
	l.checkNoDuplicates(t)
}

func TestDataWatchAcrossExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	if _, err := c.Create(ctx, "/n", []byte("before")); err != nil {
		t.Fatal(err)
	}
	var l dataLog
	w, err := watch.NewDataWatch(c, "/n", l.fn(0))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l.waitData(t, []byte("before"))
	old := c.SessionID()
	if err := zktest.ExpireSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	// Changed while the session is being replaced.
	if _, err := other.Set(ctx, "/n", []byte("during"), -1); err != nil {
		t.Fatal(err)
	}
	l.waitData(t, []byte("during"))
	testutil.WaitFor(t, 30*time.Second, "a new session", func() bool {
		return c.State() == keeper.Connected && c.SessionID() != old
	})
	if _, err := other.Set(ctx, "/n", []byte("after"), -1); err != nil {
		t.Fatal(err)
	}
	l.waitData(t, []byte("after"))
	l.checkNoDuplicates(t)
}

func TestDataWatchEndsWhenClientCloses(t *testing.T) {
	t.Parallel()
	admin := srv.Client(t)
	c := testutil.Connect(t, srv, admin)
	var l dataLog
	w, err := watch.NewDataWatch(c, "/n", l.fn(0))
	if err != nil {
		t.Fatal(err)
	}
	l.waitData(t, nil)
	c.Close()
	select {
	case <-w.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not end with the client")
	}
	if !errors.Is(w.Err(), keeper.ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", w.Err())
	}
	w.Close()
}

func TestNewWatchErrors(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	fn := func([]byte, *keeper.Stat, *keeper.Event) bool { return true }
	kfn := func([]string, *keeper.Event) bool { return true }
	for _, p := range []string{"", "rel", "/a/", "/a//b", "/a/./b"} {
		if _, err := watch.NewDataWatch(c, p, fn); !errors.Is(err, keeper.ErrInvalidPath) {
			t.Errorf("NewDataWatch(%q) = %v", p, err)
		}
		if _, err := watch.NewChildrenWatch(c, p, kfn); !errors.Is(err, keeper.ErrInvalidPath) {
			t.Errorf("NewChildrenWatch(%q) = %v", p, err)
		}
	}
	if _, err := watch.NewDataWatch(nil, "/a", fn); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := watch.NewDataWatch(c, "/a", nil); err == nil {
		t.Error("nil fn accepted")
	}
	if _, err := watch.NewChildrenWatch(c, "/a", nil); err == nil {
		t.Error("nil fn accepted")
	}
	// A read that cannot succeed (no permission) ends the watch with its
	// error.
	ctx := testutil.Ctx(t, 0)
	noRead := []keeper.ACL{{Perms: keeper.PermAll &^ keeper.PermRead, Scheme: "world", ID: "anyone"}}
	if _, err := c.Create(ctx, "/secret", nil, keeper.WithACL(noRead...)); err != nil {
		t.Fatal(err)
	}
	w, err := watch.NewDataWatch(c, "/secret", fn)
	if err != nil {
		t.Fatal(err)
	}
	<-w.Done()
	if !errors.Is(w.Err(), keeper.ErrNoAuth) {
		t.Fatalf("Err = %v, want ErrNoAuth", w.Err())
	}
}

// kidsCall is one call of a ChildrenWatch function.
type kidsCall struct {
	kids []string
	ev   *keeper.Event
}

type kidsLog struct {
	mu    sync.Mutex
	calls []kidsCall
}

func (l *kidsLog) fn(stopAfter int) func([]string, *keeper.Event) bool {
	return func(kids []string, ev *keeper.Event) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls = append(l.calls, kidsCall{kids, ev})
		return stopAfter <= 0 || len(l.calls) < stopAfter
	}
}

func (l *kidsLog) get() []kidsCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]kidsCall(nil), l.calls...)
}

// waitKids waits until the last call shows kids (nil: the node absent).
func (l *kidsLog) waitKids(t *testing.T, kids []string) kidsCall {
	t.Helper()
	var last kidsCall
	testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("a call with %q", kids), func() bool {
		calls := l.get()
		if len(calls) == 0 {
			return false
		}
		last = calls[len(calls)-1]
		return (kids == nil) == (last.kids == nil) && slices.Equal(last.kids, kids)
	})
	return last
}

func TestChildrenWatchLifecycle(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	for _, send := range []bool{false, true} {
		p := fmt.Sprintf("/p%v", send)
		var opts []watch.Option
		if send {
			opts = append(opts, watch.SendEvent())
		}
		var l kidsLog
		w, err := watch.NewChildrenWatch(c, p, l.fn(0), opts...)
		if err != nil {
			t.Fatal(err)
		}
		l.waitKids(t, nil) // absent: nil, and the watch goes on
		if _, err := other.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		got := l.waitKids(t, []string{})
		if send && (got.ev == nil || got.ev.Type != keeper.EventNodeCreated) || !send && got.ev != nil {
			t.Fatalf("creation event %+v (SendEvent %v)", got.ev, send)
		}
		for _, k := range []string{"b", "a", "c"} {
			if _, err := other.Create(ctx, p+"/"+k, nil); err != nil {
				t.Fatal(err)
			}
		}
		got = l.waitKids(t, []string{"a", "b", "c"})
		if send && (got.ev == nil || got.ev.Type != keeper.EventNodeChildrenChanged || got.ev.Path != p) {
			t.Fatalf("children event %+v", got.ev)
		}
		// A data change of the node is not a children change.
		n := len(l.get())
		if _, err := other.Set(ctx, p, []byte("x"), -1); err != nil {
			t.Fatal(err)
		}
		if err := other.DeleteAll(ctx, p); err != nil {
			t.Fatal(err)
		}
		l.waitKids(t, nil)
		for _, call := range l.get()[n:] {
			if len(call.kids) == 3 {
				t.Fatalf("a call repeated the children: %v", l.get())
			}
		}
		// It comes back.
		if _, err := other.Create(ctx, p+"/z", nil, keeper.MakeParents()); err != nil {
			t.Fatal(err)
		}
		l.waitKids(t, []string{"z"})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// No two consecutive calls show the same children here.
		calls := l.get()
		for i := 1; i < len(calls); i++ {
			if (calls[i].kids == nil) == (calls[i-1].kids == nil) && slices.Equal(calls[i].kids, calls[i-1].kids) {
				t.Fatalf("calls %d and %d are the same: %v", i-1, i, calls)
			}
		}
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

func TestChildrenWatchStopsAndSurvives(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	if _, err := c.Create(ctx, "/p", nil); err != nil {
		t.Fatal(err)
	}
	var stopper kidsLog
	ws, err := watch.NewChildrenWatch(c, "/p", stopper.fn(2))
	if err != nil {
		t.Fatal(err)
	}
	var l kidsLog
	w, err := watch.NewChildrenWatch(c, "/p", l.fn(0))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l.waitKids(t, []string{})
	stopper.waitKids(t, []string{})
	if _, err := other.Create(ctx, "/p/a", nil); err != nil {
		t.Fatal(err)
	}
	<-ws.Done()
	l.waitKids(t, []string{"a"})
	old := c.SessionID()
	if err := zktest.ExpireSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create(ctx, "/p/b", nil); err != nil {
		t.Fatal(err)
	}
	l.waitKids(t, []string{"a", "b"})
	testutil.WaitFor(t, 30*time.Second, "a new session", func() bool {
		return c.State() == keeper.Connected && c.SessionID() != old
	})
	// Many quick changes: the last call has the final children.
	for i := 0; i < 100; i++ {
		if _, err := other.Create(ctx, fmt.Sprintf("/p/k%03d", i), nil); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := other.Delete(ctx, fmt.Sprintf("/p/k%03d", i), -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{"a", "b"}
	for i := 1; i < 100; i += 2 {
		want = append(want, fmt.Sprintf("k%03d", i))
	}
	l.waitKids(t, want)
	if n := len(stopper.get()); n != 2 {
		t.Fatalf("stopped watch called %d times", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}
