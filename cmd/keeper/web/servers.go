package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

// historyLen is how many samples the servers view keeps: five minutes at
// one sample every two seconds.
const historyLen = 150

// servers samples the ensemble's servers (at most once a second, however
// many pages ask) and returns the samples of the last minutes.
func (s *Server) servers(w http.ResponseWriter, r *http.Request) error {
	e, err := s.target(r)
	if err != nil {
		return err
	}
	t, err := s.toolsOf(r)
	if err != nil {
		return err
	}
	e.mu.Lock()
	fresh := time.Since(e.lastRun) < time.Second
	if !fresh {
		e.lastRun = time.Now()
	}
	e.mu.Unlock()
	if !fresh {
		ctx, cancel := s.op(r)
		rows, err := t.Servers(ctx)
		cancel()
		if err != nil {
			return err
		}
		b, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.history = append(e.history, sample{Time: time.Now().UnixMilli(), Rows: b})
		if len(e.history) > historyLen {
			e.history = e.history[len(e.history)-historyLen:]
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	h := append([]sample(nil), e.history...)
	e.mu.Unlock()
	return writeJSON(w, http.StatusOK, map[string]any{"samples": h})
}

// sessions lists every server's client connections (cons) and, where the
// server allows the dump word, each session's ephemeral nodes; those of the
// page's own session come from getEphemerals.
func (s *Server) sessions(w http.ResponseWriter, r *http.Request) error {
	t, err := s.toolsOf(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.op(r)
	defer cancel()
	type conn struct {
		Server     string  `json:"server"`
		Client     string  `json:"client"`
		Session    string  `json:"session,omitempty"`
		LastOp     string  `json:"lastOp,omitempty"`
		Queued     int64   `json:"queued"`
		Received   int64   `json:"received"`
		Sent       int64   `json:"sent"`
		LatencyAvg float64 `json:"latencyAvg"`
		TimeoutMs  int64   `json:"timeoutMs"`
	}
	// The dump word lists absolute paths: the page shows those inside the
	// ensemble's chroot, relative to it.
	chroot := ""
	var own *keeper.Client
	if e, err := s.target(r); err == nil {
		if c, err := e.Backend.Client(ctx); err == nil {
			chroot, own = c.Chroot(), c
		}
	}
	hosts := t.Hosts()
	var mu sync.Mutex
	conns := []conn{}
	ephemerals := map[string][]string{}
	errs := map[string]string{}
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			out, err := keeper.Command(ctx, h, "cons")
			var cs []keeper.Conn
			if err == nil {
				cs, err = keeper.ParseCons(out)
			}
			dump, derr := keeper.Command(ctx, h, "dump")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[h] = strings.ReplaceAll(err.Error(), "keeper: ", "")
			}
			for _, c := range cs {
				x := conn{Server: h, Client: c.Addr, LastOp: c.LastOp, Queued: c.Queued, Received: c.Received,
					Sent: c.Sent, LatencyAvg: c.AvgLatency, TimeoutMs: c.Timeout.Milliseconds()}
				if c.SessionID != 0 {
					x.Session = hex64(c.SessionID)
				}
				conns = append(conns, x)
			}
			if derr == nil {
				for id, paths := range parseDumpEphemerals(dump) {
					var in []string
					for _, p := range paths {
						if chroot == "" {
							in = append(in, p)
						} else if rel, ok := strings.CutPrefix(p, chroot); ok && strings.HasPrefix(rel, "/") {
							in = append(in, rel)
						}
					}
					if len(in) > 0 {
						ephemerals[id] = in
					}
				}
			}
		})
	}
	wg.Wait()
	if own != nil {
		// This server's own session needs no dump: getEphemerals (3.6+)
		// lists its nodes.
		if paths, err := own.Ephemerals(ctx, "/"); err == nil && len(paths) > 0 {
			ephemerals[hex64(own.SessionID())] = paths
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"connections": conns, "ephemerals": ephemerals, "errors": errs})
}

// parseDumpEphemerals reads the "Sessions with Ephemerals" part of the
// dump four-letter word's reply: a session id line ("0x1000...:") followed
// by its paths, each indented.
func parseDumpEphemerals(out string) map[string][]string {
	m := map[string][]string{}
	_, rest, ok := strings.Cut(out, "Sessions with Ephemerals")
	if !ok {
		return m
	}
	cur := ""
	for _, line := range strings.Split(rest, "\n")[1:] {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
		case strings.HasPrefix(t, "0x") && strings.HasSuffix(t, ":"):
			cur = strings.TrimSuffix(t, ":")
			m[cur] = []string{}
		case strings.HasPrefix(t, "/") && cur != "":
			m[cur] = append(m[cur], t)
		default:
			if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") {
				cur = "" // the next section
			}
		}
	}
	return m
}
