package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

// Body limits: a node holds at most 1 MiB by default, 4/3 more in base64.
const (
	maxBody   = 4 << 20
	maxImport = 64 << 20
	maxPage   = 1000
)

// ensemble is one ensemble's state in the server.
type ensemble struct {
	Ensemble
	tools Tools // nil when the backend has none

	mu      sync.Mutex
	kids    map[string]*childList // recently listed children, by path
	kidsLRU []string
	history []sample // the servers view's last minutes
	lastRun time.Time
}

// childList is the sorted children of one node at one cversion.
type childList struct {
	cversion int32
	pzxid    int64
	names    []string
}

// sample is one round of the servers view.
type sample struct {
	Time int64           `json:"time"` // ms since the epoch
	Rows json.RawMessage `json:"rows"`
}

func newEnsemble(e Ensemble) *ensemble {
	en := &ensemble{Ensemble: e, kids: map[string]*childList{}}
	en.tools, _ = e.Backend.(Tools)
	return en
}

// apiError is an error with its HTTP status.
type apiError struct {
	status int
	msg    string
	code   string // ZooKeeper's error name, if any
	extra  map[string]any
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// zkError maps an error of the client to an HTTP status.
func zkError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	e := &apiError{status: http.StatusInternalServerError, msg: strings.ReplaceAll(err.Error(), "keeper: ", "")}
	var ke *keeper.Error
	if errors.As(err, &ke) {
		e.code = ke.Code.String()
		if !strings.Contains(e.msg, "("+e.code+")") {
			e.msg += " (" + e.code + ")"
		}
	}
	switch {
	case errors.Is(err, keeper.ErrInvalidPath), errors.Is(err, keeper.ErrBadArguments), errors.Is(err, keeper.ErrInvalidACL),
		errors.Is(err, keeper.ErrNoChildrenForEphemerals):
		e.status = http.StatusBadRequest
	case errors.Is(err, keeper.ErrNoNode):
		e.status = http.StatusNotFound
	case errors.Is(err, keeper.ErrBadVersion), errors.Is(err, keeper.ErrNodeExists), errors.Is(err, keeper.ErrNotEmpty):
		e.status = http.StatusConflict
	case errors.Is(err, keeper.ErrNoAuth), errors.Is(err, keeper.ErrAuthFailed), errors.Is(err, keeper.ErrNotReadOnly):
		e.status = http.StatusForbidden
	case errors.Is(err, keeper.ErrUnimplemented):
		e.status = http.StatusNotImplemented
	case errors.Is(err, keeper.ErrConnectionLoss), errors.Is(err, keeper.ErrSessionExpired),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, keeper.ErrClosed):
		e.status = http.StatusServiceUnavailable
	}
	return e
}

// api wraps a handler of the API: the token check and JSON errors.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			s.fail(w, r, &apiError{status: http.StatusUnauthorized, msg: "the access token is missing or wrong: open the URL keeper web printed"})
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

// write wraps a handler that changes something: it also needs a request
// made by the page itself, and a server that is not read-only.
func (s *Server) write(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if r.Header.Get("X-Keeper-Request") == "" || !sameOrigin(r) {
			return &apiError{status: http.StatusForbidden, msg: "cross-site request refused: changes need the X-Keeper-Request header and the page's own origin"}
		}
		if s.cfg.ReadOnly {
			return &apiError{status: http.StatusForbidden, msg: "read-only: keeper web was started with --read-only"}
		}
		return h(w, r)
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := zkError(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		e = &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
	}
	if e.status >= 500 || e.status == http.StatusUnauthorized {
		s.logf("keeper web: %s %s: %d %s", r.Method, r.URL.Path, e.status, e.msg)
	}
	body := map[string]any{"error": e.msg}
	if e.code != "" {
		body["code"] = e.code
	}
	for k, v := range e.extra {
		body[k] = v
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// decode reads a JSON body into v: one object, no unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return &apiError{status: http.StatusUnsupportedMediaType, msg: "the body must be JSON (Content-Type: application/json)"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("bad JSON body: %v", err)
	}
	if dec.More() {
		return badRequest("bad JSON body: more than one value")
	}
	return nil
}

// target returns the ensemble named by the request's ens parameter.
func (s *Server) target(r *http.Request) (*ensemble, error) {
	name := r.URL.Query().Get("ens")
	if name == "" {
		name = s.order[0]
	}
	e := s.ens[name]
	if e == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("no ensemble named %q", name)}
	}
	return e, nil
}

// clientOf returns the ensemble's client.
func (s *Server) clientOf(ctx context.Context, r *http.Request) (*ensemble, *keeper.Client, error) {
	e, err := s.target(r)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.Backend.Client(ctx)
	if err != nil {
		return nil, nil, &apiError{status: http.StatusServiceUnavailable, msg: "no connection to " + e.Name + ": " + strings.ReplaceAll(err.Error(), "keeper: ", "")}
	}
	return e, c, nil
}

// toolsOf returns the ensemble's CLI tools, or an error saying they are
// not available.
func (s *Server) toolsOf(r *http.Request) (Tools, error) {
	e, err := s.target(r)
	if err != nil {
		return nil, err
	}
	if e.tools == nil {
		return nil, &apiError{status: http.StatusNotImplemented, msg: "not available in this server"}
	}
	return e.tools, nil
}

// pathParam returns a validated path from the query.
func pathParam(r *http.Request, name string) (string, error) {
	p := r.URL.Query().Get(name)
	if p == "" {
		return "", badRequest("missing %s parameter", name)
	}
	return checkPath(p)
}

func checkPath(p string) (string, error) {
	if err := keeper.ValidatePath(p); err != nil {
		return "", badRequest("bad path %q: %v", p, strings.ReplaceAll(err.Error(), "keeper: ", ""))
	}
	return p, nil
}

// nodeCall is the start of a handler that reads one node: the request's
// validated path, a context bounded by the request timeout and the
// ensemble's client. cancel is never nil; the caller defers it.
func (s *Server) nodeCall(r *http.Request) (ctx context.Context, cancel context.CancelFunc, c *keeper.Client, p string, err error) {
	if p, err = pathParam(r, "path"); err != nil {
		return nil, func() {}, nil, "", err
	}
	ctx, cancel = s.op(r)
	if _, c, err = s.clientOf(ctx, r); err != nil {
		return nil, cancel, nil, "", err
	}
	return ctx, cancel, c, p, nil
}

// op returns a context bounded by the request timeout.
func (s *Server) op(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.Timeout)
}

// statJSON is a Stat as the page shows it: zxids and the owner in hex.
type statJSON struct {
	Czxid          string `json:"czxid"`
	Mzxid          string `json:"mzxid"`
	Pzxid          string `json:"pzxid"`
	Ctime          int64  `json:"ctime"`
	Mtime          int64  `json:"mtime"`
	Version        int32  `json:"version"`
	Cversion       int32  `json:"cversion"`
	Aversion       int32  `json:"aversion"`
	EphemeralOwner string `json:"ephemeralOwner"`
	DataLength     int32  `json:"dataLength"`
	NumChildren    int32  `json:"numChildren"`
}

func hex64(v int64) string { return "0x" + strconv.FormatUint(uint64(v), 16) }

func toStat(st *keeper.Stat) *statJSON {
	if st == nil {
		return nil
	}
	owner := ""
	if st.EphemeralOwner != 0 {
		owner = hex64(st.EphemeralOwner)
	}
	return &statJSON{Czxid: hex64(st.Czxid), Mzxid: hex64(st.Mzxid), Pzxid: hex64(st.Pzxid),
		Ctime: st.Ctime, Mtime: st.Mtime, Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion,
		EphemeralOwner: owner, DataLength: st.DataLength, NumChildren: st.NumChildren}
}

// nodeJSON is a node's data and Stat.
type nodeJSON struct {
	Path string    `json:"path"`
	Data *string   `json:"data"` // base64; null for a node without data
	Stat *statJSON `json:"stat"`
}

func toNode(p string, data []byte, st *keeper.Stat) nodeJSON {
	n := nodeJSON{Path: p, Stat: toStat(st)}
	if data != nil {
		d := base64.StdEncoding.EncodeToString(data)
		n.Data = &d
	}
	return n
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	type ensJSON struct {
		Name    string `json:"name"`
		Servers string `json:"servers"`
		Tools   bool   `json:"tools"`
	}
	out := struct {
		Ensembles []ensJSON `json:"ensembles"`
		ReadOnly  bool      `json:"readOnly"`
		Version   string    `json:"version"`
	}{ReadOnly: s.cfg.ReadOnly, Version: s.cfg.Version}
	for _, name := range s.order {
		e := s.ens[name]
		out.Ensembles = append(out.Ensembles, ensJSON{e.Name, e.Servers, e.tools != nil})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel, c, p, err := s.nodeCall(r)
	defer cancel()
	if err != nil {
		return err
	}
	if r.URL.Query().Get("acl") != "true" {
		data, st, err := c.Get(ctx, p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, toNode(p, data, st))
	}
	// With its ACL: both requests leave at once, so opening a node costs
	// one round trip to the server.
	var acl []keeper.ACL
	var ast *keeper.Stat
	var aerr error
	var wg sync.WaitGroup
	wg.Go(func() { acl, ast, aerr = c.ACL(ctx, p) })
	data, st, err := c.Get(ctx, p)
	wg.Wait()
	if err != nil {
		return err
	}
	out := struct {
		nodeJSON
		ACL any `json:"acl"`
	}{nodeJSON: toNode(p, data, st)}
	if aerr != nil {
		out.ACL = map[string]any{"error": zkError(aerr).msg}
	} else {
		out.ACL = aclJSON(p, acl, ast)
	}
	return writeJSON(w, http.StatusOK, out)
}

// aclJSON is an ACL as the API shows it.
func aclJSON(p string, acl []keeper.ACL, st *keeper.Stat) map[string]any {
	out := make([]aclEntry, len(acl))
	for i, a := range acl {
		out[i] = aclEntry{a.Scheme, a.ID, a.Perms.String()}
	}
	return map[string]any{"path": p, "aversion": st.Aversion, "acl": out}
}

// writeReq is the body of a create or set.
type writeReq struct {
	Path    string  `json:"path"`
	Data    *string `json:"data"`    // base64; null for no data
	Version *int32  `json:"version"` // set: the version read (-1: any)
	Mode    string  `json:"mode"`    // create: persistent, ephemeral, sequential, ephemeral-sequential, container, ttl
	TTL     int64   `json:"ttl"`     // create with mode ttl: milliseconds
	Parents bool    `json:"parents"` // create: missing parents too
}

func (q *writeReq) data() ([]byte, error) {
	if q.Data == nil {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(*q.Data)
	if err != nil {
		return nil, badRequest("data is not base64: %v", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func (s *Server) createNode(w http.ResponseWriter, r *http.Request) error {
	var q writeReq
	if err := decode(w, r, &q); err != nil {
		return err
	}
	data, err := q.data()
	if err != nil {
		return err
	}
	var opts []keeper.CreateOption
	switch q.Mode {
	case "", "persistent":
	case "ephemeral":
		opts = append(opts, keeper.Ephemeral())
	case "sequential":
		opts = append(opts, keeper.Sequential())
	case "ephemeral-sequential":
		opts = append(opts, keeper.Ephemeral(), keeper.Sequential())
	case "container":
		opts = append(opts, keeper.Container())
	case "ttl", "ttl-sequential":
		if q.TTL <= 0 {
			return badRequest("mode %s needs a positive ttl (milliseconds)", q.Mode)
		}
		opts = append(opts, keeper.TTL(time.Duration(q.TTL)*time.Millisecond))
		if q.Mode == "ttl-sequential" {
			opts = append(opts, keeper.Sequential())
		}
	default:
		return badRequest("unknown mode %q: use persistent, ephemeral, sequential, ephemeral-sequential, container, ttl or ttl-sequential", q.Mode)
	}
	if q.Parents {
		opts = append(opts, keeper.MakeParents())
	}
	check := keeper.ValidatePath
	if strings.Contains(q.Mode, "sequential") {
		check = keeper.ValidateSequentialPath
	}
	if err := check(q.Path); err != nil {
		return badRequest("bad path %q: %v", q.Path, strings.ReplaceAll(err.Error(), "keeper: ", ""))
	}
	ctx, cancel := s.op(r)
	defer cancel()
	_, c, err := s.clientOf(ctx, r)
	if err != nil {
		return err
	}
	var st keeper.Stat
	opts = append(opts, keeper.StoreStat(&st))
	p, err := c.Create(ctx, q.Path, data, opts...)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toNode(p, data, &st))
}

func (s *Server) setNode(w http.ResponseWriter, r *http.Request) error {
	var q writeReq
	if err := decode(w, r, &q); err != nil {
		return err
	}
	if _, err := checkPath(q.Path); err != nil {
		return err
	}
	if q.Version == nil {
		return badRequest("missing version: the version the data was read at (-1 overwrites any)")
	}
	if q.Mode != "" || q.Parents || q.TTL != 0 {
		return badRequest("mode, ttl and parents are for creating a node")
	}
	data, err := q.data()
	if err != nil {
		return err
	}
	ctx, cancel := s.op(r)
	defer cancel()
	_, c, err := s.clientOf(ctx, r)
	if err != nil {
		return err
	}
	st, err := c.Set(ctx, q.Path, data, *q.Version)
	if errors.Is(err, keeper.ErrBadVersion) {
		// Show both sides: the page lets the user choose.
		e := zkError(err)
		e.msg = fmt.Sprintf("%s changed since it was read (version %d): nothing was written", q.Path, *q.Version)
		if cur, cst, gerr := c.Get(ctx, q.Path); gerr == nil {
			e.extra = map[string]any{"current": toNode(q.Path, cur, cst)}
		}
		return e
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toNode(q.Path, data, st))
}

func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request) error {
	p, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	if p == "/" {
		return badRequest("the root cannot be deleted")
	}
	q := r.URL.Query()
	recursive := q.Get("recursive") == "true"
	vs := q.Get("version")
	if vs == "" && !recursive {
		return badRequest("missing version parameter (-1 deletes any version)")
	}
	version := int64(-1)
	if vs != "" {
		if version, err = strconv.ParseInt(vs, 10, 32); err != nil {
			return badRequest("bad version %q", vs)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*s.cfg.Timeout)
	defer cancel()
	_, c, err := s.clientOf(ctx, r)
	if err != nil {
		return err
	}
	if recursive {
		if version >= 0 {
			return badRequest("a recursive delete takes no version")
		}
		err = c.DeleteAll(ctx, p)
	} else {
		err = c.Delete(ctx, p, int32(version))
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"deleted": p})
}

// children serves one page of a node's children, sorted by name, each
// with its Stat. The whole list stays on the server: the page holds one
// page of it.
func (s *Server) children(w http.ResponseWriter, r *http.Request) error {
	p, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	offset, limit := 0, 200
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return badRequest("bad offset %q", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxPage {
			return badRequest("bad limit %q: 1 to %d", v, maxPage)
		}
	}
	filter := q.Get("filter")
	ctx, cancel := s.op(r)
	defer cancel()
	e, c, err := s.clientOf(ctx, r)
	if err != nil {
		return err
	}
	names, st, err := e.listChildren(ctx, c, p)
	if err != nil {
		return err
	}
	if filter != "" {
		var keep []string
		glob := strings.ContainsAny(filter, "*?[")
		for _, n := range names {
			if ok, _ := path.Match(filter, n); ok || (!glob && strings.Contains(n, filter)) {
				keep = append(keep, n)
			}
		}
		names = keep
	}
	total := len(names)
	page := names[min(offset, total):min(offset+limit, total)]
	type kid struct {
		Name        string `json:"name"`
		NumChildren int32  `json:"numChildren"`
		DataLength  int32  `json:"dataLength"`
		Ephemeral   bool   `json:"ephemeral"`
		Gone        bool   `json:"gone,omitempty"`
	}
	kids := make([]kid, len(page))
	// The Stats of a page are asked at once: the client pipelines them.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, n := range page {
		kids[i].Name = n
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cst, err := c.Exists(ctx, keeper.JoinPath(p, n))
			if err != nil || cst == nil {
				kids[i].Gone = true
				return
			}
			kids[i].NumChildren, kids[i].DataLength, kids[i].Ephemeral = cst.NumChildren, cst.DataLength, cst.EphemeralOwner != 0
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return writeJSON(w, http.StatusOK, map[string]any{"path": p, "total": total, "offset": offset,
		"children": kids, "stat": toStat(st)})
}

// listChildren returns the sorted children of p, from the cache when the
// node's children version has not changed.
func (e *ensemble) listChildren(ctx context.Context, c *keeper.Client, p string) ([]string, *keeper.Stat, error) {
	st, err := c.Exists(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	if st == nil {
		return nil, nil, &keeper.Error{Op: "children", Path: p, Code: keeper.CodeNoNode}
	}
	key := c.Chroot() + "\x00" + p
	e.mu.Lock()
	cl := e.kids[key]
	e.mu.Unlock()
	if cl != nil && cl.cversion == st.Cversion && cl.pzxid == st.Pzxid {
		return cl.names, st, nil
	}
	names, st, err := c.ChildrenStat(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	if p == "/" && c.Chroot() == "" {
		// /zookeeper is listed last: it is the server's, not the user's.
		if i := slices.Index(names, "zookeeper"); i >= 0 {
			names = append(slices.Delete(names, i, i+1), "zookeeper")
		}
	}
	e.mu.Lock()
	if e.kids[key] == nil {
		e.kidsLRU = append(e.kidsLRU, key)
		if len(e.kidsLRU) > 8 {
			delete(e.kids, e.kidsLRU[0])
			e.kidsLRU = e.kidsLRU[1:]
		}
	}
	e.kids[key] = &childList{cversion: st.Cversion, pzxid: st.Pzxid, names: names}
	e.mu.Unlock()
	return names, st, nil
}

// count says how many nodes a recursive delete of path would remove.
func (s *Server) count(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel, c, p, err := s.nodeCall(r)
	defer cancel()
	if err != nil {
		return err
	}
	n, err := c.CountChildren(ctx, p)
	if errors.Is(err, keeper.ErrUnimplemented) {
		return writeJSON(w, http.StatusOK, map[string]any{"path": p, "descendants": -1})
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"path": p, "descendants": n})
}

type aclEntry struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
	Perms  string `json:"perms"`
}

func (s *Server) getACL(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel, c, p, err := s.nodeCall(r)
	defer cancel()
	if err != nil {
		return err
	}
	acl, st, err := c.ACL(ctx, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, aclJSON(p, acl, st))
}

func (s *Server) setACL(w http.ResponseWriter, r *http.Request) error {
	var q struct {
		Path      string     `json:"path"`
		ACL       []aclEntry `json:"acl"`
		Aversion  *int32     `json:"aversion"`
		Recursive bool       `json:"recursive"`
	}
	if err := decode(w, r, &q); err != nil {
		return err
	}
	if _, err := checkPath(q.Path); err != nil {
		return err
	}
	if q.Aversion == nil {
		return badRequest("missing aversion: the ACL version read (-1 for any)")
	}
	if len(q.ACL) == 0 {
		return badRequest("an ACL needs at least one entry")
	}
	entries := make([]string, len(q.ACL))
	for i, a := range q.ACL {
		if a.Scheme == "" || strings.Contains(a.Scheme, ":") {
			return badRequest("ACL entry %d: bad scheme %q", i, a.Scheme)
		}
		entries[i] = a.Scheme + ":" + a.ID + ":" + a.Perms
	}
	t, err := s.toolsOf(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*s.cfg.Timeout)
	defer cancel()
	if err := t.SetACL(ctx, q.Path, entries, *q.Aversion); err != nil {
		return err
	}
	n := 1
	if q.Recursive {
		var paths []string
		if err := t.Find(ctx, q.Path, "*", func(p string) { paths = append(paths, p) }); err != nil {
			return err
		}
		for _, p := range paths {
			if err := t.SetACL(ctx, p, entries, -1); err != nil && !errors.Is(err, keeper.ErrNoNode) {
				return fmt.Errorf("%w (%d nodes changed before)", err, n)
			}
			n++
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"path": q.Path, "changed": n})
}

func (s *Server) copyNodes(w http.ResponseWriter, r *http.Request) error {
	var q struct {
		From string `json:"from"`
		To   string `json:"to"`
		Move bool   `json:"move"`
	}
	if err := decode(w, r, &q); err != nil {
		return err
	}
	for _, p := range []string{q.From, q.To} {
		if _, err := checkPath(p); err != nil {
			return err
		}
	}
	if q.From == q.To || strings.HasPrefix(q.To, strings.TrimSuffix(q.From, "/")+"/") {
		return badRequest("cannot copy %s into itself (%s)", q.From, q.To)
	}
	t, err := s.toolsOf(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*s.cfg.Timeout)
	defer cancel()
	msg, err := t.Copy(ctx, q.From, q.To, q.Move)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"from": q.From, "to": q.To, "message": msg})
}

func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	p, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	t, err := s.toolsOf(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*s.cfg.Timeout)
	defer cancel()
	// The dump is built before anything is sent, so that an error still
	// gets its status.
	var buf strings.Builder
	if err := t.Export(ctx, p, &buf); err != nil {
		return err
	}
	name := strings.ReplaceAll(strings.Trim(p, "/"), "/", "_")
	if name == "" {
		name = "root"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.dump.json"`)
	w.Header().Set("Content-Type", "application/json")
	_, err = io.WriteString(w, buf.String())
	return err
}

func (s *Server) importDump(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := q.Get("path")
	if p != "" {
		if _, err := checkPath(p); err != nil {
			return err
		}
	}
	t, err := s.toolsOf(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxImport))
	if err != nil {
		return err
	}
	var probe struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return badRequest("not a dump: %v", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*s.cfg.Timeout)
	defer cancel()
	msg, err := t.Import(ctx, p, strings.NewReader(string(body)), q.Get("force") == "true")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"message": msg})
}

// search streams the matches of a find (by name) or grep (by data) as
// Server-Sent Events: "match" events, then "done" or "error".
func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := pathParam(r, "path")
	if err != nil {
		return err
	}
	pattern, kind := q.Get("pattern"), q.Get("by")
	switch kind {
	case "name":
		if pattern == "" {
			pattern = "*"
		}
		if _, err := path.Match(pattern, ""); err != nil {
			return badRequest("bad glob pattern %q", pattern)
		}
	case "data":
		expr := pattern
		if q.Get("case") == "ignore" {
			expr = "(?i)" + expr
		}
		if _, err := regexp.Compile(expr); err != nil {
			return badRequest("bad regular expression: %v", err)
		}
	default:
		return badRequest("by must be name or data")
	}
	t, err := s.toolsOf(r)
	if err != nil {
		return err
	}
	sse, err := newStream(w)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*s.cfg.Timeout)
	defer cancel()
	n, limit := 0, 5000
	stop := errors.New("enough")
	ctx, cancelCause := context.WithCancelCause(ctx)
	defer cancelCause(nil)
	emit := func(line string) {
		if n++; n > limit {
			cancelCause(stop)
			return
		}
		sse.send("match", line)
	}
	if kind == "name" {
		err = t.Find(ctx, p, pattern, emit)
	} else {
		err = t.Grep(ctx, p, pattern, q.Get("case") == "ignore", emit)
	}
	switch {
	case context.Cause(ctx) == stop:
		sse.send("done", map[string]any{"matches": limit, "truncated": true})
	case err != nil:
		sse.send("error", zkError(err).msg)
	default:
		sse.send("done", map[string]any{"matches": n})
	}
	return nil
}

// InputError marks err as caused by the request's input (a bad pattern, a
// bad ACL entry): the page gets it with status 400.
func InputError(err error) error {
	return &apiError{status: http.StatusBadRequest, msg: strings.ReplaceAll(err.Error(), "keeper: ", "")}
}
