package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/keeper-go/keeper"
)

func init() {
	register(srvrCommand, mntrCommand, consCommand, fourLetterCommand)
}

// hostsOf returns the "host:port" addresses of a connect string (without its
// chroot), with the default port where none is given.
func hostsOf(servers string) ([]string, error) {
	s := strings.TrimSpace(servers)
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '/':
			if depth == 0 {
				s = s[:i]
				i = len(s)
			}
		}
	}
	var hosts []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port: a name, an IPv4 address or a bracketed IPv6 one.
			host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), strconv.Itoa(keeper.DefaultPort)
			if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(h, "[")) {
				return nil, fmt.Errorf("%w %q: host %q: use [addr]:port for IPv6", keeper.ErrBadConnectString, servers, h)
			}
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w %q: bad port in %q", keeper.ErrBadConnectString, servers, h)
		}
		hosts = append(hosts, net.JoinHostPort(host, port))
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w %q: no host", keeper.ErrBadConnectString, servers)
	}
	return hosts, nil
}

// dnsSRVScheme starts a connect string whose servers are the targets of
// DNS SRV records: dns-srv://_zookeeper._tcp.example.com/chroot.
const dnsSRVScheme = "dns-srv://"

// srvName returns the SRV name of a dns-srv:// connect string.
func srvName(servers string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(servers), dnsSRVScheme)
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return name, true
}

// serverAddrs returns the "host:port" addresses of a connect string, looking
// up the SRV records of a dns-srv:// one.
func serverAddrs(ctx context.Context, servers string) ([]string, error) {
	name, ok := srvName(servers)
	if !ok {
		return hostsOf(servers)
	}
	if name == "" {
		return nil, fmt.Errorf("%w %q: no SRV name", keeper.ErrBadConnectString, servers)
	}
	_, recs, err := net.DefaultResolver.LookupSRV(ctx, "", "", name)
	if err != nil {
		return nil, fmt.Errorf("keeper: dns-srv lookup of %s: %w", name, err)
	}
	var hosts []string
	for _, r := range recs {
		hosts = append(hosts, net.JoinHostPort(strings.TrimSuffix(r.Target, "."), strconv.Itoa(int(r.Port))))
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("keeper: dns-srv lookup of %s: no server in the SRV records", name)
	}
	return hosts, nil
}

// askAll sends a four-letter word to every server of the connect string at
// once and returns the replies in server order. Servers that failed have an
// error in errs (nil otherwise); err joins them.
func (a *app) askAll(ctx context.Context, word string) (hosts, replies []string, errs []error, err error) {
	hosts, err = serverAddrs(ctx, a.conn.servers())
	if err != nil {
		return nil, nil, nil, err
	}
	replies = make([]string, len(hosts))
	errs = make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			octx, cancel := a.op(ctx)
			defer cancel()
			replies[i], errs[i] = keeper.Command(octx, h, word)
			if errs[i] != nil && ctx.Err() != nil {
				errs[i] = contextErr(ctx)
			}
		})
	}
	wg.Wait()
	return hosts, replies, errs, nil
}

// fourLetterErr explains a four-letter word's failure.
func fourLetterErr(word, host string, err error) error {
	switch {
	case errors.Is(err, keeper.ErrNotWhitelisted):
		return &notWhitelistedError{word: word, host: host}
	case strings.Contains(err.Error(), host):
		return err
	default:
		return fmt.Errorf("keeper: %s %s: %w", word, host, err)
	}
}

// notWhitelistedError is a server's refusal of a four-letter word, said once.
type notWhitelistedError struct{ word, host string }

func (e *notWhitelistedError) Error() string {
	return fmt.Sprintf("keeper: %s %s: refused: the word is not in the server's 4lw.commands.whitelist (list it, or *, in zoo.cfg)", e.word, e.host)
}

func (e *notWhitelistedError) Unwrap() error { return keeper.ErrNotWhitelisted }

// serverErrText is the "error" member of a server's entry in --json output:
// the same text for every command, without the "keeper: " prefix.
func serverErrText(word, host string, err error) string {
	return strings.TrimPrefix(errorLine(fourLetterErr(word, host, err)), "keeper: ")
}

// serverErrJSON is the entry of a server that failed, in --json maps.
func serverErrJSON(word, host string, err error) map[string]string {
	return map[string]string{"error": serverErrText(word, host, err)}
}

// mntrValue turns an mntr value into a JSON number when it is one.
func mntrValue(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return v
}

// collect parses each reply with parse and returns the parsed values (nil
// for failed servers) and the joined errors.
func collect[T any](word string, hosts, replies []string, errs []error, parse func(string) (T, error)) ([]T, error) {
	out := make([]T, len(hosts))
	var all []error
	for i := range hosts {
		if errs[i] == nil {
			out[i], errs[i] = parse(replies[i])
		}
		if errs[i] != nil {
			all = append(all, fourLetterErr(word, hosts[i], errs[i]))
		}
	}
	return out, errors.Join(all...)
}

var srvrCommand = &command{
	name:    "srvr",
	args:    "[--json]",
	summary: "show every server's mode, version, latency and counts (four-letter word srvr)",
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			return a.serverStats(ctx, "srvr", *asJSON)
		}
	},
}

// serverStatsJSON is srvr's or stat's output in JSON.
type serverStatsJSON struct {
	Server      string   `json:"server"`
	Error       string   `json:"error,omitempty"`
	Mode        string   `json:"mode,omitempty"`
	Version     string   `json:"version,omitempty"`
	ReadOnly    bool     `json:"readOnly,omitempty"`
	LatencyMin  float64  `json:"latencyMin"`
	LatencyAvg  float64  `json:"latencyAvg"`
	LatencyMax  float64  `json:"latencyMax"`
	Received    int64    `json:"received"`
	Sent        int64    `json:"sent"`
	Connections int64    `json:"connections"`
	Outstanding int64    `json:"outstanding"`
	Zxid        string   `json:"zxid,omitempty"`
	NodeCount   int64    `json:"nodeCount"`
	Clients     []string `json:"clients,omitempty"`
}

// serverStats prints srvr's (or stat's) reply of every server as a table.
func (a *app) serverStats(ctx context.Context, word string, asJSON bool) error {
	hosts, replies, errs, err := a.askAll(ctx, word)
	if err != nil {
		return err
	}
	parse := keeper.ParseSrvr
	if word == "stat" {
		parse = keeper.ParseStat
	}
	stats, err := collect(word, hosts, replies, errs, parse)
	if asJSON {
		out := make([]serverStatsJSON, len(hosts))
		for i, st := range stats {
			out[i].Server = hosts[i]
			if st == nil {
				out[i].Error = serverErrText(word, hosts[i], errs[i])
				continue
			}
			out[i] = serverStatsJSON{
				Server: hosts[i], Mode: st.Mode, Version: st.VersionLine, ReadOnly: st.ReadOnly,
				LatencyMin: st.LatencyMin, LatencyAvg: st.LatencyAvg, LatencyMax: st.LatencyMax,
				Received: st.Received, Sent: st.Sent, Connections: st.Connections, Outstanding: st.Outstanding,
				Zxid: hex64(st.Zxid), NodeCount: st.NodeCount, Clients: st.Clients,
			}
		}
		if jerr := writeJSON(a.stdout, out); jerr != nil {
			return jerr
		}
		return err
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "SERVER\tMODE\tVERSION\tLATENCY min/avg/max\tRECEIVED\tSENT\tCONNECTIONS\tOUTSTANDING\tZXID\tNODES")
	for i, st := range stats {
		if st == nil {
			fmt.Fprintf(tw, "%s\t(error)\n", hosts[i])
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\n", hosts[i], st.Mode, st.Version,
			latency(st.LatencyMin, st.LatencyAvg, st.LatencyMax), st.Received, st.Sent, st.Connections,
			st.Outstanding, hex64(st.Zxid), st.NodeCount)
	}
	tw.Flush()
	if word == "stat" {
		fmt.Fprintln(a.stdout)
		tw = newTable(a.stdout)
		fmt.Fprintln(tw, "SERVER\tCLIENT")
		for i, st := range stats {
			if st == nil {
				continue
			}
			for _, c := range st.Clients {
				fmt.Fprintf(tw, "%s\t%s\n", hosts[i], c)
			}
		}
		tw.Flush()
	}
	return err
}

// latency formats a min/avg/max triple in milliseconds.
func latency(lo, avg, hi float64) string {
	f := func(v float64) string {
		s := strconv.FormatFloat(v, 'f', 2, 64)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s
	}
	return f(lo) + "/" + f(avg) + "/" + f(hi)
}

var mntrCommand = &command{
	name:    "mntr",
	args:    "[--json] [key-substring...]",
	summary: "show every server's metrics side by side (four-letter word mntr)",
	help: `Each row is a metric, each column a server. Arguments keep only the metrics
whose name contains one of them (mntr latency watch). Stock servers only
allow srvr: set 4lw.commands.whitelist=* (or list mntr) in zoo.cfg.`,
	max: -1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON: an object of metrics per server")
		return func(ctx context.Context, args []string) error {
			hosts, replies, errs, err := a.askAll(ctx, "mntr")
			if err != nil {
				return err
			}
			mons, err := collect("mntr", hosts, replies, errs, keeper.ParseMntr)
			keep := func(k string) bool {
				if len(args) == 0 {
					return true
				}
				for _, s := range args {
					if strings.Contains(k, s) {
						return true
					}
				}
				return false
			}
			keySet := map[string]bool{}
			for _, m := range mons {
				if m != nil {
					for k := range m.Raw {
						if keep(k) {
							keySet[k] = true
						}
					}
				}
			}
			keys := make([]string, 0, len(keySet))
			for k := range keySet {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if *asJSON {
				out := map[string]any{}
				for i, m := range mons {
					if m == nil {
						out[hosts[i]] = serverErrJSON("mntr", hosts[i], errs[i])
						continue
					}
					vals := map[string]any{}
					for _, k := range keys {
						if v, ok := m.Raw[k]; ok {
							vals[k] = mntrValue(v)
						}
					}
					out[hosts[i]] = vals
				}
				if jerr := writeJSON(a.stdout, out); jerr != nil {
					return jerr
				}
				return err
			}
			tw := newTable(a.stdout)
			fmt.Fprint(tw, "KEY")
			for _, h := range hosts {
				fmt.Fprint(tw, "\t", h)
			}
			fmt.Fprintln(tw)
			for _, k := range keys {
				fmt.Fprint(tw, k)
				for _, m := range mons {
					v := "-"
					if m != nil {
						if x, ok := m.Raw[k]; ok {
							v = x
						}
					}
					fmt.Fprint(tw, "\t", v)
				}
				fmt.Fprintln(tw)
			}
			tw.Flush()
			return err
		}
	},
}

var consCommand = &command{
	name:    "cons",
	args:    "[--json]",
	summary: "list every server's client connections (four-letter word cons)",
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			hosts, replies, errs, err := a.askAll(ctx, "cons")
			if err != nil {
				return err
			}
			all, err := collect("cons", hosts, replies, errs, keeper.ParseCons)
			type connJSON struct {
				Server     string  `json:"server"`
				Error      string  `json:"error,omitempty"`
				Client     string  `json:"client,omitempty"`
				Session    string  `json:"session,omitempty"`
				Queued     int64   `json:"queued"`
				Received   int64   `json:"received"`
				Sent       int64   `json:"sent"`
				LastOp     string  `json:"lastOp,omitempty"`
				TimeoutMs  int64   `json:"timeoutMs,omitempty"`
				LatencyMin float64 `json:"latencyMin"`
				LatencyAvg float64 `json:"latencyAvg"`
				LatencyMax float64 `json:"latencyMax"`
			}
			rows := []connJSON{}
			var failed []connJSON
			for i, conns := range all {
				if errs[i] != nil {
					failed = append(failed, connJSON{Server: hosts[i], Error: serverErrText("cons", hosts[i], errs[i])})
				}
				for _, c := range conns {
					r := connJSON{Server: hosts[i], Client: c.Addr, Queued: c.Queued, Received: c.Received,
						Sent: c.Sent, LastOp: c.LastOp, TimeoutMs: c.Timeout.Milliseconds(),
						LatencyMin: c.MinLatency, LatencyAvg: c.AvgLatency, LatencyMax: c.MaxLatency}
					if c.SessionID != 0 {
						r.Session = hex64(c.SessionID)
					}
					rows = append(rows, r)
				}
			}
			if *asJSON {
				if jerr := writeJSON(a.stdout, append(rows, failed...)); jerr != nil {
					return jerr
				}
				return err
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "SERVER\tCLIENT\tSESSION\tQUEUED\tRECEIVED\tSENT\tLAST OP\tLATENCY min/avg/max")
			for _, r := range rows {
				session, op := r.Session, r.LastOp
				if session == "" {
					session = "-"
				}
				if op == "" {
					op = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Server, r.Client, session, r.Queued,
					r.Received, r.Sent, op, latency(r.LatencyMin, r.LatencyAvg, r.LatencyMax))
			}
			tw.Flush()
			return err
		}
	},
}

var fourLetterCommand = &command{
	name:    "4lw",
	args:    "[--json] word",
	summary: "send any four-letter word (stat, conf, envi, ruok, isro, wchs...) to every server",
	help: `stat is shown as srvr's table plus the client list, conf and envi as key-value
tables, mntr, srvr and cons as their own commands do; other words print each
server's raw reply under a header.`,
	min: 1,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			word := args[0]
			switch word {
			case "stat", "srvr":
				return a.serverStats(ctx, word, *asJSON)
			case "mntr", "cons":
				return a.runCommand(ctx, lookupCommand(word), jsonArgs(*asJSON))
			}
			hosts, replies, errs, err := a.askAll(ctx, word)
			if err != nil {
				return err
			}
			if word == "conf" || word == "envi" {
				parse := keeper.ParseConf
				if word == "envi" {
					parse = keeper.ParseEnvi
				}
				pairs, err := collect(word, hosts, replies, errs, parse)
				if *asJSON {
					out := map[string]map[string]string{}
					for i, p := range pairs {
						if p != nil {
							out[hosts[i]] = p
						} else {
							out[hosts[i]] = serverErrJSON(word, hosts[i], errs[i])
						}
					}
					if jerr := writeJSON(a.stdout, out); jerr != nil {
						return jerr
					}
					return err
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "SERVER\tKEY\tVALUE")
				for i, p := range pairs {
					keys := make([]string, 0, len(p))
					for k := range p {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", hosts[i], k, p[k])
					}
				}
				tw.Flush()
				return err
			}
			var all []error
			out := map[string]map[string]string{}
			for i, h := range hosts {
				if errs[i] == nil && strings.HasSuffix(strings.TrimSpace(replies[i]), "is not executed because it is not in the whitelist.") {
					errs[i] = keeper.ErrNotWhitelisted
				}
				if errs[i] != nil {
					all = append(all, fourLetterErr(word, h, errs[i]))
					out[h] = serverErrJSON(word, h, errs[i])
					continue
				}
				out[h] = map[string]string{"reply": replies[i]}
				if !*asJSON {
					fmt.Fprintf(a.stdout, "== %s ==\n%s", h, replies[i])
					if !strings.HasSuffix(replies[i], "\n") {
						fmt.Fprintln(a.stdout)
					}
				}
			}
			if *asJSON {
				if err := writeJSON(a.stdout, out); err != nil {
					return err
				}
			}
			return errors.Join(all...)
		}
	},
}

// jsonArgs returns the flag arguments that pass on --json.
func jsonArgs(asJSON bool) []string {
	if asJSON {
		return []string{"--json"}
	}
	return nil
}
