package discovery

import (
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// curatorJSON is what Curator 5.4's JsonInstanceSerializer(String.class)
// wrote for an instance with a String payload (curator-layouts-5.4.md).
const curatorJSON = `{"name":"api","id":"j-1","address":"10.0.0.2","port":9090,"sslPort":null,"payload":"java-payload","registrationTimeUTC":1796163135893,"serviceType":"DYNAMIC","uriSpec":null}`

func TestMarshalLikeCurator(t *testing.T) {
	inst := Instance[string]{Name: "api", ID: "j-1", Address: "10.0.0.2", Port: 9090,
		Payload: "java-payload", RegistrationTimeUTC: 1796163135893, ServiceType: Dynamic}
	got, err := marshal(serializer{}, inst)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != curatorJSON {
		t.Fatalf("got  %s\nwant %s", got, curatorJSON)
	}
	back, err := unmarshal[string]([]byte(curatorJSON))
	if err != nil || back != inst {
		t.Fatalf("read back %+v, %v", back, err)
	}
}

type details struct {
	Region string `json:"region"`
	Weight int    `json:"weight"`
}

func TestMarshalPayloadClassAndURISpec(t *testing.T) {
	spec, err := ParseURISpec("{scheme}://{address}:{port}/v1")
	if err != nil {
		t.Fatal(err)
	}
	inst := Instance[details]{Name: "api", ID: "49ca", Address: "10.0.0.5", Port: 8080, SSLPort: 8443,
		Payload: details{"eu", 3}, RegistrationTimeUTC: 1795390957843, URISpec: spec}
	got, err := marshal(serializer{class: "Disc$Details"}, inst)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"api","id":"49ca","address":"10.0.0.5","port":8080,"sslPort":8443,` +
		`"payload":{"@class":"Disc$Details","region":"eu","weight":3},` +
		`"registrationTimeUTC":1795390957843,"serviceType":"DYNAMIC",` +
		`"uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://","variable":false},` +
		`{"value":"address","variable":true},{"value":":","variable":false},{"value":"port","variable":true},` +
		`{"value":"/v1","variable":false}]}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back, err := unmarshal[details](got)
	if err != nil || back.Payload != inst.Payload || back.URISpec.String() != spec.String() {
		t.Fatalf("read back %+v, %v", back, err)
	}
	if uri := back.BuildURI(nil); uri != "https://10.0.0.5:8080/v1" {
		t.Fatalf("uri %q", uri)
	}
	raw, err := unmarshal[json.RawMessage](got)
	if err != nil || PayloadClass(raw.Payload) != "Disc$Details" {
		t.Fatalf("raw payload %s, %v", raw.Payload, err)
	}
	var m map[string]any
	if back, err := unmarshal[map[string]any](got); err != nil || back.Payload["@class"] != nil || back.Payload["region"] != "eu" {
		t.Fatalf("map payload %v, %v (%v)", back.Payload, err, m)
	}
}

func TestMarshalEnabledAndEscapes(t *testing.T) {
	inst := Instance[any]{Name: "a<b>", ID: "x&y", Disabled: true}
	got, err := marshal(serializer{}, inst)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"a<b>","id":"x&y","address":null,"port":null,"sslPort":null,"payload":null,"registrationTimeUTC":0,"serviceType":"DYNAMIC","uriSpec":null,"enabled":false}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	inst.Disabled = false
	got, _ = marshal(serializer{enabled: true}, inst)
	if back, err := unmarshal[any](got); err != nil || back.Disabled {
		t.Fatalf("%s: %+v, %v", got, back, err)
	}
}

func TestUnmarshalBad(t *testing.T) {
	for _, in := range []string{
		``, `nope`, `[]`, `{"name":"a"}`, `{"name":"a","id":"b","port":"x"}`,
		`{"name":"a","id":"b","serviceType":"WEIRD"}`, `{"name":"a","id":"b","payload":"s"}`,
	} {
		_, err := unmarshal[details]([]byte(in))
		if !errors.Is(err, ErrBadInstance) {
			t.Errorf("%q: %v, want ErrBadInstance", in, err)
		}
	}
	// Unknown fields are ignored, as Curator does.
	inst, err := unmarshal[string]([]byte(`{"name":"a","id":"b","extra":{"x":1},"payload":"p"}`))
	if err != nil || inst.Payload != "p" || inst.ServiceType != Dynamic {
		t.Fatalf("%+v, %v", inst, err)
	}
}

func TestURISpec(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"{scheme}://{address}:{port}", "http://h:80"},
		{"{scheme}://{ address }/{name}/{id}/{service-type}", "http://h/svc/i1/static"},
		{"[{[}x{]}]", "[{x}]"},
		{"{unknown}/a", "/a"},
		{"plain", "plain"},
		{"{ssl-port}", ""},
	} {
		u, err := ParseURISpec(tc.spec)
		if err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		inst := Instance[any]{Name: "svc", ID: "i1", Address: "h", Port: 80, ServiceType: Static}
		if got := inst.BuildURI(nil); got != "" {
			t.Fatalf("no spec rendered %q", got)
		}
		inst.URISpec = u
		if got := inst.BuildURI(nil); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.spec, got, tc.want)
		}
	}
	u, _ := ParseURISpec("{scheme}://{host}")
	if got := u.Build(map[string]any{"host": "x", "scheme": "ftp"}); got != "ftp://x" {
		t.Errorf("Build with vars: %q", got)
	}
	for _, bad := range []string{"{a", "a}", "{a{b}}"} {
		if _, err := ParseURISpec(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestStrategies(t *testing.T) {
	ids := []string{"a", "b", "c"}
	rr := RoundRobin()
	var got []string
	for i := 0; i < 4; i++ {
		got = append(got, ids[rr.Pick(ids)])
	}
	if want := []string{"a", "b", "c", "a"}; !equal(got, want) {
		t.Fatalf("round robin %v", got)
	}
	s := Sticky(RoundRobin())
	first := ids[s.Pick(ids)]
	for i := 0; i < 3; i++ {
		if ids[s.Pick(ids)] != first {
			t.Fatal("sticky moved")
		}
	}
	rest := []string{"b", "c"}
	if first == "a" && rest[s.Pick(rest)] == "a" {
		t.Fatal("sticky kept a gone instance")
	}
	r := Random()
	for i := 0; i < 100; i++ {
		if k := r.Pick(ids); k < 0 || k >= len(ids) {
			t.Fatalf("random picked %d", k)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDownInstances checks Curator's default policy on a fake clock: two
// errors put an instance down, and it is back 30s after the first.
func TestDownInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDownInstances(30*time.Second, 2)
		d.add("a")
		if d.isDown("a") {
			t.Fatal("down after one error")
		}
		time.Sleep(10 * time.Second)
		d.add("a")
		if !d.isDown("a") || d.isDown("b") {
			t.Fatal("not down after two errors")
		}
		time.Sleep(19 * time.Second)
		if !d.isDown("a") {
			t.Fatal("back before 30s")
		}
		time.Sleep(2 * time.Second)
		if d.isDown("a") {
			t.Fatal("still down 31s after the first error")
		}
	})
}
