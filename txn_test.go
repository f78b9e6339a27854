package keeper_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
)

func TestTxnCommit(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	if _, err := c.Create(ctx, "/old", []byte("x")); err != nil {
		t.Fatal(err)
	}
	st, err := c.Set(ctx, "/old", []byte("y"), keeper.AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	var cst keeper.Stat
	res, err := c.Txn().
		Create("/dir", nil).
		Create("/dir/seq-", []byte("s"), keeper.Sequential(), keeper.StoreStat(&cst)).
		Check("/old", st.Version).
		Set("/old", []byte("z"), st.Version).
		Delete("/old", st.Version+1).
		Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Fatalf("got %d results: %+v", len(res), res)
	}
	wantOps := []string{"create", "create", "check", "set", "delete"}
	for i, r := range res {
		if r.Op != wantOps[i] {
			t.Errorf("result %d op = %q, want %q", i, r.Op, wantOps[i])
		}
	}
	if res[0].Path != "/dir" || !strings.HasPrefix(res[1].Path, "/dir/seq-") || len(res[1].Path) != len("/dir/seq-")+10 {
		t.Errorf("created paths %q %q (chroot must be stripped, suffix kept)", res[0].Path, res[1].Path)
	}
	if res[3].Stat == nil || res[3].Stat.Version != st.Version+1 {
		t.Errorf("set result stat = %+v", res[3].Stat)
	}
	if res[2].Stat != nil || res[4].Stat != nil {
		t.Errorf("check/delete results carry a Stat: %+v", res)
	}
	// 3.8.0 sends no Stat for a create inside a multi; newer servers do.
	if res[1].Stat != nil && cst.Czxid != res[1].Stat.Czxid {
		t.Errorf("StoreStat not filled from %+v", res[1].Stat)
	}
	if data, _, err := c.Get(ctx, res[1].Path); err != nil || string(data) != "s" {
		t.Fatalf("Get created node = %q, %v", data, err)
	}
	if st, err := c.Exists(ctx, "/old"); err != nil || st != nil {
		t.Fatalf("/old still there: %+v, %v", st, err)
	}
}

func TestTxnFailureRollsBack(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	if _, err := c.Create(ctx, "/n", []byte("v0")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Txn().
		Create("/a", nil).
		Set("/n", []byte("v1"), 7). // wrong version
		Delete("/n", keeper.AnyVersion).
		Commit(ctx)
	if !errors.Is(err, keeper.ErrBadVersion) {
		t.Fatalf("Commit: %v, want ErrBadVersion", err)
	}
	var te *keeper.TxnError
	if !errors.As(err, &te) {
		t.Fatalf("Commit error %T is not a *TxnError", err)
	}
	if te.Index != 1 || len(te.Errs) != 3 {
		t.Fatalf("TxnError = %+v", te)
	}
	if te.Errs[0] != nil {
		t.Errorf("op 0 error = %v, want nil", te.Errs[0])
	}
	var ke *keeper.Error
	if !errors.As(te.Errs[1], &ke) || ke.Op != "set" || ke.Path != "/n" || ke.Code != keeper.CodeBadVersion {
		t.Errorf("op 1 error = %#v", te.Errs[1])
	}
	if !errors.Is(te.Errs[2], keeper.ErrRuntimeInconsistency) {
		t.Errorf("op 2 error = %v, want ErrRuntimeInconsistency", te.Errs[2])
	}
	if !strings.Contains(err.Error(), "op 1 of 3") || !strings.Contains(err.Error(), "set /n") ||
		strings.Count(err.Error(), "keeper:") != 1 {
		t.Errorf("message %q", err)
	}
	// Nothing was applied.
	if st, err := c.Exists(ctx, "/a"); err != nil || st != nil {
		t.Fatalf("/a created by a failed txn: %+v, %v", st, err)
	}
	if data, _, err := c.Get(ctx, "/n"); err != nil || string(data) != "v0" {
		t.Fatalf("/n = %q, %v", data, err)
	}

	// The failing op may be the first one.
	_, err = c.Txn().Check("/missing", keeper.AnyVersion).Create("/b", nil).Commit(ctx)
	if !errors.As(err, &te) || te.Index != 0 || !errors.Is(err, keeper.ErrNoNode) ||
		!errors.Is(te.Errs[1], keeper.ErrRuntimeInconsistency) {
		t.Fatalf("Commit: %v", err)
	}
}

func TestTxnCreateModes(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	res, err := c.Txn().
		Create("/eph", nil, keeper.Ephemeral()).
		Create("/cont", nil, keeper.Container()).
		Create("/ttl", nil, keeper.TTL(time.Hour)).
		Create("/acl", nil, keeper.WithACL(keeper.ReadACL()...)).
		Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("results %+v", res)
	}
	st, err := c.Exists(ctx, "/eph")
	if err != nil || st == nil || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("ephemeral: %+v, %v", st, err)
	}
	for _, p := range []string{"/cont", "/ttl"} {
		if st, err := c.Exists(ctx, p); err != nil || st == nil {
			t.Fatalf("%s: %+v, %v", p, st, err)
		}
	}
	acl, _, err := c.ACL(ctx, "/acl")
	if err != nil || !slices.Equal(acl, keeper.ReadACL()) {
		t.Fatalf("ACL = %v, %v", acl, err)
	}
}

func TestTxnMisuse(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)

	cases := []struct {
		name string
		txn  *keeper.Txn
		idx  int
		want error
	}{
		{"bad path", c.Txn().Create("/ok", nil).Set("no-slash", nil, -1), 1, keeper.ErrInvalidPath},
		{"trailing slash", c.Txn().Delete("/a/", -1), 0, keeper.ErrInvalidPath},
		{"delete root", c.Txn().Delete("/", -1), 0, keeper.ErrInvalidPath},
		{"check bad path", c.Txn().Check("//x", 0), 0, keeper.ErrInvalidPath},
		{"ephemeral container", c.Txn().Create("/x", nil, keeper.Container(), keeper.Ephemeral()), 0, keeper.ErrBadArguments},
		{"ttl ephemeral", c.Txn().Create("/x", nil, keeper.TTL(time.Minute), keeper.Ephemeral()), 0, keeper.ErrBadArguments},
		{"tiny ttl", c.Txn().Create("/x", nil, keeper.TTL(time.Microsecond)), 0, keeper.ErrBadArguments},
		{"make parents", c.Txn().Create("/p/q", nil, keeper.MakeParents()), 0, keeper.ErrBadArguments},
		{"empty acl", c.Txn().Create("/x", nil, keeper.WithACL()), 0, keeper.ErrBadArguments},
		{"first misuse wins", c.Txn().Set("bad", nil, 0).Delete("bad", 0), 0, keeper.ErrInvalidPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.txn.Commit(ctx)
			var te *keeper.TxnError
			if !errors.As(err, &te) || te.Index != tc.idx || !errors.Is(err, tc.want) {
				t.Fatalf("Commit: %v (%#v), want op %d failing with %v", err, err, tc.idx, tc.want)
			}
			if !keeper.SafeToRetry(err) && errors.Is(err, keeper.ErrInvalidPath) {
				t.Errorf("a client-side error must be safe to retry")
			}
		})
	}
	if st, err := c.Exists(ctx, "/ok"); err != nil || st != nil {
		t.Fatalf("a txn with a misuse sent its ops: %+v, %v", st, err)
	}

	// Empty: no results, nothing sent. A second Commit fails.
	txn := c.Txn()
	res, err := txn.Commit(ctx)
	if err != nil || res == nil || len(res) != 0 {
		t.Fatalf("empty Commit = %v, %v", res, err)
	}
	if _, err := txn.Commit(ctx); err == nil {
		t.Fatal("second Commit succeeded")
	}
}

func TestMultiGet(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	ctx := ctxT(t)
	needsMultiRead(t, ctx, c)

	for _, p := range []string{"/a", "/a/x", "/a/y", "/b"} {
		if _, err := c.Create(ctx, p, []byte("data"+p)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.MultiGet(ctx, "/a", "/missing", "/b")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("results %+v", res)
	}
	if res[0].Path != "/a" || string(res[0].Data) != "data/a" || res[0].Stat == nil || res[0].Stat.NumChildren != 2 || res[0].Err != nil {
		t.Errorf("result 0 = %+v", res[0])
	}
	var ke *keeper.Error
	if !errors.Is(res[1].Err, keeper.ErrNoNode) || !errors.As(res[1].Err, &ke) || ke.Path != "/missing" || res[1].Stat != nil {
		t.Errorf("result 1 = %+v", res[1])
	}
	if string(res[2].Data) != "data/b" {
		t.Errorf("result 2 = %+v", res[2])
	}

	cres, err := c.MultiChildren(ctx, "/a", "/b", "/missing")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(cres[0].Children)
	if !slices.Equal(cres[0].Children, []string{"x", "y"}) || cres[1].Children == nil || len(cres[1].Children) != 0 ||
		!errors.Is(cres[2].Err, keeper.ErrNoNode) {
		t.Fatalf("MultiChildren = %+v", cres)
	}

	if res, err := c.MultiGet(ctx); err != nil || len(res) != 0 {
		t.Fatalf("empty MultiGet = %v, %v", res, err)
	}
	if _, err := c.MultiGet(ctx, "/a", "bad"); !errors.Is(err, keeper.ErrInvalidPath) {
		t.Fatalf("MultiGet with a bad path: %v", err)
	}
}
