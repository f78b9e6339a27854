package keeper_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// recvEvent waits for one event on ch, failing the test after d.
func recvEvent(t *testing.T, ch <-chan keeper.Event, d time.Duration, what string) keeper.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed without an event", what)
		}
		return ev
	case <-time.After(d):
		t.Fatalf("%s: no event after %v", what, d)
	}
	return keeper.Event{}
}

// oneShotDone checks that a one-shot channel is closed after its event.
func oneShotDone(t *testing.T, ch <-chan keeper.Event, what string) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("%s: second event %+v on a one-shot channel", what, ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: one-shot channel not closed", what)
	}
}

// quiet checks that nothing is waiting on ch right now (no sleep: the
// callers first make sure that whatever could have been sent was).
func quiet(t *testing.T, ch <-chan keeper.Event, what string) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		t.Fatalf("%s: unexpected event %+v (open %v)", what, ev, ok)
	default:
	}
}

// sameChroot connects a second client to c's chroot.
func sameChroot(t *testing.T, c *keeper.Client) *keeper.Client {
	t.Helper()
	o, err := keeper.Connect(ctxT(t), srv.Servers()+c.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// serverWatches asks the server (wchc) which paths the session of c
// watches, chroot included.
func serverWatches(t *testing.T, c *keeper.Client) []string {
	t.Helper()
	return sessionWatches(t, srv.Addr(0), c.SessionID())
}

func sessionWatches(t *testing.T, addr string, sid int64) []string {
	t.Helper()
	out, err := keeper.Command(ctxT(t), addr, "wchc")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	mine := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "0x"):
			id, err := strconv.ParseUint(strings.TrimSpace(line[2:]), 16, 64)
			mine = err == nil && int64(id) == sid
		case mine && strings.TrimSpace(line) != "":
			paths = append(paths, strings.TrimSpace(line))
		}
	}
	return paths
}

// waitNoServerWatches polls wchc until the session of c holds no watch.
func waitNoServerWatches(t *testing.T, c *keeper.Client) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		last = serverWatches(t, c)
		if len(last) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %x still watches %v", c.SessionID(), last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOneShotEventTypes(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	other := sameChroot(t, c)
	type arm func(ctx context.Context, path string) (<-chan keeper.Event, error)
	getW := func(ctx context.Context, p string) (<-chan keeper.Event, error) {
		_, _, ch, err := c.GetW(ctx, p)
		return ch, err
	}
	existsW := func(ctx context.Context, p string) (<-chan keeper.Event, error) {
		_, ch, err := c.ExistsW(ctx, p)
		return ch, err
	}
	childrenW := func(ctx context.Context, p string) (<-chan keeper.Event, error) {
		_, _, ch, err := c.ChildrenW(ctx, p)
		return ch, err
	}
	create := func(ctx context.Context, p string) error { _, err := other.Create(ctx, p, nil); return err }
	set := func(ctx context.Context, p string) error { _, err := other.Set(ctx, p, []byte("x"), -1); return err }
	del := func(ctx context.Context, p string) error { return other.Delete(ctx, p, -1) }
	addChild := func(ctx context.Context, p string) error { _, err := other.Create(ctx, p+"/kid", nil); return err }
	cases := []struct {
		name   string
		exists bool
		arm    arm
		act    func(context.Context, string) error
		want   keeper.EventType
	}{
		{"GetW/changed", true, getW, set, keeper.EventNodeDataChanged},
		{"GetW/deleted", true, getW, del, keeper.EventNodeDeleted},
		{"ExistsW/created", false, existsW, create, keeper.EventNodeCreated},
		{"ExistsW/changed", true, existsW, set, keeper.EventNodeDataChanged},
		{"ExistsW/deleted", true, existsW, del, keeper.EventNodeDeleted},
		{"ChildrenW/children", true, childrenW, addChild, keeper.EventNodeChildrenChanged},
		{"ChildrenW/deleted", true, childrenW, del, keeper.EventNodeDeleted},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			p := fmt.Sprintf("/n%d", i)
			if tc.exists {
				if _, err := c.Create(ctx, p, nil); err != nil {
					t.Fatal(err)
				}
			}
			ch, err := tc.arm(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.act(ctx, p); err != nil {
				t.Fatal(err)
			}
			ev := recvEvent(t, ch, 20*time.Second, tc.name)
			// Paths are relative to the chroot.
			if ev.Type != tc.want || ev.Path != p || ev.Err != nil {
				t.Fatalf("event %+v, want %v on %s", ev, tc.want, p)
			}
			oneShotDone(t, ch, tc.name)
		})
	}
}

// TestEventAfterLongRunOfCalls: after a long run of sequential calls,
// each reading its own reply, the connection's reader takes the quiet
// socket back, so that an event arriving then is delivered with no
// further call to read it. The client never pings (a ping's reply would
// be read by the reader too, and hide a socket nobody reads).
func TestEventAfterLongRunOfCalls(t *testing.T) {
	t.Parallel()
	c := srv.Client(t, keeper.WithPingInterval(time.Hour))
	other := sameChroot(t, c)
	ctx := ctxT(t)
	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		// Long enough for the idle checks to back off to their longest.
		deadline := time.Now().Add(100 * time.Millisecond)
		for time.Now().Before(deadline) {
			if _, _, err := c.Get(ctx, "/n"); err != nil {
				t.Fatal(err)
			}
		}
		_, ch, err := c.ExistsW(ctx, "/n")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Set(ctx, "/n", []byte{byte(round)}, -1); err != nil {
			t.Fatal(err)
		}
		if ev := recvEvent(t, ch, 20*time.Second, "event after a run of calls"); ev.Type != keeper.EventNodeDataChanged || ev.Path != "/n" {
			t.Fatalf("round %d: event %+v, want NodeDataChanged on /n", round, ev)
		}
	}
}

// TestWatchingCallHandsSocketToReader: a call that sets a watch, read by
// its own caller, leaves the socket to the reader goroutine rather than
// unowned, so that the event it waits for is read as soon as it arrives,
// not when the idle timer next looks (up to 32 ms after a long run of calls:
// the lock handoff's p99 grew tenfold that way). A plain call still leaves
// it unowned for the next caller.
func TestWatchingCallHandsSocketToReader(t *testing.T) {
	t.Parallel()
	c := srv.Client(t, keeper.WithPingInterval(time.Hour))
	ctx := ctxT(t)
	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		sawUnowned := false
		for range 50 {
			if _, _, err := c.Get(ctx, "/n"); err != nil {
				t.Fatal(err)
			}
			sawUnowned = sawUnowned || keeper.SocketUnowned(c)
		}
		if round == 0 && !sawUnowned {
			t.Fatal("50 sequential Gets never left the socket unowned: the caller no longer reads its own reply")
		}
		var err error
		if round%2 == 0 {
			_, _, err = c.ExistsW(ctx, "/n")
		} else {
			_, _, _, err = c.GetW(ctx, "/n")
		}
		if err != nil {
			t.Fatal(err)
		}
		if keeper.SocketUnowned(c) {
			t.Fatalf("round %d: the socket is unowned after a call that set a watch", round)
		}
	}
}

func TestOneShotFiresOnceForManyChanges(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/a", nil); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := c.GetW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := c.Set(ctx, "/a", []byte{byte(i)}, -1); err != nil {
			t.Fatal(err)
		}
	}
	if ev := recvEvent(t, ch, 10*time.Second, "GetW"); ev.Type != keeper.EventNodeDataChanged {
		t.Fatalf("event %+v", ev)
	}
	oneShotDone(t, ch, "GetW")
	waitNoServerWatches(t, c)
}

// TestRestoredWatchesKeepSocketWithReader cuts a client with a watch off
// and follows the reconnect: once the server has acknowledged the
// SetWatches that restores the watch, the reader goroutine keeps the
// socket (an owner that gives it up leaves the next frame unread until
// the idle timer looks), so that the event the watch waits for is read
// when it arrives. Then the watch fires.
func TestRestoredWatchesKeepSocketWithReader(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, admin := proxied(t)
	_, ch, err := c.ExistsW(ctx, "/w")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	xid := int32(-100) // no SetWatches yet
	var acked atomic.Bool
	p.Tap(func(fromServer bool, f []byte) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !fromServer && len(f) >= 8 && f[4] == 0 && f[5] == 0 && f[6] == 0 && f[7] == 101: // setWatches
			xid = int32(uint32(f[0])<<24 | uint32(f[1])<<16 | uint32(f[2])<<8 | uint32(f[3]))
		case fromServer && len(f) >= 16 && int32(uint32(f[0])<<24|uint32(f[1])<<16|uint32(f[2])<<8|uint32(f[3])) == xid:
			acked.Store(true)
		}
	})
	p.Drop()
	// Look without a pause from the drop to 200 ms after the
	// acknowledgement: an unowned spell lasts about a millisecond.
	deadline := time.Now().Add(20 * time.Second)
	var end time.Time
	for end.IsZero() || time.Now().Before(end) {
		if end.IsZero() && acked.Load() {
			end = time.Now().Add(200 * time.Millisecond)
		}
		if acked.Load() && keeper.SocketUnowned(c) {
			t.Fatal("the socket was left unowned after the watches were restored")
		}
		if time.Now().After(deadline) {
			t.Fatal("no SetWatches acknowledged within 20s of the drop")
		}
	}
	if _, err := admin.Create(ctx, "/w", nil); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, ch, 20*time.Second, "/w"); ev.Type != keeper.EventNodeCreated {
		t.Fatalf("event %+v", ev)
	}
}

// TestOneShotReplayedAfterReconnect cuts the client off, changes the
// watched nodes from another client, and checks that every watch fires
// once the client is back: the watches are restored with the last zxid,
// so the server replays what was missed.
func TestOneShotReplayedAfterReconnect(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, admin := proxied(t)
	for _, n := range []string{"/data", "/gone", "/kids"} {
		if _, err := c.Create(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, _, data, err := c.GetW(ctx, "/data")
	if err != nil {
		t.Fatal(err)
	}
	_, _, gone, err := c.GetW(ctx, "/gone")
	if err != nil {
		t.Fatal(err)
	}
	_, created, err := c.ExistsW(ctx, "/new")
	if err != nil {
		t.Fatal(err)
	}
	_, _, kids, err := c.ChildrenW(ctx, "/kids")
	if err != nil {
		t.Fatal(err)
	}
	_, untouched, err := c.ExistsW(ctx, "/kids")
	if err != nil {
		t.Fatal(err)
	}
	log := listen(c)
	p.Pause()
	p.Drop()
	waitFor(t, 20*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	if _, err := admin.Set(ctx, "/data", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, "/gone", -1); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(ctx, "/new", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(ctx, "/kids/k", nil); err != nil {
		t.Fatal(err)
	}
	p.Resume()
	for _, x := range []struct {
		ch   <-chan keeper.Event
		path string
		want keeper.EventType
	}{
		{data, "/data", keeper.EventNodeDataChanged},
		{gone, "/gone", keeper.EventNodeDeleted},
		{created, "/new", keeper.EventNodeCreated},
		{kids, "/kids", keeper.EventNodeChildrenChanged},
	} {
		ev := recvEvent(t, x.ch, 30*time.Second, x.path)
		if ev.Type != x.want || ev.Path != x.path {
			t.Fatalf("%s: event %+v, want %v", x.path, ev, x.want)
		}
		oneShotDone(t, x.ch, x.path)
	}
	if _, ok := log.has(keeper.Lost); ok {
		t.Fatalf("session lost: %v", log.states())
	}
	// The untouched watch is still armed, on the same session.
	if _, err := admin.Set(ctx, "/kids", []byte("y"), -1); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, untouched, 20*time.Second, "untouched"); ev.Type != keeper.EventNodeDataChanged {
		t.Fatalf("untouched: %+v", ev)
	}
}

// TestOneShotRestoreInBatches arms more one-shot watches than fit in one
// SetWatches request (their paths add up to more than 128 KiB), cuts the
// client off, creates some of the watched nodes, and checks that the
// watches were restored in several requests and fire.
func TestOneShotRestoreInBatches(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, admin := proxied(t)
	const n = 3000
	name := func(i int) string { return fmt.Sprintf("/%s-%05d", strings.Repeat("w", 100), i) }
	chans := make([]<-chan keeper.Event, n)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				var err error
				if _, chans[i], err = c.ExistsW(ctx, name(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var setWatches atomic.Int32
	p.Tap(func(fromServer bool, frame []byte) {
		// A request: xid, then the opcode (101 is setWatches).
		if !fromServer && len(frame) >= 8 && frame[4] == 0 && frame[5] == 0 && frame[6] == 0 && frame[7] == 101 {
			setWatches.Add(1)
		}
	})
	p.Pause()
	p.Drop()
	waitFor(t, 20*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	fired := []int{0, 1234, n - 1}
	for _, i := range fired {
		if _, err := admin.Create(ctx, name(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	p.Resume()
	for _, i := range fired {
		if ev := recvEvent(t, chans[i], 30*time.Second, name(i)); ev.Type != keeper.EventNodeCreated || ev.Path != name(i) {
			t.Fatalf("watch %d: %+v", i, ev)
		}
	}
	// The fired watches may all sit in the first batches (map order), so
	// their events can come before the last batch has gone out: wait for it.
	waitFor(t, 30*time.Second, fmt.Sprintf("at least 3 setWatches requests (paths of %d KiB)", n*len(name(0))>>10), func() bool {
		return setWatches.Load() >= 3
	})
	for i, ch := range chans {
		if !slices.Contains(fired, i) {
			quiet(t, ch, name(i))
		}
	}
}

func TestOneShotEndsOnExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/a", nil); err != nil {
		t.Fatal(err)
	}
	_, _, g, err := c.GetW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	_, e, err := c.ExistsW(ctx, "/missing")
	if err != nil {
		t.Fatal(err)
	}
	_, _, k, err := c.ChildrenW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	old := c.SessionID()
	if err := zktest.ExpireSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan keeper.Event{"GetW": g, "ExistsW": e, "ChildrenW": k} {
		ev := recvEvent(t, ch, 30*time.Second, name)
		if ev.Type != keeper.EventNotWatching || !errors.Is(ev.Err, keeper.ErrSessionExpired) {
			t.Fatalf("%s: event %+v, want NotWatching with ErrSessionExpired", name, ev)
		}
		oneShotDone(t, ch, name)
	}
	waitFor(t, 30*time.Second, "a new session", func() bool {
		return c.State() == keeper.Connected && c.SessionID() != old
	})
}

func TestOneShotEndsOnClose(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	admin := srv.Client(t)
	c := sameChroot(t, admin)
	_, ch, err := c.ExistsW(ctx, "/missing")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	ev := recvEvent(t, ch, 10*time.Second, "ExistsW")
	if ev.Type != keeper.EventNotWatching || !errors.Is(ev.Err, keeper.ErrClosed) {
		t.Fatalf("event %+v", ev)
	}
	oneShotDone(t, ch, "ExistsW")
}

// TestHundredThousandOneShots arms 100,000 one-shot watches on one client
// (100 on each of 1,000 nodes, half GetW, half ExistsW), fires them all and
// checks that each fires exactly once.
func TestHundredThousandOneShots(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	const nodes, per, workers = 1000, 100, 128
	parallel := func(n int, fn func(i int) error) {
		t.Helper()
		var next atomic.Int64
		var wg sync.WaitGroup
		var first atomic.Value
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					if err := fn(i); err != nil {
						first.CompareAndSwap(nil, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := first.Load().(error); err != nil {
			t.Fatal(err)
		}
	}
	parallel(nodes, func(i int) error {
		_, err := c.Create(ctx, fmt.Sprintf("/n%d", i), nil)
		return err
	})
	chans := make([]<-chan keeper.Event, nodes*per)
	parallel(nodes*per, func(i int) error {
		p := fmt.Sprintf("/n%d", i%nodes)
		var err error
		if i%2 == 0 {
			_, _, chans[i], err = c.GetW(ctx, p)
		} else {
			_, chans[i], err = c.ExistsW(ctx, p)
		}
		return err
	})
	parallel(nodes, func(i int) error {
		_, err := c.Set(ctx, fmt.Sprintf("/n%d", i), []byte("x"), -1)
		return err
	})
	deadline := time.After(60 * time.Second)
	for i, ch := range chans {
		select {
		case ev, ok := <-ch:
			if !ok || ev.Type != keeper.EventNodeDataChanged || ev.Path != fmt.Sprintf("/n%d", i%nodes) {
				t.Fatalf("watch %d: event %+v (open %v)", i, ev, ok)
			}
		case <-deadline:
			t.Fatalf("watch %d of %d never fired", i, len(chans))
		}
		select {
		case ev, ok := <-ch:
			if ok {
				t.Fatalf("watch %d fired twice: %+v", i, ev)
			}
		case <-deadline:
			t.Fatalf("watch %d not closed", i)
		}
	}
}

func TestRemoveAndCheckWatches(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/a", nil); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []keeper.WatchKind{keeper.WatchData, keeper.WatchChildren, keeper.WatchAny} {
		if err := c.CheckWatches(ctx, "/a", kind); !errors.Is(err, keeper.ErrNoWatcher) {
			t.Fatalf("CheckWatches(%d) with no watch = %v, want ErrNoWatcher", kind, err)
		}
		if err := c.RemoveWatches(ctx, "/a", kind); !errors.Is(err, keeper.ErrNoWatcher) {
			t.Fatalf("RemoveWatches(%d) with no watch = %v, want ErrNoWatcher", kind, err)
		}
	}
	_, _, g, err := c.GetW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	_, e, err := c.ExistsW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	_, _, k, err := c.ChildrenW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckWatches(ctx, "/a", keeper.WatchData); err != nil {
		t.Fatalf("CheckWatches data: %v", err)
	}
	if err := c.CheckWatches(ctx, "/a", keeper.WatchChildren); err != nil {
		t.Fatalf("CheckWatches children: %v", err)
	}
	if err := c.RemoveWatches(ctx, "/a", keeper.WatchData); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan keeper.Event{"GetW": g, "ExistsW": e} {
		if ev := recvEvent(t, ch, 5*time.Second, name); ev.Type != keeper.EventDataWatchRemoved || ev.Path != "/a" {
			t.Fatalf("%s: %+v", name, ev)
		}
		oneShotDone(t, ch, name)
	}
	if err := c.CheckWatches(ctx, "/a", keeper.WatchData); !errors.Is(err, keeper.ErrNoWatcher) {
		t.Fatalf("CheckWatches data after removal = %v", err)
	}
	if err := c.CheckWatches(ctx, "/a", keeper.WatchChildren); err != nil {
		t.Fatalf("child watch removed with the data watches: %v", err)
	}
	if err := c.RemoveWatches(ctx, "/a", keeper.WatchAny); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, k, 5*time.Second, "ChildrenW"); ev.Type != keeper.EventChildWatchRemoved {
		t.Fatalf("ChildrenW: %+v", ev)
	}
	oneShotDone(t, k, "ChildrenW")
	waitNoServerWatches(t, c)
	// A removed watch does not fire any more.
	if _, err := c.Create(ctx, "/a/b", nil); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveWatch(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/a", nil); err != nil {
		t.Fatal(err)
	}
	_, _, g1, err := c.GetW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	_, g2, err := c.ExistsW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	_, _, k, err := c.ChildrenW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveWatch(ctx, "/other", g1); !errors.Is(err, keeper.ErrNoWatcher) {
		t.Fatalf("RemoveWatch on the wrong path = %v", err)
	}
	if err := c.RemoveWatch(ctx, "/a", g1); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, g1, 5*time.Second, "removed"); ev.Type != keeper.EventDataWatchRemoved || ev.Path != "/a" {
		t.Fatalf("removed watch got %+v", ev)
	}
	oneShotDone(t, g1, "removed")
	if err := c.RemoveWatch(ctx, "/a", g1); !errors.Is(err, keeper.ErrNoWatcher) {
		t.Fatalf("second RemoveWatch = %v", err)
	}
	// The other data watch still needs the server's watch.
	if err := c.CheckWatches(ctx, "/a", keeper.WatchData); err != nil {
		t.Fatalf("data watch gone from the server: %v", err)
	}
	if err := c.RemoveWatch(ctx, "/a", k); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, k, 5*time.Second, "child"); ev.Type != keeper.EventChildWatchRemoved {
		t.Fatalf("child watch got %+v", ev)
	}
	if err := c.CheckWatches(ctx, "/a", keeper.WatchChildren); !errors.Is(err, keeper.ErrNoWatcher) {
		t.Fatalf("child watch still on the server: %v", err)
	}
	if _, err := c.Set(ctx, "/a", nil, -1); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, g2, 10*time.Second, "kept"); ev.Type != keeper.EventNodeDataChanged {
		t.Fatalf("kept watch got %+v", ev)
	}
	_, _, g3, err := c.GetW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveWatch(ctx, "/a", g3); err != nil {
		t.Fatal(err)
	}
	waitNoServerWatches(t, c)
}

// drain collects the events a Watcher delivers until cond holds.
type drain struct {
	mu  sync.Mutex
	evs []keeper.Event
}

func drainWatcher(w *keeper.Watcher) *drain {
	d := &drain{}
	go func() {
		for ev := range w.Events() {
			d.mu.Lock()
			d.evs = append(d.evs, ev)
			d.mu.Unlock()
		}
	}()
	return d
}

func (d *drain) events() []keeper.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]keeper.Event(nil), d.evs...)
}

// has reports whether an event of type typ on path was seen.
func (d *drain) has(typ keeper.EventType, path string) bool {
	for _, ev := range d.events() {
		if ev.Type == typ && (path == "" || ev.Path == path) {
			return true
		}
	}
	return false
}

func (d *drain) waitFor(t *testing.T, typ keeper.EventType, path string) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%v on %s (have %v)", typ, path, d.events()),
		func() bool { return d.has(typ, path) })
}

func TestWatchPersistent(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	needsAddWatch(t, ctx, c)
	w, err := c.Watch(ctx, "/p", false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Path() != "/p" {
		t.Fatalf("Path() = %q", w.Path())
	}
	d := drainWatcher(w)
	steps := []struct {
		do   func() error
		want keeper.EventType
		path string
	}{
		{func() error { _, err := c.Create(ctx, "/p", nil); return err }, keeper.EventNodeCreated, "/p"},
		{func() error { _, err := c.Set(ctx, "/p", []byte("1"), -1); return err }, keeper.EventNodeDataChanged, "/p"},
		{func() error { _, err := c.Create(ctx, "/p/c", nil); return err }, keeper.EventNodeChildrenChanged, "/p"},
		{func() error { _, err := c.Set(ctx, "/p", []byte("2"), -1); return err }, keeper.EventNodeDataChanged, "/p"},
		{func() error { return c.DeleteAll(ctx, "/p") }, keeper.EventNodeDeleted, "/p"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		d.waitFor(t, s.want, s.path)
	}
	// The child's data and deletion are not reported by a non-recursive
	// watch; the parent's children change is (once more, at DeleteAll).
	want := []keeper.EventType{keeper.EventNodeCreated, keeper.EventNodeDataChanged, keeper.EventNodeChildrenChanged,
		keeper.EventNodeDataChanged, keeper.EventNodeChildrenChanged, keeper.EventNodeDeleted}
	got := d.events()
	if len(got) != len(want) {
		t.Fatalf("events %v, want types %v", got, want)
	}
	for i := range want {
		if got[i].Type != want[i] || got[i].Path != "/p" {
			t.Fatalf("event %d = %+v, want %v on /p (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestWatchRecursive(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	needsAddWatch(t, ctx, c)
	w, err := c.Watch(ctx, "/r", true)
	if err != nil {
		t.Fatal(err)
	}
	d := drainWatcher(w)
	for _, p := range []string{"/r", "/r/a", "/r/a/b"} {
		if _, err := c.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Set(ctx, "/r/a/b", []byte("x"), -1); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "/r/a/b", -1); err != nil {
		t.Fatal(err)
	}
	// A sibling outside the tree is not reported.
	if _, err := c.Create(ctx, "/rx", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/r", []byte("end"), -1); err != nil {
		t.Fatal(err)
	}
	d.waitFor(t, keeper.EventNodeDataChanged, "/r")
	want := []keeper.Event{
		{Type: keeper.EventNodeCreated, Path: "/r"},
		{Type: keeper.EventNodeCreated, Path: "/r/a"},
		{Type: keeper.EventNodeCreated, Path: "/r/a/b"},
		{Type: keeper.EventNodeDataChanged, Path: "/r/a/b"},
		{Type: keeper.EventNodeDeleted, Path: "/r/a/b"},
		{Type: keeper.EventNodeDataChanged, Path: "/r"},
	}
	got := d.events()
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].Path != want[i].Path {
			t.Fatalf("event %d = %+v, want %+v (all %v)", i, got[i], want[i], got)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "Events closed", func() bool {
		select {
		case _, ok := <-w.Events():
			return !ok
		default:
			return false
		}
	})
	if !errors.Is(w.Err(), keeper.ErrClosed) {
		t.Fatalf("Err after Close = %v", w.Err())
	}
	waitNoServerWatches(t, c)
}

func TestWatchResyncAfterReconnect(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, admin := proxied(t)
	needsAddWatch(t, ctx, c)
	w, err := c.Watch(ctx, "/", true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d := drainWatcher(w)
	p.Pause()
	p.Drop()
	waitFor(t, 20*time.Second, "Suspended", func() bool { return c.State() == keeper.Suspended })
	// Made while cut off: not replayed for a persistent watch; Resync
	// tells the consumer to re-read.
	if _, err := admin.Create(ctx, "/missed", nil); err != nil {
		t.Fatal(err)
	}
	p.Resume()
	d.waitFor(t, keeper.EventResync, "/")
	for _, ev := range d.events() {
		if ev.Type == keeper.EventResync && ev.Err != nil {
			t.Fatalf("Resync after a reconnect carries %v", ev.Err)
		}
	}
	if _, err := c.Create(ctx, "/after", nil); err != nil {
		t.Fatal(err)
	}
	d.waitFor(t, keeper.EventNodeCreated, "/after")
}

func TestWatchResyncAfterExpiry(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	needsAddWatch(t, ctx, c)
	w, err := c.Watch(ctx, "/", true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d := drainWatcher(w)
	old := c.SessionID()
	if err := zktest.ExpireSession(ctx, c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "Resync with ErrSessionExpired", func() bool {
		for _, ev := range d.events() {
			if ev.Type == keeper.EventResync && errors.Is(ev.Err, keeper.ErrSessionExpired) {
				return true
			}
		}
		return false
	})
	if c.SessionID() == old {
		t.Fatal("Resync before the new session")
	}
	// Re-added on the new session.
	if _, err := c.Create(ctx, "/after", nil); err != nil {
		t.Fatal(err)
	}
	d.waitFor(t, keeper.EventNodeCreated, "/after")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoServerWatches(t, c)
}

// TestWatchCloseRefcount has two watchers on one path: closing one keeps
// the other's events flowing; closing both leaves no watch on the server.
func TestWatchCloseRefcount(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	needsAddWatch(t, ctx, c)
	if _, err := c.Create(ctx, "/a", nil); err != nil {
		t.Fatal(err)
	}
	for _, recursive := range []bool{false, true} {
		w1, err := c.Watch(ctx, "/a", recursive)
		if err != nil {
			t.Fatal(err)
		}
		w2, err := c.Watch(ctx, "/a", recursive)
		if err != nil {
			t.Fatal(err)
		}
		d2 := drainWatcher(w2)
		if err := w1.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Set(ctx, "/a", []byte("x"), -1); err != nil {
			t.Fatal(err)
		}
		d2.waitFor(t, keeper.EventNodeDataChanged, "/a")
		if len(serverWatches(t, c)) == 0 {
			t.Fatal("server watch removed while a watcher remains")
		}
		if err := w2.Close(); err != nil {
			t.Fatal(err)
		}
		waitNoServerWatches(t, c)
	}
}

// TestSlowConsumerDoesNotBlock has a persistent watcher whose consumer
// takes 10ms per event, and checks that reads on the same client complete
// while that consumer still has a backlog.
func TestSlowConsumerDoesNotBlock(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	needsAddWatch(t, ctx, c)
	if _, err := c.Create(ctx, "/s", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, "/s", false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var consumed atomic.Int64
	go func() {
		for range w.Events() {
			time.Sleep(10 * time.Millisecond)
			consumed.Add(1)
		}
	}()
	const setters, each = 8, 64
	const changes = setters * each
	var wg sync.WaitGroup
	for i := 0; i < setters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := c.Set(ctx, "/s", nil, -1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Every event is queued by now (the server sends an event before the
	// reply of the change that fired it). Reads still complete.
	for i := 0; i < 50; i++ {
		if _, _, err := c.Get(ctx, "/s"); err != nil {
			t.Fatal(err)
		}
	}
	if n := consumed.Load(); n >= changes {
		t.Fatalf("the consumer had no backlog left (%d events consumed)", n)
	}
	waitFor(t, 60*time.Second, "every event consumed", func() bool { return consumed.Load() == changes })
}

func TestMaxQueuedEndsSlowWatcher(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t, keeper.WithMaxQueued(10))
	needsAddWatch(t, ctx, c)
	if _, err := c.Create(ctx, "/q", nil); err != nil {
		t.Fatal(err)
	}
	stuck, err := c.Watch(ctx, "/q", false)
	if err != nil {
		t.Fatal(err)
	}
	fine, err := c.Watch(ctx, "/q", true)
	if err != nil {
		t.Fatal(err)
	}
	df := drainWatcher(fine)
	for i := 0; i < 50; i++ {
		if _, err := c.Set(ctx, "/q", nil, -1); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "the stuck watcher to end", func() bool { return stuck.Err() != nil })
	if !errors.Is(stuck.Err(), keeper.ErrSlowConsumer) {
		t.Fatalf("Err = %v, want ErrSlowConsumer", stuck.Err())
	}
	n := 0
	for range stuck.Events() {
		n++
		if n > 50 {
			t.Fatal("Events not closed")
		}
	}
	// The other watcher goes on: it sees all 50 changes, or, when the
	// removal of the stuck watcher's server-side watch (by "Any" before
	// ZooKeeper 3.9) briefly took its watch too, EventResync saying that it
	// may have missed some.
	changed := func() (n int, resync bool) {
		for _, ev := range df.events() {
			switch ev.Type {
			case keeper.EventNodeDataChanged:
				n++
			case keeper.EventResync:
				resync = true
			}
		}
		return n, resync
	}
	waitFor(t, 20*time.Second, "50 changes or a resync on the other watcher", func() bool {
		n, resync := changed()
		return n == 50 || resync
	})
	if n, _ := changed(); n > 50 {
		t.Fatalf("%d change events for 50 changes", n)
	}
	// And it still reports changes.
	before, _ := changed()
	if _, err := c.Set(ctx, "/q", nil, -1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a change after the slow watcher ended", func() bool {
		n, _ := changed()
		return n > before
	})
	if fine.Err() != nil {
		t.Fatalf("the consuming watcher ended: %v", fine.Err())
	}
	if err := fine.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoServerWatches(t, c)
}

// TestWatchMixedWithOneShot puts a one-shot watch on a path that a
// persistent (recursive) watcher also watches. Before ZooKeeper 3.9 the
// server keeps one watch mode per path and connection, so the one-shot
// would silently turn the persistent watch into a one-shot one: the
// client re-arms it.
func TestWatchMixedWithOneShot(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	needsAddWatch(t, ctx, c)
	for _, recursive := range []bool{false, true} {
		p := fmt.Sprintf("/m%v", recursive)
		if _, err := c.Create(ctx, p, nil); err != nil {
			t.Fatal(err)
		}
		w, err := c.Watch(ctx, p, recursive)
		if err != nil {
			t.Fatal(err)
		}
		d := drainWatcher(w)
		_, _, g, err := c.GetW(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		_, e, err := c.ExistsW(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		_, _, k, err := c.ChildrenW(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Set(ctx, p, []byte("1"), -1); err != nil {
			t.Fatal(err)
		}
		for name, ch := range map[string]<-chan keeper.Event{"GetW": g, "ExistsW": e} {
			if ev := recvEvent(t, ch, 10*time.Second, name); ev.Type != keeper.EventNodeDataChanged {
				t.Fatalf("%s: %+v", name, ev)
			}
		}
		if _, err := c.Create(ctx, p+"/kid", nil); err != nil {
			t.Fatal(err)
		}
		if ev := recvEvent(t, k, 10*time.Second, "ChildrenW"); ev.Type != keeper.EventNodeChildrenChanged {
			t.Fatalf("ChildrenW: %+v", ev)
		}
		if _, err := c.Set(ctx, p, []byte("2"), -1); err != nil {
			t.Fatal(err)
		}
		if recursive {
			if _, err := c.Set(ctx, p+"/kid", []byte("2"), -1); err != nil {
				t.Fatal(err)
			}
			d.waitFor(t, keeper.EventNodeDataChanged, p+"/kid")
		}
		waitFor(t, 20*time.Second, "both data changes", func() bool {
			n := 0
			for _, ev := range d.events() {
				if ev.Type == keeper.EventNodeDataChanged && ev.Path == p {
					n++
				}
			}
			return n == 2
		})
		if err := c.RemoveWatches(ctx, p, keeper.WatchAny); !errors.Is(err, keeper.ErrNoWatcher) {
			t.Fatalf("RemoveWatches with only a persistent watcher = %v, want ErrNoWatcher", err)
		}
		if _, err := c.Set(ctx, p, []byte("3"), -1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "the third data change", func() bool {
			n := 0
			for _, ev := range d.events() {
				if ev.Type == keeper.EventNodeDataChanged && ev.Path == p {
					n++
				}
			}
			return n == 3
		})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	waitNoServerWatches(t, c)
}

// TestWatchCloseKeepsOneShots closes a persistent watcher while one-shot
// watches remain on its path: they still fire, and afterwards the server
// holds no watch of ours.
func TestWatchCloseKeepsOneShots(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c := srv.Client(t)
	needsAddWatch(t, ctx, c)
	other := sameChroot(t, c)
	if _, err := c.Create(ctx, "/a", nil); err != nil {
		t.Fatal(err)
	}
	for _, recursive := range []bool{false, true} {
		w, err := c.Watch(ctx, "/a", recursive)
		if err != nil {
			t.Fatal(err)
		}
		_, _, g, err := c.GetW(ctx, "/a")
		if err != nil {
			t.Fatal(err)
		}
		_, _, k, err := c.ChildrenW(ctx, "/a")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Set(ctx, "/a", nil, -1); err != nil {
			t.Fatal(err)
		}
		if ev := recvEvent(t, g, 10*time.Second, "GetW"); ev.Type != keeper.EventNodeDataChanged {
			t.Fatalf("GetW: %+v", ev)
		}
		if _, err := other.Create(ctx, fmt.Sprintf("/a/%v", recursive), nil); err != nil {
			t.Fatal(err)
		}
		if ev := recvEvent(t, k, 10*time.Second, "ChildrenW"); ev.Type != keeper.EventNodeChildrenChanged {
			t.Fatalf("ChildrenW: %+v", ev)
		}
		waitNoServerWatches(t, c)
	}
}

func TestWatchOnOldServer(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	admin := srv.Client(t)
	addr := oldServer(t, srv.Addr(0))
	c, err := keeper.Connect(ctx, addr+admin.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v := c.ServerVersion(); !v.AtLeast(3, 5, 10) || v.AtLeast(3, 6, 0) {
		t.Fatalf("ServerVersion = %v, want 3.5.10", v)
	}
	log := listen(c)
	sid := c.SessionID()
	if _, err := c.Watch(ctx, "/", true); !errors.Is(err, keeper.ErrUnimplemented) {
		t.Fatalf("Watch on 3.5 = %v, want ErrUnimplemented", err)
	}
	// The connection is intact: one-shot watches and reads work.
	if _, err := c.Create(ctx, "/a", nil); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := c.GetW(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/a", nil, -1); err != nil {
		t.Fatal(err)
	}
	if ev := recvEvent(t, ch, 10*time.Second, "GetW"); ev.Type != keeper.EventNodeDataChanged {
		t.Fatalf("GetW: %+v", ev)
	}
	if c.SessionID() != sid || len(log.states()) != 0 {
		t.Fatalf("connection disturbed: session %x -> %x, states %v", sid, c.SessionID(), log.states())
	}
}

// TestRequestsWhileConnectionDrops sends requests from many goroutines
// while the connection keeps dropping. Under -race it catches the writer
// touching a request (its frame) after putting it in the pending FIFO,
// where a failing connection may already have completed it and its caller
// recycled it.
func TestRequestsWhileConnectionDrops(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	c, p, _ := proxied(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = c.Exists(ctx, "/x")
			}
		}()
	}
	for i := 0; i < 200; i++ {
		waitFor(t, 20*time.Second, "connected", func() bool { return c.State() == keeper.Connected })
		time.Sleep(time.Millisecond) // let requests flow
		p.Drop()
	}
	close(stop)
	wg.Wait()
}
