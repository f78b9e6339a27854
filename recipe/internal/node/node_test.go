package node

import (
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
)

func TestProtectedCreate(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	prefix := UUIDHex() + "__lock__"
	p, err := ProtectedCreate(ctx, c, "/a/b/lock", prefix, []byte("id"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, "/a/b/lock/"+prefix) {
		t.Fatalf("path %q", p)
	}
	if _, ok := SeqAfter(path.Base(p), "__lock__"); !ok {
		t.Fatalf("no sequence in %q", p)
	}
	data, st, err := c.Get(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "id" || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("data %q owner %x, want id and %x", data, st.EphemeralOwner, c.SessionID())
	}
	if err := CheckOwner(ctx, c, p); err != nil {
		t.Fatal(err)
	}
	// Persistent, non-sequential, as opts say.
	q, err := ProtectedCreate(ctx, c, "/a/b/lock", "plain", nil, keeper.MakeParents())
	if err != nil || q != "/a/b/lock/plain" {
		t.Fatalf("ProtectedCreate persistent = %q, %v", q, err)
	}
	if err := CheckOwner(ctx, c, q); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("CheckOwner(persistent) = %v, want ErrNotOwner", err)
	}
	if err := CheckOwner(ctx, c, "/a/none"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("CheckOwner(missing) = %v, want ErrNotOwner", err)
	}
}

// TestProtectedCreateLostReply loses the reply to the create: exactly one
// node must exist afterwards, and it is the one returned.
func TestProtectedCreateLostReply(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, p := testutil.Proxied(t, srv)
	if err := c.EnsurePath(ctx, "/lock"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		prefix := UUIDHex() + "__lock__"
		p.DropNextReply()
		got, err := ProtectedCreate(ctx, c, "/lock", prefix, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		kids, err := c.Children(ctx, "/lock")
		if err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, k := range kids {
			if strings.HasPrefix(k, prefix) {
				ours = append(ours, k)
			}
		}
		if len(ours) != 1 || "/lock/"+ours[0] != got {
			t.Fatalf("round %d: returned %q, nodes with our prefix %q", i, got, ours)
		}
		if len(kids) != i+1 {
			t.Fatalf("round %d: %d children %q", i, len(kids), kids)
		}
	}
}

// TestFindDropsOtherSessionsNode: a node with our prefix left by another
// session is deleted and not adopted.
func TestFindDropsOtherSessionsNode(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	other, err := keeper.Connect(ctx, srv.Servers()+c.Chroot())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	prefix := UUIDHex() + "__lock__"
	old, err := ProtectedCreate(ctx, other, "/l", prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Find(ctx, c, "/l", prefix)
	if err != nil || got != "" {
		t.Fatalf("Find = %q, %v; want nothing", got, err)
	}
	if st, err := c.Exists(ctx, old); err != nil || st != nil {
		t.Fatalf("the other session's node is still there: %v, %v", st, err)
	}
}

func TestFenceRelease(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	p, err := ProtectedCreate(ctx, c, "/f", UUIDHex()+"__lock__", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFence(c, p, 0, nil)
	if !f.Held() {
		t.Fatalf("fence ended at once: %v", f.Err())
	}
	// Wait until the fence's watch is on the server, then stop and delete.
	testutil.WaitFor(t, 30*time.Second, "the fence's watch", func() bool {
		return c.CheckWatches(ctx, p, keeper.WatchData) == nil
	})
	ws, err := testutil.Watches(ctx, srv.Addr(0), c.SessionID())
	if err != nil || len(ws) != 1 || ws[0] != c.Chroot()+p {
		t.Fatalf("wchc = %q, %v; want [%s]", ws, err, c.Chroot()+p)
	}
	if err := f.Stop(); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	select {
	case <-f.Lost():
	default:
		t.Fatal("Lost not closed after Stop")
	}
	if err := c.Delete(ctx, p, keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckWatches(ctx, p, keeper.WatchData); !errors.Is(err, keeper.ErrNoWatcher) {
		t.Fatalf("CheckWatches after delete = %v, want ErrNoWatcher", err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

func TestFenceNodeDeleted(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	p, err := ProtectedCreate(ctx, c, "/f", UUIDHex()+"__lock__", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFence(c, p, 0, nil)
	defer f.Stop()
	testutil.WaitFor(t, 30*time.Second, "the fence's watch", func() bool {
		return c.CheckWatches(ctx, p, keeper.WatchData) == nil
	})
	if err := c.Delete(ctx, p, keeper.AnyVersion); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Lost():
	case <-ctx.Done():
		t.Fatal("Lost not closed after the node was deleted")
	}
	if err := f.Err(); !errors.Is(err, ErrGone) {
		t.Fatalf("Err = %v, want ErrGone", err)
	}
}

func TestFenceSessionExpired(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	p, err := ProtectedCreate(ctx, c, "/f", UUIDHex()+"__lock__", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFence(c, p, 0, nil)
	defer f.Stop()
	testutil.Expire(t, ctx, c, px)
	select {
	case <-f.Lost():
	case <-ctx.Done():
		t.Fatal("Lost not closed after the session expired")
	}
	if err := f.Err(); !errors.Is(err, keeper.ErrSessionExpired) {
		t.Fatalf("Err = %v, want ErrSessionExpired", err)
	}
	select {
	case <-f.Suspended():
	default:
		t.Fatal("Suspended not closed at the end")
	}
}

// TestFenceReconnect: after a disconnect with the same session the fence
// checks the node again and keeps holding it.
func TestFenceReconnect(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	p, err := ProtectedCreate(ctx, c, "/f", UUIDHex()+"__lock__", nil)
	if err != nil {
		t.Fatal(err)
	}
	reconnected := make(chan struct{}, 8)
	f := NewFence(c, p, 0, func(ev keeper.StateEvent) {
		if ev.State == keeper.Connected {
			reconnected <- struct{}{}
		}
	})
	defer f.Stop()
	// Taken before the drop: the reconnect and the check after it may be
	// done before this goroutine runs again, and then Suspended returns the
	// channel for the next disconnect.
	suspended := f.Suspended()
	px.Drop()
	select {
	case <-suspended:
	case <-ctx.Done():
		t.Fatal("Suspended not closed after a drop")
	}
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("no reconnect")
	}
	if err := CheckOwner(ctx, c, p); err != nil {
		t.Fatal(err)
	}
	if !f.Held() {
		t.Fatalf("fence ended after a reconnect: %v", f.Err())
	}
}

func TestFenceOtherSession(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	p, err := ProtectedCreate(ctx, c, "/f", UUIDHex()+"__lock__", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A fence for a session that is not the client's ends at once.
	f := NewFence(c, p, c.SessionID()+1, nil)
	defer f.Stop()
	select {
	case <-f.Lost():
	case <-ctx.Done():
		t.Fatal("Lost not closed for a foreign session")
	}
	if err := f.Err(); !errors.Is(err, keeper.ErrSessionExpired) {
		t.Fatalf("Err = %v", err)
	}
}

// A create whose reply is lost while its directory does not exist must not
// loop looking for a node that cannot be there.
func TestProtectedCreateLostReplyMissingDir(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, p := testutil.Proxied(t, srv)
	// The reply lost is the create's NoNode: it was never applied.
	p.DropNextReply()
	got, err := ProtectedCreate(ctx, c, "/missing/dir", UUIDHex()+"__lock__", nil)
	if err != nil {
		t.Fatalf("ProtectedCreate: %v", err)
	}
	kids, err := c.Children(ctx, "/missing/dir")
	if err != nil || len(kids) != 1 || "/missing/dir/"+kids[0] != got {
		t.Fatalf("children %v (%v), created %q", kids, err, got)
	}
}
