package discovery_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/recipe/discovery"
)

type payload struct {
	Region string `json:"region"`
}

type inst = discovery.Instance[payload]

func ids(l []inst) []string {
	var out []string
	for _, i := range l {
		out = append(out, i.ID)
	}
	return out
}

func TestRegisterQueryUnregister(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	d, err := discovery.New[payload](c, "/services")
	if err != nil {
		t.Fatal(err)
	}
	q, _ := discovery.New[payload](other, "/services")
	a := inst{Name: "api", ID: "a", Address: "10.0.0.1", Port: 80, Payload: payload{"eu"}}
	s := inst{Name: "api", ID: "s", Address: "10.0.0.2", Port: 81, ServiceType: discovery.Static}
	p := inst{Name: "db", ID: "p", ServiceType: discovery.Permanent}
	seq := inst{Name: "api", ID: "q-", ServiceType: discovery.DynamicSequential}
	for _, i := range []inst{a, s, p, seq} {
		if err := d.Register(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if names, err := q.QueryForNames(ctx); err != nil || !slices.Equal(names, []string{"api", "db"}) {
		t.Fatalf("names %q, %v", names, err)
	}
	got, err := q.QueryForInstances(ctx, "api")
	if err != nil || len(got) != 3 {
		t.Fatalf("instances %+v, %v", got, err)
	}
	if got[0].ID != "a" || got[0].Payload != a.Payload || got[0].Address != a.Address || got[0].Port != 80 || got[0].RegistrationTimeUTC == 0 {
		t.Fatalf("instance a read back as %+v", got[0])
	}
	if sp := d.RegisteredPath("q-"); !regexp.MustCompile(`^/services/api/q-\d{10}$`).MatchString(sp) {
		t.Fatalf("sequential path %q", sp)
	}
	// Create modes by service type.
	owners := map[string]int64{"/services/api/a": c.SessionID(), "/services/api/s": 0, "/services/db/p": 0}
	for path, want := range owners {
		st, err := other.Exists(ctx, path)
		if err != nil || st == nil || st.EphemeralOwner != want {
			t.Fatalf("%s: %+v, %v; want owner 0x%x", path, st, err, want)
		}
	}
	// Update.
	a.Payload.Region = "us"
	if err := d.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := q.QueryForInstance(ctx, "api", "a"); err != nil || !ok || got.Payload.Region != "us" {
		t.Fatalf("after update: %+v %v %v", got, ok, err)
	}
	if err := d.Update(ctx, inst{Name: "api", ID: "zz"}); !errors.Is(err, discovery.ErrNotRegistered) {
		t.Fatalf("update of an unknown id: %v", err)
	}
	// Unregister.
	if err := d.Unregister(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := q.QueryForInstance(ctx, "api", "a"); err != nil || ok {
		t.Fatalf("after unregister: %v %v", ok, err)
	}
	// Close removes all but the Permanent instance.
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.QueryForInstances(ctx, "api"); len(got) != 0 {
		t.Fatalf("left after Close: %+v", got)
	}
	if _, ok, _ := q.QueryForInstance(ctx, "db", "p"); !ok {
		t.Fatal("the Permanent instance was removed by Close")
	}
	if err := d.Register(ctx, a); !errors.Is(err, discovery.ErrClosed) {
		t.Fatalf("Register after Close: %v", err)
	}
}

func TestRegisterBadInput(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 30*time.Second)
	c := srv.Client(t)
	if _, err := discovery.New[payload](c, "services"); err == nil {
		t.Fatal("relative base path accepted")
	}
	d, _ := discovery.New[payload](c, "/services")
	for _, i := range []inst{{Name: "", ID: "a"}, {Name: "a", ID: ""}, {Name: "a/b", ID: "c"},
		{Name: "a", ID: "b", ServiceType: "WEIRD"}} {
		if err := d.Register(ctx, i); err == nil {
			t.Errorf("registered %+v", i)
		}
	}
}

// TestBadInstanceData: a node with data that is not an instance gives a
// clear error; the other instances are still found and cached.
func TestBadInstanceData(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	d, _ := discovery.New[payload](c, "/services")
	defer d.Close(ctx)
	if err := d.Register(ctx, inst{Name: "api", ID: "good"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "/services/api/bad", []byte(`{"name":"api",`)); err != nil {
		t.Fatal(err)
	}
	got, err := d.QueryForInstances(ctx, "api")
	if !errors.Is(err, discovery.ErrBadInstance) || !slices.Equal(ids(got), []string{"good"}) {
		t.Fatalf("instances %q, err %v", ids(got), err)
	}
	t.Log(err)
	if _, _, err := d.QueryForInstance(ctx, "api", "bad"); !errors.Is(err, discovery.ErrBadInstance) {
		t.Fatalf("QueryForInstance: %v", err)
	}
	sc, err := d.NewCache(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var invalid bool
	for ev := range sc.Events() {
		if ev.Type == discovery.InstanceInvalid && ev.ID == "bad" && errors.Is(ev.Err, discovery.ErrBadInstance) {
			invalid = true
		}
		if ev.Type == discovery.CacheReady {
			break
		}
	}
	if !invalid || !slices.Equal(ids(sc.Instances()), []string{"good"}) {
		t.Fatalf("invalid reported %v, cached %q", invalid, ids(sc.Instances()))
	}
}

// TestCacheAndProvider: another client's cache sees registrations,
// updates and removals; the provider's strategies, filter and down
// policy.
func TestCacheAndProvider(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	other := testutil.Connect(t, srv, c)
	d, _ := discovery.New[payload](c, "/services")
	defer d.Close(ctx)
	q, _ := discovery.New[payload](other, "/services")
	sc, err := q.NewCache(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	next := func() discovery.CacheEvent[payload] {
		t.Helper()
		select {
		case ev := <-sc.Events():
			return ev
		case <-ctx.Done():
			t.Fatal("no cache event")
		}
		return discovery.CacheEvent[payload]{}
	}
	if ev := next(); ev.Type != discovery.CacheReady {
		t.Fatalf("first event %v", ev.Type)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := d.Register(ctx, inst{Name: "api", ID: id, Payload: payload{id}}); err != nil {
			t.Fatal(err)
		}
		if ev := next(); ev.Type != discovery.InstanceAdded || ev.ID != id || ev.Instance.Payload.Region != id {
			t.Fatalf("event %+v, want InstanceAdded %s", ev, id)
		}
	}
	if err := d.Update(ctx, inst{Name: "api", ID: "c", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != discovery.InstanceUpdated || !ev.Instance.Disabled {
		t.Fatalf("event %+v, want InstanceUpdated c disabled", ev)
	}

	rr, err := q.NewProvider(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	<-rr.Ready()
	var picked []string
	for i := 0; i < 4; i++ {
		in, err := rr.Instance()
		if err != nil {
			t.Fatal(err)
		}
		picked = append(picked, in.ID)
	}
	if !slices.Equal(picked, []string{"a", "b", "a", "b"}) {
		t.Fatalf("round robin picked %q (c is disabled)", picked)
	}
	all := rr.AllInstances()
	rr.NoteError(all[0])
	if got := ids(rr.AllInstances()); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("down after one error: %q", got)
	}
	rr.NoteError(all[0])
	if got := ids(rr.AllInstances()); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after two errors: %q", got)
	}

	filtered, err := q.NewProvider(ctx, "api", discovery.WithStrategy(discovery.Sticky(discovery.Random())),
		discovery.WithFilter(func(i inst) bool { return i.ID != "a" }))
	if err != nil {
		t.Fatal(err)
	}
	defer filtered.Close()
	<-filtered.Ready()
	for i := 0; i < 3; i++ {
		if in, err := filtered.Instance(); err != nil || in.ID != "b" {
			t.Fatalf("filtered sticky: %+v, %v", in, err)
		}
	}
	if _, err := q.NewProvider(ctx, "api", discovery.WithFilter(func(discovery.Instance[string]) bool { return true })); err == nil {
		t.Fatal("a filter of another payload type accepted")
	}
	if _, err := q.NewProvider(ctx, "api", discovery.WithDownInstancePolicy(0, 2)); err == nil {
		t.Fatal("a zero down timeout accepted")
	}

	if err := d.Unregister(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Type != discovery.InstanceRemoved || ev.ID != "b" {
		t.Fatalf("event %+v, want InstanceRemoved b", ev)
	}
	testutil.WaitFor(t, time.Minute, "b gone from the filtered provider", func() bool {
		_, err := filtered.Instance()
		return errors.Is(err, discovery.ErrNoInstance)
	})
}

// TestReregisterAfterExpiry: a session expiry re-registers the instance,
// owned by the new session, with the same data; a pause shorter than the
// session timeout changes nothing.
func TestReregisterAfterExpiry(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c, p := testutil.Proxied(t, srv, keeper.WithSessionTimeout(4*time.Second))
	observer := testutil.Connect(t, srv, c)
	d, _ := discovery.New[json.RawMessage](c, "/services")
	defer d.Close(ctx)
	in := discovery.Instance[json.RawMessage]{Name: "api", ID: "x", Port: 1, Payload: json.RawMessage(`{"k":"v"}`)}
	if err := d.Register(ctx, in); err != nil {
		t.Fatal(err)
	}
	path := "/services/api/x"
	first, err := observer.Exists(ctx, path)
	if err != nil || first == nil {
		t.Fatal(err)
	}
	p.Pause()
	testutil.WaitFor(t, time.Minute, "suspended", func() bool { return c.State() == keeper.Suspended })
	p.Resume()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := observer.Exists(ctx, path); st == nil || st.Czxid != first.Czxid || st.Version != first.Version {
		t.Fatalf("after a short pause the node changed: %+v", st)
	}
	testutil.Expire(t, ctx, c, p)
	testutil.WaitFor(t, c.SessionTimeout(), "re-registered for the new session", func() bool {
		st, err := observer.Exists(ctx, path)
		return err == nil && st != nil && st.EphemeralOwner == c.SessionID()
	})
	q, _ := discovery.New[json.RawMessage](observer, "/services")
	got, ok, err := q.QueryForInstance(ctx, "api", "x")
	if err != nil || !ok || string(got.Payload) != `{"k":"v"}` || got.Port != 1 {
		t.Fatalf("re-registered as %+v %v %v", got, ok, err)
	}
}

// TestExpiryKeepsRegistrations covers Curator's re-registration bugs: after
// a session expiry an unregistered instance stays unregistered
// (CURATOR-164, phantom services) and an updated one comes back with its
// new data, not the old (CURATOR-146/181).
func TestExpiryKeepsRegistrations(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c, p := testutil.Proxied(t, srv, keeper.WithSessionTimeout(4*time.Second))
	observer := testutil.Connect(t, srv, c)
	d, _ := discovery.New[payload](c, "/services")
	defer d.Close(ctx)
	for _, id := range []string{"gone", "kept"} {
		if err := d.Register(ctx, inst{Name: "api", ID: id, Payload: payload{"old"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Unregister(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(ctx, inst{Name: "api", ID: "kept", Payload: payload{"new"}}); err != nil {
		t.Fatal(err)
	}
	testutil.Expire(t, ctx, c, p)
	q, _ := discovery.New[payload](observer, "/services")
	testutil.WaitFor(t, time.Minute, "kept re-registered", func() bool {
		st, err := observer.Exists(ctx, "/services/api/kept")
		return err == nil && st != nil && st.EphemeralOwner == c.SessionID()
	})
	got, err := q.QueryForInstances(ctx, "api")
	if err != nil || len(got) != 1 || got[0].ID != "kept" || got[0].Payload.Region != "new" {
		t.Fatalf("after the expiry: %+v, %v", got, err)
	}
}

// TestCloseLeavesNoWatch: caches, providers and the Discovery leave no
// watch on the server after Close (CURATOR-105/286 were leaks).
func TestCloseLeavesNoWatch(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 90*time.Second)
	c := srv.Client(t)
	d, _ := discovery.New[payload](c, "/services")
	if err := d.Register(ctx, inst{Name: "api", ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Register(ctx, inst{Name: "api", ID: "p", ServiceType: discovery.Permanent}); err != nil {
		t.Fatal(err)
	}
	sc, err := d.NewCache(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := d.NewProvider(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	<-sc.Ready()
	<-pr.Ready()
	sc.Close()
	pr.Close()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.NoWatches(t, srv.Addr(0), c.SessionID())
}

// TestClosedClient: calls on a closed client fail with keeper.ErrClosed,
// at once.
func TestClosedClient(t *testing.T) {
	t.Parallel()
	ctx := testutil.Ctx(t, 30*time.Second)
	c := srv.Client(t)
	d, _ := discovery.New[payload](c, "/services")
	c.Close()
	if err := d.Register(ctx, inst{Name: "api", ID: "a"}); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("Register: %v", err)
	}
	if _, err := d.QueryForInstances(ctx, "api"); !errors.Is(err, keeper.ErrClosed) {
		t.Fatalf("QueryForInstances: %v", err)
	}
	if _, err := d.NewCache(ctx, "api"); err == nil {
		t.Fatal("NewCache on a closed client succeeded")
	}
}
