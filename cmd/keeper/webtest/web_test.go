package webtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	"github.com/keeper-go/keeper/zktest"
)

var (
	srv     *zktest.Cluster
	bin     string          // the keeper binary under test
	browser context.Context // the shared headless Chromium; each test opens a tab
	shots   string          // where screenshots go
)

// chromium returns the browser to drive, or "" when there is none.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	exe := chromium()
	if exe == "" {
		fmt.Println("webtest: no chromium (/usr/bin/chromium or $CHROMIUM): skipping the browser tests")
		return 0
	}
	dir, err := os.MkdirTemp("", "keeper-webtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shots = os.Getenv("WEBTEST_ARTIFACTS")
	if shots == "" {
		shots = filepath.Join(dir, "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin = filepath.Join(dir, "keeper")
	var buildErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	srv, err = zktest.New()
	wg.Wait()
	if srv != nil {
		defer srv.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting ZooKeeper:", err)
		return 1
	}
	if buildErr != nil {
		fmt.Fprintln(os.Stderr, buildErr)
		return 1
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	var cancelBrowser context.CancelFunc
	browser, cancelBrowser = chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Run(browser); err != nil {
		fmt.Fprintln(os.Stderr, "starting chromium:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		fmt.Println("webtest: screenshots in", shots)
	}
	return code
}

// web is a running keeper web.
type web struct {
	url    string // with the token
	base   string // without it
	c      *keeper.Client
	stderr *syncBuffer
}

// syncBuffer is a process's stderr, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWeb starts keeper web on a fresh chroot (through servers when given,
// else straight to the test server) with extra flags, and returns it with
// a client on the same chroot.
func startWeb(t *testing.T, servers string, flags ...string) *web {
	t.Helper()
	c := srv.Client(t)
	if servers == "" {
		servers = srv.Servers()
	}
	args := append([]string{"--server", servers + c.Chroot(), "web", "--listen", "127.0.0.1:0"}, flags...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("keeper web's stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("keeper web printed no URL: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`open (\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no URL in %q", line)
	}
	base, _, _ := strings.Cut(m[1], "?")
	return &web{url: m[1], base: base, c: c, stderr: stderr}
}

// tab opens a browser tab for the test.
func tab(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancel2 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel2)
	return ctx
}

func do(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		shot(t, ctx, "failed-"+t.Name())
		t.Fatal(err)
	}
}

// waitJS polls a JavaScript condition until it holds.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		err := chromedp.Run(ctx, chromedp.Evaluate("!!("+expr+")", &ok))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			shot(t, ctx, "failed-"+t.Name())
			t.Fatalf("waiting for %s: %s is still false (%v)", what, expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// click clicks the element sel names, once it is there. The click is one
// script run, so that a redraw of the page cannot detach the element
// between finding it and clicking it.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	waitJS(t, ctx, "a click on "+sel, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.click(); return true; })()`, jsString(sel)))
}

// waitFor polls a Go condition until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot saves a screenshot of the tab as name.png.
func shot(t *testing.T, ctx context.Context, name string) {
	var buf []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&buf)); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	name = regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(name, "_")
	if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}

// open loads the page with the token and waits for the tree's root.
func (w *web) open(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(w.url))
	waitJS(t, ctx, "the tree, live", `document.querySelector('.row[data-path="/"]') && document.body.dataset.live === "on"`)
	var ms float64
	if chromedp.Run(ctx, chromedp.Evaluate(`performance.getEntriesByType('navigation')[0].loadEventEnd`, &ms)) == nil {
		t.Logf("the page loaded in %.0f ms", ms) // a figure for the record, not a check
	}
	if path != "" {
		goTo(t, ctx, path)
	}
}

// goTo opens a node through the path bar.
func goTo(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	do(t, ctx, chromedp.SetValue("#path", path, chromedp.ByID), chromedp.Evaluate(`document.querySelector('#pathbar').requestSubmit()`, nil))
	waitJS(t, ctx, "the node view of "+path, fmt.Sprintf(`document.querySelector('#node-path').textContent === %q && !document.querySelector('#node-view').hidden`, path))
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

func data(t *testing.T, c *keeper.Client, p string) string {
	t.Helper()
	b, _, err := c.Get(testutil.Ctx(t, 0), p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func create(t *testing.T, c *keeper.Client, p, d string) {
	t.Helper()
	if _, err := c.Create(testutil.Ctx(t, 0), p, []byte(d), keeper.MakeParents()); err != nil {
		t.Fatal(err)
	}
}

// editTo replaces the editor's text as a user typing would.
func editTo(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate(fmt.Sprintf(`(() => { const d = document.querySelector('#data'); d.value = %s; d.dispatchEvent(new Event('input')); })()`, jsString(text)), nil))
}

func TestBrowseAndEdit(t *testing.T) {
	w := startWeb(t, "")
	create(t, w.c, "/app/config", `{"db":"postgres","pool":10}`)
	for i := 1; i <= 3; i++ {
		create(t, w.c, fmt.Sprintf("/app/locks/lock-000000000%d", i), fmt.Sprintf("worker-%d", i))
		create(t, w.c, fmt.Sprintf("/services/api/host-%d", i), fmt.Sprintf("10.0.0.%d:8080", i))
	}
	create(t, w.c, "/services/web/host-1", "10.0.1.1:443")
	if _, err := w.c.Create(testutil.Ctx(t, 0), "/app/leader", []byte("worker-2"), keeper.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	ctx := tab(t)
	w.open(t, ctx, "")
	click(t, ctx, `.row[data-path="/services"] .twisty`)
	waitJS(t, ctx, "/services open", `document.querySelector('.row[data-path="/services/api"]')`)
	click(t, ctx, `.row[data-path="/services/api"] .twisty`)
	waitJS(t, ctx, "/services/api open", `document.querySelector('.row[data-path="/services/api/host-3"]')`)
	// Browse by clicking: /app, then config.
	click(t, ctx, `.row[data-path="/app"] .name`)
	click(t, ctx, `.row[data-path="/app"] .twisty`)
	click(t, ctx, `.row[data-path="/app/config"] .name`)
	waitJS(t, ctx, "the node", `document.querySelector('#node-path').textContent === "/app/config"`)
	waitJS(t, ctx, "JSON shown pretty", `document.querySelector('#format').value === "json" && document.querySelector('#data').value.includes('"db": "postgres"')`)
	waitJS(t, ctx, "the Stat", `document.querySelector('#stat').textContent.includes("mzxid") && document.querySelector('#stat').textContent.includes("0x")`)
	waitJS(t, ctx, "the ACL", `document.querySelector('#acl tbody .scheme') && document.querySelector('#acl tbody .scheme').value === "world"`)
	shot(t, ctx, "node")

	// Invalid JSON is refused before anything is sent.
	editTo(t, ctx, `{"db": "mysql",`)
	click(t, ctx, "#save")
	waitJS(t, ctx, "the JSON error", `document.querySelector('#data-error').textContent.includes("JSON")`)
	if got := data(t, w.c, "/app/config"); got != `{"db":"postgres","pool":10}` {
		t.Fatalf("invalid JSON was saved: %q", got)
	}
	editTo(t, ctx, `{"db": "mysql", "pool": 20}`)
	click(t, ctx, "#save")
	waitFor(t, "the saved data", func() bool { return strings.Contains(data(t, w.c, "/app/config"), "mysql") })
	waitJS(t, ctx, "version 1 shown", `document.querySelector('#stat').textContent.includes("version1")`)

	// Hex view of the same bytes, and saving from it.
	do(t, ctx, chromedp.SetValue("#format", "hex", chromedp.ByID), chromedp.Evaluate(`document.querySelector('#format').dispatchEvent(new Event('change'))`, nil))
	waitJS(t, ctx, "hex", `document.querySelector('#data').value.startsWith("7b 22 64 62")`)
	editTo(t, ctx, "68 69")
	click(t, ctx, "#save")
	waitFor(t, "the hex save", func() bool { return data(t, w.c, "/app/config") == "hi" })
}

func TestConflictShownAndResolved(t *testing.T) {
	w := startWeb(t, "")
	create(t, w.c, "/c", "original")
	ctx := tab(t)
	w.open(t, ctx, "/c")
	editTo(t, ctx, "mine")
	// Another client changes the node meanwhile.
	if _, err := w.c.Set(testutil.Ctx(t, 0), "/c", []byte("theirs"), 0); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the notice of the other change", `!document.querySelector('#notice').hidden`)
	click(t, ctx, "#save")
	waitJS(t, ctx, "the conflict", `!document.querySelector('#conflict').hidden && document.querySelector('#theirs').textContent === "theirs" && document.querySelector('#yours').textContent === "mine"`)
	shot(t, ctx, "conflict")
	if got := data(t, w.c, "/c"); got != "theirs" {
		t.Fatalf("the conflicting save wrote: %q", got)
	}
	click(t, ctx, "#keep-mine")
	waitFor(t, "mine saved", func() bool { return data(t, w.c, "/c") == "mine" })
	waitJS(t, ctx, "the conflict gone", `document.querySelector('#conflict').hidden`)

	// Again, taking theirs this time.
	editTo(t, ctx, "mine again")
	if _, err := w.c.Set(testutil.Ctx(t, 0), "/c", []byte("theirs again"), -1); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "#save")
	waitJS(t, ctx, "the second conflict", `!document.querySelector('#conflict').hidden`)
	click(t, ctx, "#take-theirs")
	waitJS(t, ctx, "theirs in the editor", `document.querySelector('#data').value === "theirs again" && document.querySelector('#conflict').hidden`)
	if got := data(t, w.c, "/c"); got != "theirs again" {
		t.Fatalf("taking theirs wrote: %q", got)
	}
}

func TestLiveChange(t *testing.T) {
	w := startWeb(t, "")
	create(t, w.c, "/live/a", "one")
	ctx := tab(t)
	w.open(t, ctx, "/live/a")
	waitJS(t, ctx, "the row of /live/a", `document.querySelector('.row[data-path="/live/a"]')`)
	// The page never reloads: a marker set now must survive.
	do(t, ctx, chromedp.Evaluate(`window.marker = 42`, nil))
	create(t, w.c, "/live/b", "new")
	waitJS(t, ctx, "the new node in the tree", `document.querySelector('.row[data-path="/live/b"]')`)
	if _, err := w.c.Set(testutil.Ctx(t, 0), "/live/a", []byte("two"), -1); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the new data", `document.querySelector('#data').value === "two"`)
	if err := w.c.Delete(testutil.Ctx(t, 0), "/live/b", -1); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the deleted node gone", `!document.querySelector('.row[data-path="/live/b"]')`)
	waitJS(t, ctx, "no reload", `window.marker === 42`)
}

func TestRecursiveDelete(t *testing.T) {
	w := startWeb(t, "")
	for _, p := range []string{"/d/x/1", "/d/x/2", "/d/y"} {
		create(t, w.c, p, "")
	}
	create(t, w.c, "/keep", "")
	ctx := tab(t)
	w.open(t, ctx, "/d")
	click(t, ctx, "#delete")
	waitJS(t, ctx, "the confirmation with the count", `document.querySelector('#dialog').open && document.querySelector('#delete-text').textContent.includes("the 4 nodes below it")`)
	shot(t, ctx, "delete")
	click(t, ctx, "#dialog-ok")
	waitFor(t, "/d deleted", func() bool {
		st, err := w.c.Exists(testutil.Ctx(t, 0), "/d")
		return err == nil && st == nil
	})
	if st, _ := w.c.Exists(testutil.Ctx(t, 0), "/keep"); st == nil {
		t.Fatal("the recursive delete removed a sibling")
	}
	waitJS(t, ctx, "the tree without /d", `!document.querySelector('.row[data-path="/d"]') && document.querySelector('.row[data-path="/keep"]')`)
}

func TestConnectionBanner(t *testing.T) {
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := startWeb(t, p.Addr(), "--timeout", "3s")
	ctx := tab(t)
	w.open(t, ctx, "")
	waitJS(t, ctx, "Connected", `document.querySelector('#state').dataset.state === "Connected" && document.querySelector('#banner').hidden`)
	p.Pause()
	waitJS(t, ctx, "the Suspended banner", `!document.querySelector('#banner').hidden && document.querySelector('#banner').textContent.startsWith("Suspended")`)
	shot(t, ctx, "banner-suspended")
	p.Resume()
	waitJS(t, ctx, "Connected again", `document.querySelector('#state').dataset.state === "Connected" && document.querySelector('#banner').hidden`)
}

func TestPagingTenThousand(t *testing.T) {
	w := startWeb(t, "")
	ctx0 := testutil.Ctx(t, 0)
	create(t, w.c, "/big", "")
	for b := 0; b < 10; b++ {
		txn := w.c.Txn()
		for i := b * 1000; i < (b+1)*1000; i++ {
			txn.Create(fmt.Sprintf("/big/n%05d", i), nil)
		}
		if _, err := txn.Commit(ctx0); err != nil {
			t.Fatal(err)
		}
	}
	ctx := tab(t)
	w.open(t, ctx, "/big")
	click(t, ctx, `.row[data-path="/big"] .twisty`)
	rows := `document.querySelectorAll('.row[data-path^="/big/"]')`
	pager := `document.querySelector('.pager[data-pager="/big"] .range').textContent`
	waitJS(t, ctx, "the first page", pager+` === "1–200 of 10,000" && `+rows+`.length === 200`)
	shot(t, ctx, "paging")
	click(t, ctx, `.pager[data-pager="/big"] .next`)
	waitJS(t, ctx, "the second page", pager+` === "201–400 of 10,000" && `+rows+`.length === 200 && `+
		`document.querySelector('.row[data-path="/big/n00200"]') && !document.querySelector('.row[data-path="/big/n00000"]')`)
	// The path bar reaches a node far down the list.
	goTo(t, ctx, "/big/n09999")
	waitJS(t, ctx, "its row", `document.querySelector('.row[data-path="/big/n09999"]')`)
	do(t, ctx, chromedp.SetValue(`.pager[data-pager="/big"] input`, "n0998*", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('.pager[data-pager="/big"] input').dispatchEvent(new Event('change'))`, nil))
	waitJS(t, ctx, "the filtered page", pager+` === "1–10 of 10" && `+rows+`.length === 10`)
}

func TestTokenRequired(t *testing.T) {
	w := startWeb(t, "")
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(w.base))
	waitJS(t, ctx, "the token form", `document.querySelector('#login')`)
	var status int
	do(t, ctx, chromedp.Evaluate(`fetch('/api/node?path=/').then(r => r.status)`, &status, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if status != 401 {
		t.Fatalf("the API without the token: %d, want 401", status)
	}
	do(t, ctx, chromedp.SetValue("#token", "wrong", chromedp.ByID), chromedp.Submit("#token", chromedp.ByID))
	waitJS(t, ctx, "the error", `document.querySelector('#login-error') && document.querySelector('#login-error').textContent.includes("not the one")`)
	shot(t, ctx, "token")
	token := w.url[strings.Index(w.url, "token=")+len("token="):]
	do(t, ctx, chromedp.SetValue("#token", token, chromedp.ByID), chromedp.Submit("#token", chromedp.ByID))
	waitJS(t, ctx, "the tree", `document.querySelector('.row[data-path="/"]')`)
	waitJS(t, ctx, "the token out of the address", `!location.href.includes("token")`)
	var page string
	do(t, ctx, chromedp.Evaluate(`document.documentElement.outerHTML + document.cookie`, &page))
	if strings.Contains(page, token) {
		t.Fatal("the page (or a cookie script can read) holds the token")
	}
	if log := w.stderr.String(); !strings.Contains(log, "401") || strings.Contains(log, token) {
		t.Fatalf("keeper web's log should note the refused request and hold no token:\n%s", log)
	}
}

func TestNoAuthOnLoopbackOnly(t *testing.T) {
	out, err := exec.Command(bin, "--server", srv.Servers(), "web", "--no-auth", "--listen", "0.0.0.0:0").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "loopback") {
		t.Fatalf("--no-auth on every interface: %v\n%s", err, out)
	}
	w := startWeb(t, "", "--no-auth")
	if strings.Contains(w.url, "token") {
		t.Fatalf("--no-auth printed a token: %s", w.url)
	}
	create(t, w.c, "/open", "")
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(w.url))
	waitJS(t, ctx, "the tree without a token", `document.querySelector('.row[data-path="/open"]')`)
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	w := startWeb(t, "", "--read-only")
	create(t, w.c, "/ro", "fixed")
	ctx := tab(t)
	w.open(t, ctx, "/ro")
	waitJS(t, ctx, "the read-only banner", `document.querySelector('#banner').textContent.includes("--read-only")`)
	var hidden bool
	do(t, ctx, chromedp.Evaluate(`getComputedStyle(document.querySelector('#save')).display === "none" && getComputedStyle(document.querySelector('#delete')).display === "none"`, &hidden))
	if !hidden {
		t.Fatal("the write buttons show on a read-only server")
	}
	shot(t, ctx, "read-only")
	var reply string
	do(t, ctx, chromedp.Evaluate(`fetch('/api/node', {method: 'PUT', headers: {'X-Keeper-Request': '1', 'Content-Type': 'application/json'},
		body: JSON.stringify({path: '/ro', data: btoa('changed'), version: -1})}).then(r => r.status + " " + r.statusText)`, &reply,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if !strings.HasPrefix(reply, "403") {
		t.Fatalf("a write on a read-only server: %s, want 403", reply)
	}
	if got := data(t, w.c, "/ro"); got != "fixed" {
		t.Fatalf("the read-only server changed /ro: %q", got)
	}
}

func TestServersView(t *testing.T) {
	w := startWeb(t, "")
	ctx := tab(t)
	w.open(t, ctx, "")
	click(t, ctx, "#tab-servers")
	waitJS(t, ctx, "the server's row", `document.querySelector('#servers .server-row') && document.querySelector('#servers .server-row').textContent.includes("standalone")`)
	// A few samples make the charts' lines.
	waitJS(t, ctx, "the charts", `document.querySelectorAll('#charts .chart').length === 5 && (document.querySelector('#charts polyline').getAttribute('points') || "").split(" ").length >= 2`)
	shot(t, ctx, "servers")
	click(t, ctx, "#tab-sessions")
	waitJS(t, ctx, "the sessions", `document.querySelectorAll('#sessions tbody tr').length > 0`)
}

// setValue sets an input's value and fires its change event.
func setValue(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate(fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s; e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change')); })()`, jsString(sel), jsString(value)), nil))
}

// confirmDialog waits for the page's dialog and presses its OK button.
func confirmDialog(t *testing.T, ctx context.Context) {
	t.Helper()
	waitJS(t, ctx, "the dialog", `document.querySelector('#dialog').open`)
	click(t, ctx, "#dialog-ok")
	waitJS(t, ctx, "the dialog closed", `!document.querySelector('#dialog').open`)
}

func exists(t *testing.T, c *keeper.Client, p string) bool {
	t.Helper()
	st, err := c.Exists(testutil.Ctx(t, 0), p)
	if err != nil {
		t.Fatal(err)
	}
	return st != nil
}

func TestCopyMoveExportImport(t *testing.T) {
	w := startWeb(t, "")
	create(t, w.c, "/src/a", "A")
	create(t, w.c, "/src/b/c", "C")
	ctx := tab(t)
	w.open(t, ctx, "/src")
	click(t, ctx, "#copy")
	waitJS(t, ctx, "the copy dialog", `document.querySelector('#copy-to')`)
	setValue(t, ctx, "#copy-to", "/dst")
	confirmDialog(t, ctx)
	waitFor(t, "the copy", func() bool { return exists(t, w.c, "/dst/b/c") && data(t, w.c, "/dst/b/c") == "C" })
	waitJS(t, ctx, "the copy selected", `document.querySelector('#node-path').textContent === "/dst"`)

	goTo(t, ctx, "/src")
	click(t, ctx, "#move")
	waitJS(t, ctx, "the move dialog", `document.querySelector('#copy-to')`)
	setValue(t, ctx, "#copy-to", "/moved")
	confirmDialog(t, ctx)
	waitFor(t, "the move", func() bool { return !exists(t, w.c, "/src") && exists(t, w.c, "/moved/b/c") })

	// Export through the page's link, in the CLI's dump format.
	goTo(t, ctx, "/moved")
	var dump string
	do(t, ctx, chromedp.Evaluate(`fetch(document.querySelector('#export').href).then(r => r.text())`, &dump,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if !strings.Contains(dump, `"format": "keeper-dump/1"`) || !strings.Contains(dump, `"path": "/b/c"`) {
		t.Fatalf("the export is not a keeper dump of /moved:\n%s", dump)
	}
	file := filepath.Join(t.TempDir(), "moved.json")
	if err := os.WriteFile(file, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "#import")
	waitJS(t, ctx, "the import dialog", `document.querySelector('#import-file')`)
	do(t, ctx, chromedp.SetUploadFiles("#import-file", []string{file}, chromedp.ByID))
	setValue(t, ctx, "#import-path", "/imported")
	confirmDialog(t, ctx)
	waitFor(t, "the import", func() bool { return exists(t, w.c, "/imported/b/c") && data(t, w.c, "/imported/a") == "A" })
	waitJS(t, ctx, "the import's summary", `document.querySelector('#msg').textContent.includes("created")`)
}

func TestSearch(t *testing.T) {
	w := startWeb(t, "")
	create(t, w.c, "/s/alpha", "a needle here")
	create(t, w.c, "/s/beta", "hay")
	create(t, w.c, "/s/x/alphabet", "")
	ctx := tab(t)
	w.open(t, ctx, "/s")
	items := `[...document.querySelectorAll('#results-list li')].map(li => li.textContent).join(",")`
	setValue(t, ctx, "#search", "alpha*")
	do(t, ctx, chromedp.Evaluate(`document.querySelector('#searchbar').requestSubmit()`, nil))
	waitJS(t, ctx, "the name matches", items+` === "/s/alpha,/s/x/alphabet" && document.querySelector('#results-title').textContent.startsWith("2 matches")`)
	setValue(t, ctx, "#search-by", "data")
	setValue(t, ctx, "#search", "need.e")
	do(t, ctx, chromedp.Evaluate(`document.querySelector('#searchbar').requestSubmit()`, nil))
	waitJS(t, ctx, "the data match", items+` === "/s/alpha:a needle here"`)
	shot(t, ctx, "search")
	click(t, ctx, `#results-list a`)
	waitJS(t, ctx, "the match opened", `document.querySelector('#node-path').textContent === "/s/alpha"`)
}

func TestACLEdit(t *testing.T) {
	w := startWeb(t, "")
	create(t, w.c, "/acl/child", "")
	ctx := tab(t)
	w.open(t, ctx, "/acl")
	waitJS(t, ctx, "the ACL", `document.querySelector('#acl tbody .perms')`)
	setValue(t, ctx, "#acl tbody .perms", "rwa")
	click(t, ctx, "#acl-add")
	setValue(t, ctx, "#acl tbody tr:nth-child(2) .scheme", "ip")
	setValue(t, ctx, "#acl tbody tr:nth-child(2) .id", "127.0.0.1")
	setValue(t, ctx, "#acl tbody tr:nth-child(2) .perms", "cdrwa")
	click(t, ctx, "#acl-recursive")
	click(t, ctx, "#acl-save")
	confirmDialog(t, ctx)
	for _, p := range []string{"/acl", "/acl/child"} {
		waitFor(t, "the ACL of "+p, func() bool {
			acl, _, err := w.c.ACL(testutil.Ctx(t, 0), p)
			return err == nil && len(acl) == 2 && acl[0].Perms == keeper.PermRead|keeper.PermWrite|keeper.PermAdmin &&
				acl[1] == keeper.ACL{Scheme: "ip", ID: "127.0.0.1", Perms: keeper.PermAll}
		})
	}
	waitJS(t, ctx, "the new aversion", `document.querySelector('#aversion').textContent === "(aversion 1)"`)
	// A bad entry is refused with the CLI's message, and changes nothing.
	setValue(t, ctx, "#acl tbody .perms", "rwx")
	click(t, ctx, "#acl-recursive")
	click(t, ctx, "#acl-save")
	waitJS(t, ctx, "the error", `document.querySelector('#msg').textContent.includes("cdrwa")`)
	if acl, _, _ := w.c.ACL(testutil.Ctx(t, 0), "/acl"); acl[0].Perms != keeper.PermRead|keeper.PermWrite|keeper.PermAdmin {
		t.Fatalf("a bad ACL changed the node: %v", acl)
	}
}

func TestCreateEphemeralAndItsSession(t *testing.T) {
	w := startWeb(t, "")
	ctx := tab(t)
	w.open(t, ctx, "/")
	click(t, ctx, "#create")
	waitJS(t, ctx, "the create dialog", `document.querySelector('#create-name')`)
	setValue(t, ctx, "#create-name", "worker")
	setValue(t, ctx, "#create-mode", "ephemeral")
	setValue(t, ctx, "#create-data", "w1")
	confirmDialog(t, ctx)
	var owner int64
	waitFor(t, "the ephemeral node", func() bool {
		_, st, err := w.c.Get(testutil.Ctx(t, 0), "/worker")
		if err == nil {
			owner = st.EphemeralOwner
		}
		return err == nil && owner != 0
	})
	waitJS(t, ctx, "the node and its owner", `document.querySelector('#node-path').textContent === "/worker" && document.querySelector('#stat a.session')`)
	click(t, ctx, "#stat a.session")
	waitJS(t, ctx, "the session with its ephemeral node", fmt.Sprintf(`document.querySelector('#sessions tr.highlight[data-session="0x%x"]') && document.querySelector('#sessions tr.highlight').textContent.includes("/worker")`, owner))
	shot(t, ctx, "sessions")
}

func TestSeveralEnsembles(t *testing.T) {
	other := srv.Client(t)
	create(t, other, "/only-in-second", "")
	w := startWeb(t, "", "--ensemble", "second="+srv.Servers()+other.Chroot())
	create(t, w.c, "/only-in-default", "")
	ctx := tab(t)
	w.open(t, ctx, "")
	waitJS(t, ctx, "the default ensemble", `document.querySelector('.row[data-path="/only-in-default"]') && !document.querySelector('#ensemble').hidden && document.querySelectorAll('#ensemble option').length === 2`)
	setValue(t, ctx, "#ensemble", "second")
	waitJS(t, ctx, "the second ensemble, live", `document.querySelector('.row[data-path="/only-in-second"]') && !document.querySelector('.row[data-path="/only-in-default"]') && document.body.dataset.live === "on"`)
	// It is live too.
	create(t, other, "/later", "")
	waitJS(t, ctx, "a change in the second ensemble", `document.querySelector('.row[data-path="/later"]')`)
}

func TestSandboxServesThePage(t *testing.T) {
	cmd := exec.Command(bin, "sandbox", "--no-history")
	stdin, err := cmd.StdinPipe() // kept open: the sandbox waits for commands
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	br := bufio.NewReader(out)
	var servers, url string
	for url == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the sandbox printed no URL: %v\n%s", err, stderr.String())
		}
		if m := regexp.MustCompile(`sandbox at (\S+)`).FindStringSubmatch(line); m != nil {
			servers = m[1]
		}
		if m := regexp.MustCompile(`keeper web: open (http://127\.0\.0\.1:\d+/\?token=\w+)`).FindStringSubmatch(line); m != nil {
			url = m[1]
		}
	}
	ctx0 := testutil.Ctx(t, 0)
	c, err := keeper.Connect(ctx0, servers)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create(ctx0, "/from-the-sandbox", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(url))
	waitJS(t, ctx, "the sandbox's tree", `document.querySelector('.row[data-path="/from-the-sandbox"]') && document.querySelector('.row[data-path="/zookeeper"]')`)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the sandbox: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sandbox stopped and removed") {
		t.Fatalf("the sandbox did not stop cleanly:\n%s", stderr.String())
	}
}
