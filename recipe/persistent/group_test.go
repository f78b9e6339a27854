package persistent_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/node"
	"github.com/keeper-go/keeper/recipe/persistent"
)

func TestGroupMember(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	c2 := testutil.Connect(t, srv, c)
	a, err := persistent.NewGroupMember(ctx, c, "/group", "a", []byte("pa"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := persistent.NewGroupMember(ctx, c2, "/group", "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	want := map[string][]byte{"a": []byte("pa"), "b": []byte(node.LocalAddress())}
	for _, g := range []*persistent.GroupMember{a, b} {
		testutil.WaitFor(t, time.Minute, g.ID()+" sees both", func() bool {
			return maps.EqualFunc(g.CurrentMembers(), want, slices.Equal)
		})
	}
	if st := stat(t, c, "/group/a"); st == nil || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("/group/a: %+v", st)
	}
	if err := a.SetData(ctx, []byte("pa2")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "b sees a's new payload", func() bool {
		return string(b.CurrentMembers()["a"]) == "pa2"
	})
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, "b alone", func() bool { return slices.Equal(b.MemberIDs(), []string{"b"}) })
	if stat(t, c2, "/group/a") != nil {
		t.Fatal("a's node left after Close")
	}
	if id := b.IDFromPath("/group/x"); id != "x" {
		t.Fatalf("IDFromPath = %q", id)
	}
}

func TestGroupMemberBadID(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	for _, id := range []string{"", "a/b", ".."} {
		if g, err := persistent.NewGroupMember(ctx, c, "/group", id, nil); err == nil {
			_ = g.Close(ctx)
			t.Errorf("id %q accepted", id)
		}
	}
}
