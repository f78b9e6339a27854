package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keeper-go/keeper"
)

func init() { register(topCommand) }

var topCommand = &command{
	name:    "top",
	args:    "[--once] [--json] [--interval d] [--admin-port port]",
	summary: "live view of every server: mode, latency, outstanding requests, znodes, watches, connections",
	help: `Each server is asked for mntr. Stock servers only allow srvr: when mntr is
refused, top reads the AdminServer's /commands/monitor over HTTP (port
--admin-port), and when that fails too it falls back to srvr, which has no
watch count. The SOURCE column says which was used. q or Ctrl-C quits.
--once prints one frame and exits, for scripts and terminals alike. --json
prints each frame as JSON: with --once one array of servers, else one array
per line at every refresh. On a narrow terminal the less useful columns are
left out (SOURCE first, then OUTSTANDING, CONNECTIONS, WATCHES, LATENCY).`,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		once := fs.Bool("once", false, "print one frame and exit")
		asJSON := fs.Bool("json", false, "print JSON: one frame with --once, else one line per refresh")
		interval := fs.Duration("interval", time.Second, "time between refreshes")
		adminPort := fs.Int("admin-port", 8080, "the AdminServer's HTTP `port` (admin.serverPort)")
		return func(ctx context.Context, args []string) error {
			if *interval < 100*time.Millisecond {
				return usageErr(lookupCommand("top"), "--interval must be at least 100ms")
			}
			if *adminPort < 1 || *adminPort > 65535 {
				return usageErr(lookupCommand("top"), "--admin-port must be a port number")
			}
			hosts, err := serverAddrs(ctx, a.conn.servers())
			if err != nil {
				return err
			}
			// A live view waits at most a couple of refreshes for an answer.
			t := &topView{a: a, hosts: hosts, adminPort: *adminPort, source: map[string]string{},
				wait: min(a.conn.timeout, max(2*time.Second, 2**interval))}
			if *once {
				t.wait = a.conn.timeout
				rows := t.sample(ctx)
				if *asJSON {
					return writeJSON(a.stdout, rows)
				}
				t.render(a.stdout, rows, "\n", t.width())
				return nil
			}
			if *asJSON {
				return t.jsonLines(ctx, *interval)
			}
			return t.live(ctx, *interval)
		}
	},
}

// topView samples and shows the servers.
type topView struct {
	a         *app
	hosts     []string
	adminPort int
	wait      time.Duration // for one server's answer from one source
	mu        sync.Mutex
	source    map[string]string // the source that last worked, per host
}

// topRow is one server's line.
type topRow struct {
	Server      string  `json:"server"`
	Source      string  `json:"source,omitempty"` // mntr, admin or srvr
	Mode        string  `json:"mode,omitempty"`
	LatencyMin  float64 `json:"latencyMin"`
	LatencyAvg  float64 `json:"latencyAvg"`
	LatencyMax  float64 `json:"latencyMax"`
	Outstanding int64   `json:"outstanding"`
	Znodes      int64   `json:"znodes"`
	Watches     int64   `json:"watches"` // -1 when the source does not say
	Connections int64   `json:"connections"`
	Error       string  `json:"error,omitempty"`
}

// width returns the terminal's width, or 0 (no limit) when standard output
// is not a terminal.
func (t *topView) width() int {
	if out := terminalFile(t.a.stdout); out != nil {
		return termWidth(out)
	}
	return 0
}

// jsonLines prints a frame as one line of JSON every interval until ctx
// ends (Ctrl-C).
func (t *topView) jsonLines(ctx context.Context, interval time.Duration) error {
	enc := json.NewEncoder(t.a.stdout)
	for {
		rows := t.sample(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := enc.Encode(rows); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// live refreshes the view every interval until q, Ctrl-C or ctx ends.
func (t *topView) live(ctx context.Context, interval time.Duration) error {
	a := t.a
	in, out := terminalFile(a.stdin), terminalFile(a.stdout)
	keys := a.keys
	if in != nil && keys == nil {
		keys = newKeyReader(in)
		defer keys.close()
	}
	eol := "\n"
	if in != nil && out != nil {
		restore, err := rawMode(in)
		if err != nil {
			return fmt.Errorf("keeper: top: %w", err)
		}
		defer restore()
		eol = "\r\n"
		io.WriteString(a.stdout, "\x1b[?1049h\x1b[?25l") // alternate screen, no cursor
		defer io.WriteString(a.stdout, "\x1b[?25h\x1b[?1049l")
	}
	for {
		rows := t.sample(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if eol == "\r\n" {
			io.WriteString(a.stdout, "\x1b[H\x1b[2J")
		}
		t.render(a.stdout, rows, eol, t.width())
		if eol == "\n" {
			fmt.Fprintln(a.stdout)
		}
		deadline := time.Now().Add(interval)
		for time.Now().Before(deadline) {
			if keys == nil || eol == "\n" {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Until(deadline)):
				}
				continue
			}
			wctx, cancel := context.WithDeadline(ctx, deadline)
			b, _, err := keys.next(wctx, nil)
			cancel()
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, context.DeadlineExceeded):
			case err != nil:
				return nil // end of input
			case b == 'q' || b == 'Q' || b == keyCtrlC || b == keyCtrlD:
				return nil
			}
		}
	}
}

// topColumn is one column of top's table.
type topColumn struct {
	head string
	cell func(r topRow) string
}

// topColumns are top's columns; dropOrder lists those left out, in turn,
// when the table is wider than the terminal.
var (
	topColumns = []topColumn{
		{"SERVER", func(r topRow) string { return r.Server }},
		{"MODE", func(r topRow) string { return r.Mode }},
		{"LATENCY ms", func(r topRow) string { return latency(r.LatencyMin, r.LatencyAvg, r.LatencyMax) }},
		{"OUTSTANDING", func(r topRow) string { return strconv.FormatInt(r.Outstanding, 10) }},
		{"ZNODES", func(r topRow) string { return strconv.FormatInt(r.Znodes, 10) }},
		{"WATCHES", func(r topRow) string {
			if r.Watches < 0 {
				return "-"
			}
			return strconv.FormatInt(r.Watches, 10)
		}},
		{"CONNECTIONS", func(r topRow) string { return strconv.FormatInt(r.Connections, 10) }},
		{"SOURCE", func(r topRow) string { return r.Source }},
	}
	dropOrder = []string{"SOURCE", "OUTSTANDING", "CONNECTIONS", "WATCHES", "LATENCY ms"}
)

// render prints one frame, no wider than width columns (0: no limit).
func (t *topView) render(w io.Writer, rows []topRow, eol string, width int) {
	var sb strings.Builder
	title := fmt.Sprintf("keeper top  %s  %s", strings.Join(t.hosts, ","), time.Now().Format("15:04:05"))
	if eol == "\r\n" {
		title += "  (q quits)"
	}
	sb.WriteString(clip(title, width))
	sb.WriteString("\n\n")
	dropped := map[string]bool{}
	table := topTable(rows, dropped, width)
	for _, d := range dropOrder {
		if width <= 0 || maxLineWidth(table) <= width {
			break
		}
		dropped[d] = true
		table = topTable(rows, dropped, width)
	}
	sb.WriteString(table)
	io.WriteString(w, strings.ReplaceAll(sb.String(), "\n", eol))
}

// topTable lays out the rows with the columns not dropped. An error row
// holds the server and its error, clipped to width.
func topTable(rows []topRow, dropped map[string]bool, width int) string {
	var sb strings.Builder
	tw := newTable(&sb)
	var cols []topColumn
	for _, c := range topColumns {
		if !dropped[c.head] {
			cols = append(cols, c)
		}
	}
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	fmt.Fprintln(tw, strings.Join(heads, "\t"))
	var errLines []string
	for _, r := range rows {
		if r.Error != "" {
			errLines = append(errLines, clip(r.Server+"  "+r.Error, width))
			continue
		}
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = c.cell(r)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	for _, l := range errLines {
		sb.WriteString(l + "\n")
	}
	return sb.String()
}

// maxLineWidth returns the width of the widest line of s.
func maxLineWidth(s string) int {
	w := 0
	for _, l := range strings.Split(s, "\n") {
		w = max(w, utf8.RuneCountInString(strings.TrimRight(l, " ")))
	}
	return w
}

// clip cuts s to width runes (0: no limit), ending it with "…" when cut.
func clip(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:max(width-1, 0)]) + "…"
}

// sample asks every server at once.
func (t *topView) sample(ctx context.Context) []topRow {
	rows := make([]topRow, len(t.hosts))
	var wg sync.WaitGroup
	for i, h := range t.hosts {
		wg.Go(func() { rows[i] = t.sampleOne(ctx, h) })
	}
	wg.Wait()
	return rows
}

// sampleOne asks one server: mntr, else the AdminServer, else srvr. The
// source that worked is tried first next time.
func (t *topView) sampleOne(ctx context.Context, host string) topRow {
	t.mu.Lock()
	src := t.source[host]
	t.mu.Unlock()
	if src != "" {
		if row, err := t.sampleFrom(ctx, host, src); err == nil {
			return row
		}
	}
	var err error
	for _, s := range []string{"mntr", "admin", "srvr"} {
		var row topRow
		if row, err = t.sampleFrom(ctx, host, s); err == nil {
			t.mu.Lock()
			t.source[host] = s
			t.mu.Unlock()
			return row
		}
		if s == "mntr" && !errors.Is(err, keeper.ErrNotWhitelisted) {
			break // unreachable or not serving: the other sources will not do better
		}
	}
	t.mu.Lock()
	delete(t.source, host)
	t.mu.Unlock()
	msg := strings.TrimPrefix(errorLine(err), "keeper: ")
	if errors.Is(err, keeper.ErrNotServing) {
		msg = "not serving (starting, or electing a leader)"
	}
	return topRow{Server: host, Error: msg}
}

// sampleFrom asks one server through one source, waiting at most
// t.wait.
func (t *topView) sampleFrom(ctx context.Context, host, src string) (topRow, error) {
	ctx, cancel := context.WithTimeout(ctx, t.wait)
	defer cancel()
	var row topRow
	var err error
	switch src {
	case "mntr":
		row, err = sampleMntr(ctx, host)
	case "admin":
		row, err = t.sampleAdmin(ctx, host)
	default:
		row, err = sampleSrvr(ctx, host)
	}
	row.Server, row.Source = host, src
	return row, err
}

func sampleMntr(ctx context.Context, host string) (topRow, error) {
	out, err := keeper.Command(ctx, host, "mntr")
	if err != nil {
		return topRow{}, err
	}
	m, err := keeper.ParseMntr(out)
	if err != nil {
		return topRow{}, err
	}
	return topRow{Mode: m.ServerState, LatencyMin: m.MinLatency, LatencyAvg: m.AvgLatency, LatencyMax: m.MaxLatency,
		Outstanding: m.OutstandingRequests, Znodes: m.ZnodeCount, Watches: m.WatchCount,
		Connections: m.NumAliveConnections}, nil
}

func sampleSrvr(ctx context.Context, host string) (topRow, error) {
	out, err := keeper.Command(ctx, host, "srvr")
	if err != nil {
		return topRow{}, err
	}
	s, err := keeper.ParseSrvr(out)
	if err != nil {
		return topRow{}, err
	}
	return topRow{Mode: s.Mode, LatencyMin: s.LatencyMin, LatencyAvg: s.LatencyAvg, LatencyMax: s.LatencyMax,
		Outstanding: s.Outstanding, Znodes: s.NodeCount, Watches: -1, Connections: s.Connections}, nil
}

// sampleAdmin reads the AdminServer's monitor command (the JSON twin of
// mntr, with the keys lacking the "zk_" prefix).
func (t *topView) sampleAdmin(ctx context.Context, host string) (topRow, error) {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		return topRow{}, err
	}
	url := "http://" + net.JoinHostPort(h, strconv.Itoa(t.adminPort)) + "/commands/monitor"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return topRow{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return topRow{}, fmt.Errorf("keeper: admin server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return topRow{}, fmt.Errorf("keeper: admin server %s: %s", url, resp.Status)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 16<<20))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return topRow{}, fmt.Errorf("keeper: admin server %s: %w", url, err)
	}
	if e, ok := m["error"].(string); ok && e != "" {
		return topRow{}, fmt.Errorf("keeper: admin server %s: %s", url, e)
	}
	num := func(k string) float64 {
		if n, ok := m[k].(json.Number); ok {
			f, _ := n.Float64()
			return f
		}
		return 0
	}
	mode, _ := m["server_state"].(string)
	if mode == "" {
		return topRow{}, fmt.Errorf("keeper: admin server %s: no server_state in the reply", url)
	}
	return topRow{Mode: mode, LatencyMin: num("min_latency"), LatencyAvg: num("avg_latency"),
		LatencyMax: num("max_latency"), Outstanding: int64(num("outstanding_requests")),
		Znodes: int64(num("znode_count")), Watches: int64(num("watch_count")),
		Connections: int64(num("num_alive_connections"))}, nil
}
