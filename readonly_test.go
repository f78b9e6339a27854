package keeper_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

func TestXidWrapAround(t *testing.T) {
	t.Parallel()
	c := srv.Client(t, keeper.WithInitialXid(math.MaxInt32-50))
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				if _, err := c.Exists(ctx, "/"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("across the xid wrap-around: %v", err)
	}
	if c.State() != keeper.Connected {
		t.Fatalf("state %v", c.State())
	}
}

// TestNoGoroutinesAfterClose runs alone (not parallel): it counts the
// client's goroutines before and after a busy life.
func TestNoGoroutinesAfterClose(t *testing.T) {
	ctx := ctxT(t)
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		c, err := keeper.Connect(ctx, srv.Servers())
		if err != nil {
			t.Fatal(err)
		}
		c.Listen(func(keeper.StateEvent) {})
		// Persistent watches need 3.6; before, Watch must fail without a goroutine.
		_, err = c.Watch(ctx, "/", true)
		if err != nil && (c.ServerVersion().AtLeast(3, 6, 0) || !errors.Is(err, keeper.ErrUnimplemented)) {
			t.Fatal(err)
		}
		if _, _, err := c.ExistsW(ctx, "/no-such-node"); err != nil {
			t.Fatal(err)
		}
		if keeper.CountKeeperGoroutines() == 0 {
			t.Fatal("no goroutines counted while a client runs")
		}
		c.Close()
	}
	waitFor(t, 10*time.Second, "goroutines to exit", func() bool {
		return runtime.NumGoroutine() <= before && keeper.CountKeeperGoroutines() == 0
	})
}

func TestReadOnlyMode(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	cl := zktest.Start(t, zktest.Nodes(3),
		zktest.JVMFlag("-Dreadonlymode.enabled=true"),
		zktest.Config("localSessionsEnabled", "true"),
		zktest.Config("localSessionsUpgradingEnabled", "true"))
	// A read-write client, connected to the member that will survive.
	rw, err := keeper.Connect(ctx, cl.Addr(0), keeper.WithReadOnly(true), keeper.WithSessionTimeout(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	rwLog := listen(rw)
	if rw.State() != keeper.Connected {
		t.Fatalf("state %v", rw.State())
	}
	if _, err := rw.Create(ctx, "/data", []byte("v"), keeper.MakeParents()); err != nil {
		t.Fatal(err)
	}
	rwSession := rw.SessionID()
	if err := cl.Kill(1); err != nil {
		t.Fatal(err)
	}
	if err := cl.Kill(2); err != nil {
		t.Fatal(err)
	}
	// Member 0 serves read-only once it has noticed the lost quorum; until
	// then it may still accept a session as a read-write member would.
	waitFor(t, 30*time.Second, "member 0 to serve read-only", func() bool {
		out, err := keeper.Command(ctx, cl.Addr(0), "isro")
		if err != nil {
			return false
		}
		ro, err := keeper.ParseIsro(out)
		return err == nil && ro
	})
	// A new client takes a read-only session at once.
	ro, err := keeper.Connect(ctx, cl.Servers(), keeper.WithReadOnly(true))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	roLog := listen(ro)
	if ro.State() != keeper.ConnectedReadOnly {
		t.Fatalf("new client state %v, want ConnectedReadOnly", ro.State())
	}
	if d, _, err := ro.Get(ctx, "/data"); err != nil || string(d) != "v" {
		t.Fatalf("read on a read-only server: %q %v", d, err)
	}
	if _, err := ro.Create(ctx, "/w", nil); !errors.Is(err, keeper.ErrNotReadOnly) {
		t.Fatalf("write on a read-only server: %v", err)
	}
	if err := ro.Sync(ctx, "/data"); !errors.Is(err, keeper.ErrNotReadOnly) {
		t.Fatalf("sync on a read-only server: %v", err)
	}
	// The read-write client falls back to read-only once its session is
	// declared lost.
	waitFor(t, 60*time.Second, "the read-write client to go read-only", func() bool {
		return rw.State() == keeper.ConnectedReadOnly
	})
	if ev, ok := rwLog.has(keeper.Lost); !ok || ev.SessionID != rwSession {
		t.Fatalf("no Lost event for the read-write session: %v", rwLog.states())
	}
	if _, _, err := rw.Get(ctx, "/data"); err != nil {
		t.Fatal(err)
	}
	// Quorum back: both find a read-write server by themselves.
	if err := cl.Restart(1); err != nil {
		t.Fatal(err)
	}
	if err := cl.Restart(2); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*keeper.Client{"ro": ro, "rw": rw} {
		waitFor(t, 90*time.Second, name+" back to read-write", func() bool {
			return c.State() == keeper.Connected
		})
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := c.Create(wctx, "/from-"+name, nil)
		cancel()
		if err != nil {
			t.Fatalf("%s write after recovery: %v", name, err)
		}
	}
	if _, ok := roLog.has(keeper.Lost); !ok {
		t.Fatalf("the read-only session was not reported Lost: %v", roLog.states())
	}
}
