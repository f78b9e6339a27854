package web

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

var srv *zktest.Cluster

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

// clientBackend serves one client: the API without the CLI's tools.
type clientBackend struct{ c *keeper.Client }

func (b clientBackend) Client(context.Context) (*keeper.Client, error) { return b.c, nil }

// fixture is a Server on a test's own chroot, behind httptest.
type fixture struct {
	t     *testing.T
	c     *keeper.Client
	ts    *httptest.Server
	token string
}

func newFixture(t *testing.T, readOnly bool) *fixture {
	c := srv.Client(t)
	f := &fixture{t: t, c: c, token: NewToken()}
	s, err := New(Config{Ensembles: []Ensemble{{Name: "test", Servers: srv.Servers(), Backend: clientBackend{c}}},
		Token: f.token, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(s)
	t.Cleanup(func() { f.ts.Close(); s.Close() })
	return f
}

// do sends a request with the token and the page's header; it returns the
// status and the decoded JSON reply.
func (f *fixture) do(method, path, body string, hdr map[string]string) (int, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("X-Keeper-Request", "1")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &out); err != nil {
			f.t.Fatalf("%s %s: reply is not JSON: %v\n%s", method, path, err, b)
		}
	}
	return resp.StatusCode, out
}

// data returns the node's data, failing the test on error.
func (f *fixture) data(p string) string {
	f.t.Helper()
	b, _, err := f.c.Get(testutil.Ctx(f.t, 0), p)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestGetAndSet(t *testing.T) {
	f := newFixture(t, false)
	ctx := testutil.Ctx(t, 0)
	if _, err := f.c.Create(ctx, "/a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	code, n := f.do("GET", "/api/node?path=/a", "", nil)
	if code != 200 || n["data"] != b64("one") {
		t.Fatalf("get: %d %v", code, n)
	}
	code, n = f.do("GET", "/api/node?path=/a&acl=true", "", nil)
	acl, _ := n["acl"].(map[string]any)
	if code != 200 || n["data"] != b64("one") || acl == nil || acl["aversion"].(float64) != 0 ||
		fmt.Sprint(acl["acl"]) != "[map[id:anyone perms:cdrwa scheme:world]]" {
		t.Fatalf("get with its ACL: %d %v", code, n)
	}
	code, n = f.do("PUT", "/api/node", `{"path":"/a","data":"`+b64("two")+`","version":0}`, nil)
	if code != 200 || f.data("/a") != "two" {
		t.Fatalf("set: %d %v, data %q", code, n, f.data("/a"))
	}
	stat := n["stat"].(map[string]any)
	if stat["version"].(float64) != 1 || !strings.HasPrefix(stat["mzxid"].(string), "0x") {
		t.Fatalf("stat after set: %v", stat)
	}
}

// check asserts a status and an error message containing want.
func check(t *testing.T, what string, code int, out map[string]any, wantCode int, want string) {
	t.Helper()
	msg, _ := out["error"].(string)
	if code != wantCode || !strings.Contains(msg, want) {
		t.Fatalf("%s: got %d %q, want %d and an error with %q", what, code, msg, wantCode, want)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t, false)
	ctx := testutil.Ctx(t, 0)
	if _, err := f.c.Create(ctx, "/n", []byte("orig")); err != nil {
		t.Fatal(err)
	}
	set := func(body string) string { return body }
	big := `{"path":"/n","version":0,"data":"` + strings.Repeat("A", 5<<20) + `"}`
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		code                     int
		msg                      string
	}{
		{"bad path", "GET", "/api/node?path=n", "", nil, 400, "bad path"},
		{"bad path with dot", "PUT", "/api/node", set(`{"path":"/n/../x","data":"","version":0}`), nil, 400, "bad path"},
		{"bad JSON", "PUT", "/api/node", `{"path":"/n","data":`, nil, 400, "bad JSON"},
		{"unknown field", "PUT", "/api/node", `{"path":"/n","dta":"eA==","version":0}`, nil, 400, "unknown field"},
		{"two values", "PUT", "/api/node", `{"path":"/n","version":0}{}`, nil, 400, "more than one"},
		{"not base64", "PUT", "/api/node", `{"path":"/n","data":"%%%","version":0}`, nil, 400, "base64"},
		{"no version", "PUT", "/api/node", `{"path":"/n","data":"eA=="}`, nil, 400, "missing version"},
		{"wrong version", "PUT", "/api/node", `{"path":"/n","data":"eA==","version":7}`, nil, 409, "changed since it was read"},
		{"oversized body", "PUT", "/api/node", big, nil, 413, "larger than"},
		{"not JSON", "PUT", "/api/node", `{"path":"/n","data":"eA==","version":0}`, map[string]string{"Content-Type": "text/plain"}, 415, "must be JSON"},
		{"missing token", "PUT", "/api/node", `{"path":"/n","data":"eA==","version":0}`, map[string]string{"Authorization": ""}, 401, "token"},
		{"wrong token", "PUT", "/api/node", `{"path":"/n","data":"eA==","version":0}`, map[string]string{"Authorization": "Bearer nope"}, 401, "token"},
		{"no page header", "PUT", "/api/node", `{"path":"/n","data":"eA==","version":0}`, map[string]string{"X-Keeper-Request": ""}, 403, "cross-site"},
		{"other origin", "PUT", "/api/node", `{"path":"/n","data":"eA==","version":0}`, map[string]string{"Origin": "http://evil.example"}, 403, "cross-site"},
		{"delete without version", "DELETE", "/api/node?path=/n", "", nil, 400, "missing version"},
		{"delete wrong version", "DELETE", "/api/node?path=/n&version=3", "", nil, 409, "BadVersion"},
		{"delete the root", "DELETE", "/api/node?path=/&recursive=true", "", nil, 400, "root"},
		{"create bad mode", "POST", "/api/node", `{"path":"/m","mode":"forever"}`, nil, 400, "unknown mode"},
		{"create ttl without ttl", "POST", "/api/node", `{"path":"/m","mode":"ttl"}`, nil, 400, "positive ttl"},
		{"create existing", "POST", "/api/node", `{"path":"/n","data":"eA=="}`, nil, 409, "NodeExists"},
		{"bad limit", "GET", "/api/children?path=/&limit=100000", "", nil, 400, "bad limit"},
		{"no such call", "GET", "/api/nothing", "", nil, 404, "no such API call"},
		{"no such ensemble", "GET", "/api/node?path=/n&ens=other", "", nil, 404, "no ensemble"},
		{"no tools", "POST", "/api/copy", `{"from":"/n","to":"/m"}`, nil, 501, "not available"},
	}
	for _, tc := range cases {
		code, out := f.do(tc.method, tc.path, tc.body, tc.hdr)
		check(t, tc.name, code, out, tc.code, tc.msg)
		if got := f.data("/n"); got != "orig" {
			t.Fatalf("%s changed the node: %q", tc.name, got)
		}
	}
	if st, _ := f.c.Exists(ctx, "/m"); st != nil {
		t.Fatal("a refused create made /m")
	}
	// The conflict reply carries the current node, for the page to show.
	_, out := f.do("PUT", "/api/node", `{"path":"/n","data":"eA==","version":7}`, nil)
	cur, _ := out["current"].(map[string]any)
	if cur == nil || cur["data"] != b64("orig") {
		t.Fatalf("conflict reply lacks the current node: %v", out)
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	f := newFixture(t, true)
	ctx := testutil.Ctx(t, 0)
	if _, err := f.c.Create(ctx, "/n", []byte("orig")); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ method, path, body string }{
		{"PUT", "/api/node", `{"path":"/n","data":"eA==","version":-1}`},
		{"POST", "/api/node", `{"path":"/m"}`},
		{"DELETE", "/api/node?path=/n&version=-1", ""},
		{"PUT", "/api/acl", `{"path":"/n","acl":[{"scheme":"world","id":"anyone","perms":"r"}],"aversion":-1}`},
		{"POST", "/api/import", `{}`},
	} {
		code, out := f.do(w.method, w.path, w.body, nil)
		check(t, w.method+" "+w.path, code, out, 403, "read-only")
	}
	if f.data("/n") != "orig" {
		t.Fatal("read-only server changed /n")
	}
	if code, _ := f.do("GET", "/api/node?path=/n", "", nil); code != 200 {
		t.Fatalf("read-only server refused a read: %d", code)
	}
}

func TestTokenPage(t *testing.T) {
	f := newFixture(t, false)
	cl := f.ts.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(u string) *http.Response {
		resp, err := cl.Get(f.ts.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get("/?token=" + f.token)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].Value != f.token || !resp.Cookies()[0].HttpOnly {
		t.Fatalf("the token URL should set an HttpOnly cookie and redirect: %d %v", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", f.ts.URL+"/api/info", nil)
	req.AddCookie(resp.Cookies()[0])
	r2, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Fatalf("the cookie does not authorize: %d", r2.StatusCode)
	}
	if resp := get("/api/info"); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp := get("/?token=wrong"); resp.StatusCode != 200 || len(resp.Cookies()) != 0 {
		t.Fatalf("a wrong token should get the token form: %d %v", resp.StatusCode, resp.Cookies())
	}
}

func TestChildrenPaged(t *testing.T) {
	f := newFixture(t, false)
	ctx := testutil.Ctx(t, 0)
	txn := f.c.Txn()
	txn.Create("/p", nil)
	for i := range 250 {
		txn.Create(fmt.Sprintf("/p/c%03d", i), []byte("x"))
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	code, out := f.do("GET", "/api/children?path=/p&offset=200&limit=100", "", nil)
	kids, _ := out["children"].([]any)
	if code != 200 || out["total"].(float64) != 250 || len(kids) != 50 || kids[0].(map[string]any)["name"] != "c200" {
		t.Fatalf("page 3: %d total %v, %d names", code, out["total"], len(kids))
	}
	if _, err := f.c.Create(ctx, "/p/c999", nil); err != nil {
		t.Fatal(err)
	}
	_, out = f.do("GET", "/api/children?path=/p&offset=250&limit=10", "", nil)
	if kids, _ := out["children"].([]any); len(kids) != 1 || kids[0].(map[string]any)["name"] != "c999" {
		t.Fatalf("a new child is not listed: %v", out)
	}
	_, out = f.do("GET", "/api/children?path=/p&filter=c01*", "", nil)
	if out["total"].(float64) != 10 {
		t.Fatalf("filter c01*: %v", out["total"])
	}
}

func TestEventsStream(t *testing.T) {
	f := newFixture(t, false)
	ctx := testutil.Ctx(t, 0)
	req, _ := http.NewRequestWithContext(ctx, "GET", f.ts.URL+"/api/events?path=/", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	next := func() (event, data string) {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("event stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data = line[len("data: "):]
			case line == "" && event != "":
				return event, data
			}
		}
	}
	if ev, data := next(); ev != "state" || !strings.Contains(data, `"Connected"`) {
		t.Fatalf("first event: %s %s", ev, data)
	}
	// The watch is set after the state is sent: keep creating nodes until
	// one is reported.
	stop := make(chan struct{})
	done := make(chan struct{})
	defer func() { close(stop); <-done }()
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			f.c.Create(ctx, fmt.Sprintf("/live%d", i), nil)
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	for {
		ev, data := next()
		if ev == "nodes" && strings.Contains(data, `"path":"/live`) && strings.Contains(data, "NodeCreated") {
			return
		}
	}
}

func TestDumpEphemerals(t *testing.T) {
	c := srv.Client(t)
	ctx := testutil.Ctx(t, 0)
	p, err := c.Create(ctx, "/eph", nil, keeper.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	out, err := keeper.Command(ctx, srv.Addr(0), "dump")
	if err != nil {
		t.Fatal(err)
	}
	got := parseDumpEphemerals(out)[hex64(c.SessionID())]
	want := c.Chroot() + p
	if len(got) != 1 || got[0] != want {
		t.Fatalf("ephemerals of session %s: %v, want [%s]\n%s", hex64(c.SessionID()), got, want, out)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keeper web test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestListenTLS(t *testing.T) {
	c := srv.Client(t)
	token := NewToken()
	var log strings.Builder
	s, err := New(Config{Ensembles: []Ensemble{{Name: "test", Servers: srv.Servers(), Backend: clientBackend{c}}}, Token: token, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	certFile, keyFile, pool := selfSigned(t)
	if _, err := s.Listen("127.0.0.1:0", certFile, ""); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	u, err := s.Listen("127.0.0.1:0", certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "https://127.0.0.1:") || !strings.HasSuffix(u, "/?token="+token) {
		t.Fatalf("URL %q", u)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cs := resp.Cookies(); resp.StatusCode != http.StatusSeeOther || len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("over TLS the token cookie should be Secure: %d %v", resp.StatusCode, cs)
	}
	base, _, _ := strings.Cut(u, "?")
	// A wrong token is refused, and the log says so without either token.
	req, _ := http.NewRequest("GET", base+"api/info", nil)
	req.Header.Set("Authorization", "Bearer wrong-"+token[:6])
	if resp, err = cl.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token over TLS: %d", resp.StatusCode)
	}
	if l := log.String(); !strings.Contains(l, "401") || strings.Contains(l, token[:6]) {
		t.Fatalf("the log should note the refusal and hold no token: %q", l)
	}
	// Plain HTTP to the TLS port gets nothing useful.
	if resp, err := http.Get(strings.Replace(base, "https", "http", 1) + "api/info"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served the API on the TLS port")
		}
	}
}

func TestNoTokenServesLoopbackNamesOnly(t *testing.T) {
	c := srv.Client(t)
	s, err := New(Config{Ensembles: []Ensemble{{Name: "test", Servers: srv.Servers(), Backend: clientBackend{c}}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()
	for host, want := range map[string]int{"": 200, "localhost:1234": 200, "[::1]:80": 200, "evil.example:8080": 403, "10.1.2.3": 403} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/info", nil)
		if host != "" {
			req.Host = host
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q without a token: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:0": true, "[::1]:80": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false, "example.com:80": false, "nonsense": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
