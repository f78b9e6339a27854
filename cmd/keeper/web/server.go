// Package web is keeper web: a browser view of a ZooKeeper tree and of its
// servers, served by the keeper command.
//
// The page is a few static files embedded in the binary; it talks to the
// server through a JSON API under /api/ and receives changes of the tree
// and of the connection state as Server-Sent Events. Every request needs
// the access token (a cookie set from the URL printed at start, or an
// "Authorization: Bearer" header) unless the server was started without
// one; requests that change anything must carry the X-Keeper-Request
// header, which a cross-site form or image cannot send, and come from the
// page's own origin.
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

//go:embed assets
var assets embed.FS

// Backend gives the server its ZooKeeper client for one ensemble.
type Backend interface {
	// Client returns the ensemble's client, connecting on first use.
	Client(ctx context.Context) (*keeper.Client, error)
}

// Tools are the CLI's operations the page offers beside the client's own:
// a Backend that implements them gets export, import, copy, move, search,
// ACL editing and the servers view.
type Tools interface {
	// Export writes the subtree at path in the CLI's dump format.
	Export(ctx context.Context, path string, w io.Writer) error
	// Import loads a dump under path (the dumped root when empty) and
	// returns what it did, in a line.
	Import(ctx context.Context, path string, dump io.Reader, force bool) (string, error)
	// Copy copies (or moves) the subtree src to dst.
	Copy(ctx context.Context, src, dst string, move bool) (string, error)
	// Find calls emit with each path below root whose name matches the
	// glob pattern.
	Find(ctx context.Context, root, pattern string, emit func(path string)) error
	// Grep calls emit with each path:line below root whose data matches
	// the regular expression.
	Grep(ctx context.Context, root, pattern string, ignoreCase bool, emit func(line string)) error
	// SetACL replaces the ACL of path, at ACL version aversion (-1: any),
	// with entries written scheme:id:perms.
	SetACL(ctx context.Context, path string, entries []string, aversion int32) error
	// Servers samples every server of the ensemble (mntr, the AdminServer,
	// then srvr) and returns one JSON-encodable row per server.
	Servers(ctx context.Context) (any, error)
	// Hosts returns the ensemble's host:port addresses.
	Hosts() []string
}

// Ensemble is one named ZooKeeper ensemble the page can switch to.
type Ensemble struct {
	Name    string // shown in the page and used in its requests
	Servers string // the connect string, shown in the page
	Backend Backend
}

// Config configures a Server.
type Config struct {
	// Ensembles are the ensembles the page offers; the first is the default.
	Ensembles []Ensemble
	// Token is the access token every request must carry; empty turns
	// the check off (the command allows that on loopback only).
	Token string
	// ReadOnly refuses every change.
	ReadOnly bool
	// Version is shown in the page.
	Version string
	// Log receives one line per failed request and per start and stop
	// (never a token, a credential or node data); nil logs nothing.
	Log io.Writer
	// Timeout bounds each ZooKeeper request (10s when 0).
	Timeout time.Duration
}

// Server serves the page and its API. It is an http.Handler.
type Server struct {
	cfg     Config
	ens     map[string]*ensemble
	order   []string
	mux     *http.ServeMux
	cookie  string // the token cookie's name
	ctx     context.Context
	cancel  context.CancelFunc
	streams sync.WaitGroup // event streams, ended by Close

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if len(cfg.Ensembles) == 0 {
		return nil, errors.New("keeper web: no ensemble")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, ens: map[string]*ensemble{}, mux: http.NewServeMux()}
	for _, e := range cfg.Ensembles {
		if e.Name == "" || e.Backend == nil {
			return nil, errors.New("keeper web: an ensemble needs a name and a backend")
		}
		if s.ens[e.Name] != nil {
			return nil, fmt.Errorf("keeper web: ensemble %q given twice", e.Name)
		}
		s.ens[e.Name] = newEnsemble(e)
		s.order = append(s.order, e.Name)
	}
	sum := sha256.Sum256([]byte("keeper web " + cfg.Token))
	s.cookie = "keeper_" + hex.EncodeToString(sum[:4])
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// NewToken returns a random access token.
func NewToken() string {
	b := make([]byte, 18)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) routes() {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", files))
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("GET /api/info", s.api(s.info))
	s.mux.HandleFunc("GET /api/node", s.api(s.getNode))
	s.mux.HandleFunc("POST /api/node", s.write(s.createNode))
	s.mux.HandleFunc("PUT /api/node", s.write(s.setNode))
	s.mux.HandleFunc("DELETE /api/node", s.write(s.deleteNode))
	s.mux.HandleFunc("GET /api/children", s.api(s.children))
	s.mux.HandleFunc("GET /api/count", s.api(s.count))
	s.mux.HandleFunc("GET /api/acl", s.api(s.getACL))
	s.mux.HandleFunc("PUT /api/acl", s.write(s.setACL))
	s.mux.HandleFunc("POST /api/copy", s.write(s.copyNodes))
	s.mux.HandleFunc("GET /api/export", s.api(s.export))
	s.mux.HandleFunc("POST /api/import", s.write(s.importDump))
	s.mux.HandleFunc("GET /api/search", s.api(s.search))
	s.mux.HandleFunc("GET /api/servers", s.api(s.servers))
	s.mux.HandleFunc("GET /api/sessions", s.api(s.sessions))
	s.mux.HandleFunc("GET /api/events", s.api(s.events))
	s.mux.HandleFunc("/api/", s.api(func(w http.ResponseWriter, r *http.Request) error {
		return &apiError{status: http.StatusNotFound, msg: "no such API call: " + r.Method + " " + r.URL.Path}
	}))
}

// ServeHTTP serves the page and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	if !strings.HasPrefix(r.URL.Path, "/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	if s.cfg.Token == "" && !loopbackHost(r.Host) {
		// Without a token only loopback names are served, so that a web
		// page cannot reach the server under a name of its own (DNS
		// rebinding).
		http.Error(w, "keeper web: host not allowed without a token", http.StatusForbidden)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether a Host header names the loopback interface.
func loopbackHost(h string) bool {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// authorized reports whether r carries the access token.
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got := ""
	if c, err := r.Cookie(s.cookie); err == nil {
		got = c.Value
	} else if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = v
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

// sameOrigin reports whether a browser's request comes from the page
// itself: the Origin (or Referer) it sent, if any, names this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" {
		return true // not sent by a browser's cross-site request
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// setCookie stores the token in the browser.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.cfg.Token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// index serves the page, or the token form to a browser without the token.
// A token in the URL is moved into a cookie and out of the address bar.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("token"); tok != "" && s.cfg.Token != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1 {
			s.setCookie(w, r)
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		s.loginPage(w, "That token is not the one keeper web printed.")
		return
	}
	if !s.authorized(r) {
		s.loginPage(w, "")
		return
	}
	page, _ := assets.ReadFile("assets/index.html")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page)
}

// login takes the token from the form of the token page.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := r.PostFormValue("token")
	if !sameOrigin(r) || s.cfg.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		s.loginPage(w, "That token is not the one keeper web printed.")
		return
	}
	s.setCookie(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) loginPage(w http.ResponseWriter, msg string) {
	page, _ := assets.ReadFile("assets/login.html")
	out := strings.Replace(string(page), "<!--message-->", htmlEscape(msg), 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, out)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(s)
}

// Listen starts serving on addr (host:port; port 0 picks a free one), with
// TLS when certFile and keyFile are given, and returns the page's URL,
// with the token. Serve errors after the start are logged.
func (s *Server) Listen(addr, certFile, keyFile string) (string, error) {
	if (certFile == "") != (keyFile == "") {
		return "", errors.New("keeper web: --tls-cert and --tls-key go together")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("keeper web: %w", err)
	}
	scheme := "http"
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			ln.Close()
			return "", fmt.Errorf("keeper web: tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	logTo := io.Discard
	if s.cfg.Log != nil {
		logTo = s.cfg.Log
	}
	// net/http's own complaints (a bad TLS handshake) go to the same log.
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(logTo, "keeper web: ", 0)}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logf("keeper web: %v", err)
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	u := scheme + "://" + net.JoinHostPort(host, port) + "/"
	if s.cfg.Token != "" {
		u += "?token=" + url.QueryEscape(s.cfg.Token)
	}
	return u, nil
}

// Close stops serving and ends the event streams; it does not close the
// backends' clients.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(ctx)
	}
	s.streams.Wait()
	return err
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		fmt.Fprintf(s.cfg.Log, format+"\n", args...)
	}
}

// IsLoopback reports whether addr (host:port) listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
