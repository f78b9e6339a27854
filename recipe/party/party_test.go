package party_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/party"
)

// membersOf polls m until it lists want (in any order) and Len agrees.
func waitMembers(t *testing.T, what string, members func(context.Context) ([]string, error), length func(context.Context) (int, error), want ...string) {
	t.Helper()
	ctx := testutil.Ctx(t, 0)
	want = slices.Sorted(slices.Values(want))
	var got []string
	var n int
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		got, err = members(ctx)
		if err != nil {
			t.Fatalf("%s: members: %v", what, err)
		}
		n, err = length(ctx)
		if err != nil {
			t.Fatalf("%s: len: %v", what, err)
		}
		slices.Sort(got)
		if slices.Equal(got, want) && n == len(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: members %q (len %d), want %q", what, got, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPartyAcrossClients(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	clients := []*keeper.Client{c0, testutil.Connect(t, srv, c0), testutil.Connect(t, srv, c0)}
	ids := []string{"alpha", "beta", "gamma ünïcode"}
	var ps []*party.Party
	for i, c := range clients {
		p := party.New(c, "/p/web", ids[i])
		if err := p.Join(ctx); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	// Joining twice is harmless.
	if err := ps[0].Join(ctx); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		waitMembers(t, "member "+ids[i], p.Members, p.Len, ids...)
	}
	// Kazoo's layout: <uuid hex>__party__, ephemeral, identifier as data.
	kids, err := c0.Children(ctx, "/p/web")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if len(k) != 32+len("__party__") || !strings.HasSuffix(k, "__party__") {
			t.Errorf("member node %q is not <uuid hex>__party__", k)
		}
	}
	// A child that is not a member is ignored.
	if _, err := c0.Create(ctx, "/p/web/other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, "with a foreign child", ps[1].Members, ps[1].Len, ids...)
	if err := c0.Delete(ctx, "/p/web/other", -1); err != nil {
		t.Fatal(err)
	}

	if err := ps[1].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ps[1].Leave(ctx); err != nil {
		t.Fatalf("second leave: %v", err)
	}
	waitMembers(t, "after beta left", ps[2].Members, ps[2].Len, "alpha", "gamma ünïcode")
	// A member whose client closes drops out.
	clients[2].Close()
	waitMembers(t, "after gamma's client closed", ps[0].Members, ps[0].Len, "alpha")
	if err := ps[0].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, "empty", ps[0].Members, ps[0].Len)
	testutil.AssertClean(t, srv, "/p/web", c0)
}

func TestPartyMissingPath(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	p := party.New(c, "/nothing/here", "x")
	if m, err := p.Members(ctx); err != nil || len(m) != 0 {
		t.Fatalf("Members = %q, %v; want none", m, err)
	}
	if n, err := p.Len(ctx); err != nil || n != 0 {
		t.Fatalf("Len = %d, %v; want 0", n, err)
	}
	if err := p.Leave(ctx); err != nil {
		t.Fatalf("Leave before Join: %v", err)
	}
	if st, err := c.Exists(ctx, "/nothing"); err != nil || st != nil {
		t.Fatalf("reading created nodes: %v %v", st, err)
	}
}

func TestShallowParty(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0 := srv.Client(t)
	c1 := testutil.Connect(t, srv, c0)
	a := party.NewShallow(c0, "/sp", "host-a:80")
	b := party.NewShallow(c1, "/sp", "host-b:80")
	for _, p := range []*party.ShallowParty{a, b} {
		if err := p.Join(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitMembers(t, "a", a.Members, a.Len, "host-a:80", "host-b:80")
	data, st, err := c0.Get(ctx, a.Node())
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "host-a:80" || st.EphemeralOwner != c0.SessionID() {
		t.Fatalf("node %s: data %q owner %x", a.Node(), data, st.EphemeralOwner)
	}
	name := a.Node()[strings.LastIndex(a.Node(), "/")+1:]
	if len(name) != 33+len("host-a:80") || name[32] != '-' {
		t.Fatalf("node name %q is not <uuid hex>-<identifier>", name)
	}
	bad := party.NewShallow(c0, "/sp", "a/b")
	if err := bad.Join(ctx); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("Join with a '/' in the identifier: %v", err)
	}
	for _, p := range []*party.ShallowParty{a, b} {
		if err := p.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitMembers(t, "empty", a.Members, a.Len)
	testutil.AssertClean(t, srv, "/sp", c0)
}

func TestPartyRejoinsAfterSessionExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c, px := testutil.Proxied(t, srv)
	p := party.New(c, "/p", "me")
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	old := c.SessionID()
	testutil.Expire(t, ctx, c, px)
	testutil.WaitFor(t, 30*time.Second, "the member back on the new session", func() bool {
		st, err := c.Exists(ctx, p.Node())
		return err == nil && st != nil && st.EphemeralOwner == c.SessionID() && st.EphemeralOwner != old
	})
	waitMembers(t, "after re-join", p.Members, p.Len, "me")
	if err := p.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	// Left: a further session loss does not bring it back.
	testutil.Expire(t, ctx, c, px)
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "a new session", func() bool { return c.SessionID() != old && c.State() == keeper.Connected })
	testutil.AssertClean(t, srv, "/p", c)
}

func TestPartyJoinLostReply(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c0, px, c := testutil.DirectAndProxied(t, srv)
	p := party.New(c, "/p", "lost-reply")
	if err := c.EnsurePath(ctx, "/p"); err != nil {
		t.Fatal(err)
	}
	px.DropNextReply() // the create's reply: the node exists, the client does not know
	if err := p.Join(ctx); err != nil {
		t.Fatal(err)
	}
	kids, err := c0.Children(ctx, "/p")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 1 {
		t.Fatalf("children after a lost reply: %q, want one node", kids)
	}
	st, err := c0.Exists(ctx, p.Node())
	if err != nil || st == nil || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("member node: %v %v", st, err)
	}
	if err := p.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.AssertClean(t, srv, "/p", c0)
}

func TestPartyJoinCancelled(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := party.New(c, "/p", "x")
	if err := p.Join(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Join with a cancelled ctx: %v", err)
	}
	testutil.AssertClean(t, srv, "/p", c)
}
