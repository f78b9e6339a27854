package lease

import (
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/internal/interop"
)

var recordRe = regexp.MustCompile(`^\{"version": 1, "holder": "[^"]*", "end": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"\}$`)

// TestEncodeMatchesPython compares Encode with Python's json.dumps of the
// same record, as Kazoo writes it.
func TestEncodeMatchesPython(t *testing.T) {
	t.Parallel()
	ids := []string{"host-a", "", `quote " backslash \ slash /`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f", "héllo wörld", "日本", "emoji 😀", "<>&'"}
	end := time.Date(2026, 11, 22, 22, 57, 22, 999_000_000, time.UTC)
	in, _ := json.Marshal(ids)
	script := `import json, sys
for i in json.loads(sys.stdin.read()):
    print(json.dumps({"version": 1, "holder": i, "end": "2026-11-22T22:57:22"}))`
	cmd := exec.Command(interop.Python, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v (install it with scripts/install-zookeeper)", interop.Python, err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) != len(ids) {
		t.Fatalf("python printed %d lines for %d ids", len(want), len(ids))
	}
	for i, id := range ids {
		got := string(Encode(Holder{Version: 1, Holder: id, End: end}))
		if got != want[i] {
			t.Errorf("Encode(%q) = %s\n  python: %s", id, got, want[i])
		}
		h, err := Decode([]byte(got))
		if err != nil || h.Holder != id || !h.End.Equal(end.Truncate(time.Second)) {
			t.Errorf("Decode(Encode(%q)) = %+v, %v", id, h, err)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "{", `{"holder": "a"}`, `{"version": 1, "holder": "a"}`, `{"version": 1, "holder": "a", "end": "tomorrow"}`, `[]`} {
		if _, err := Decode([]byte(bad)); !errors.Is(err, ErrBadHolder) {
			t.Errorf("Decode(%q) = %v, want ErrBadHolder", bad, err)
		}
	}
	h, err := Decode([]byte(`{"version": 2, "whatever": true}`))
	if err != nil || h.Version != 2 {
		t.Fatalf("newer version: %+v, %v", h, err)
	}
}

func TestNonBlockingLease(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	c2 := testutil.Connect(t, srv, c)
	const d = 2 * time.Second
	ok, err := NonBlockingLease(ctx, c, "/lease", time.Hour, "a")
	if err != nil || !ok {
		t.Fatalf("first = %v, %v", ok, err)
	}
	data, st, err := c.Get(ctx, "/lease/lease_holder")
	if err != nil || !recordRe.Match(data) || st.EphemeralOwner != 0 {
		t.Fatalf("holder node %q (owner %x), %v", data, st.EphemeralOwner, err)
	}
	h, err := Read(ctx, c, "/lease")
	if err != nil || h.Holder != "a" {
		t.Fatalf("Read = %+v, %v", h, err)
	}
	// The end is the server's time (the path's mtime) plus the duration.
	pst, err := c.Exists(ctx, "/lease")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.UnixMilli(pst.Mtime).UTC().Add(time.Hour).Truncate(time.Second); !h.End.Equal(want) {
		t.Fatalf("end %v, want the server's mtime + 1h = %v", h.End, want)
	}
	if ok, err := NonBlockingLease(ctx, c2, "/lease", d, "b"); ok || err != nil {
		t.Fatalf("other holder within the lease = %v, %v", ok, err)
	}
	// The holder renews, here with a short duration.
	if ok, err := NonBlockingLease(ctx, c, "/lease", d, "a"); !ok || err != nil {
		t.Fatalf("renew = %v, %v", ok, err)
	}
	testutil.WaitFor(t, 30*time.Second, "the lease to end for b", func() bool {
		ok, err := NonBlockingLease(ctx, c2, "/lease", time.Hour, "b")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	if ok, err := NonBlockingLease(ctx, c, "/lease", d, "a"); ok || err != nil {
		t.Fatalf("a after b took it = %v, %v", ok, err)
	}
	// Only the holder node is left: the lock nodes are gone.
	kids, err := c.Children(ctx, "/lease")
	if err != nil || len(kids) != 1 || kids[0] != HolderNode {
		t.Fatalf("children %q, %v", kids, err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
	testutil.NoWatches(t, srv.Addr(0), c2.SessionID())
}

func TestLeaseNewerVersion(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	if _, err := c.Create(ctx, "/lease/lease_holder", []byte(`{"version": 2}`), keeper.MakeParents()); err != nil {
		t.Fatal(err)
	}
	if ok, err := NonBlockingLease(ctx, c, "/lease", time.Second, "a"); ok || err != nil {
		t.Fatalf("lease of a newer format = %v, %v", ok, err)
	}
	if _, err := c.Set(ctx, "/lease/lease_holder", []byte("junk"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := NonBlockingLease(ctx, c, "/lease", time.Second, "a"); !errors.Is(err, ErrBadHolder) {
		t.Fatalf("junk holder = %v", err)
	}
	if _, err := NonBlockingLease(ctx, c, "/lease", 0, "a"); err == nil {
		t.Fatal("zero duration accepted")
	}
}

func TestMultiNonBlockingLease(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	for _, id := range []string{"a", "b"} {
		if ok, err := MultiNonBlockingLease(ctx, c, "/ml", 2, time.Hour, id); !ok || err != nil {
			t.Fatalf("%s = %v, %v", id, ok, err)
		}
	}
	if ok, err := MultiNonBlockingLease(ctx, c, "/ml", 2, time.Hour, "c"); ok || err != nil {
		t.Fatalf("third of two = %v, %v", ok, err)
	}
	// Renewal finds the holder's own slot.
	if ok, err := MultiNonBlockingLease(ctx, c, "/ml", 2, time.Hour, "b"); !ok || err != nil {
		t.Fatalf("renew b = %v, %v", ok, err)
	}
	for i, want := range []string{"a", "b"} {
		h, err := Read(ctx, c, "/ml/"+string(rune('0'+i)))
		if err != nil || h.Holder != want {
			t.Fatalf("slot %d: %+v, %v", i, h, err)
		}
	}
}

func TestKazooLease(t *testing.T) {
	t.Parallel()
	interop.EachKazoo(t, testKazooLease)
}

func testKazooLease(t *testing.T, kazoo interop.Peer) {
	t.Parallel()
	ctx := testutil.Ctx(t, 0)
	c := srv.Client(t)
	k := kazoo.Start(t, srv.Servers()+c.Chroot())
	// Kazoo holds: we do not get it; Kazoo renews.
	k.Send(t, "lease /kl 3600 kazoo")
	k.Await(t, "lease True")
	data, _, err := c.Get(ctx, "/kl/lease_holder")
	if err != nil || !recordRe.Match(data) {
		t.Fatalf("Kazoo's record %q, %v", data, err)
	}
	if ok, err := NonBlockingLease(ctx, c, "/kl", time.Hour, "keeper"); ok || err != nil {
		t.Fatalf("ours while Kazoo holds = %v, %v", ok, err)
	}
	k.Send(t, "lease /kl 3600 kazoo")
	k.Await(t, "lease True")
	// We hold: Kazoo does not get it, but renews it for us with our id.
	if ok, err := NonBlockingLease(ctx, c, "/ours", time.Hour, "keeper"); !ok || err != nil {
		t.Fatalf("ours = %v, %v", ok, err)
	}
	k.Send(t, "lease /ours 3600 kazoo")
	k.Await(t, "lease False")
	k.Send(t, "lease /ours 60 keeper")
	k.Await(t, "lease True")
	if h, err := Read(ctx, c, "/ours"); err != nil || h.Holder != "keeper" {
		t.Fatalf("after Kazoo's renewal: %+v, %v", h, err)
	}
	// Multi leases share the slots.
	k.Send(t, "mlease 2 /m 3600 kazoo")
	k.Await(t, "mlease True")
	if ok, err := MultiNonBlockingLease(ctx, c, "/m", 2, time.Hour, "keeper"); !ok || err != nil {
		t.Fatalf("second slot = %v, %v", ok, err)
	}
	k.Send(t, "mlease 2 /m 3600 kazoo-2")
	k.Await(t, "mlease False")
	if ok, err := MultiNonBlockingLease(ctx, c, "/m", 2, time.Hour, "keeper-2"); ok || err != nil {
		t.Fatalf("third of two = %v, %v", ok, err)
	}
	k.Send(t, "get /m/1/lease_holder")
	line := k.Await(t, "get ")
	var got string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "get ")), &got); err != nil || !strings.Contains(got, `"holder": "keeper"`) {
		t.Fatalf("Kazoo reads our record as %q, %v", line, err)
	}
}
