package keeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// ErrNotWhitelisted is returned when a server refuses a four-letter word that
// is not in its 4lw.commands.whitelist. Since 3.5.3 only srvr is allowed by
// default; set 4lw.commands.whitelist=* (or list the words) on the server.
var ErrNotWhitelisted = errors.New("keeper: four-letter word not in the server's whitelist")

// ErrNotServing is returned by the parsers when the server answered that it
// is not currently serving requests: it is starting, electing a leader or cut
// off from its quorum. Such a server may still answer ruok with imok.
var ErrNotServing = errors.New("keeper: server is not currently serving requests")

// errEmptyReply is the cause when a reply that must have content is empty.
var errEmptyReply = errors.New("empty reply (the server closed the connection without answering: " +
	"an unknown four-letter word, or not a ZooKeeper client port?)")

// maxReply caps the size of a four-letter-word reply that Command accepts.
const maxReply = 16 << 20

// Replies that mean the same on every server version.
const (
	notWhitelistedSuffix = " is not executed because it is not in the whitelist."
	notServingReply      = "This ZooKeeper instance is not currently serving requests"
)

// Command sends the four-letter word cmd (such as "srvr", "mntr", "ruok",
// "stat", "cons", "conf", "envi", "wchc" or "isro") to the server at addr
// ("host:port") on a fresh TCP connection and returns the server's whole
// reply, read until the server closes the connection. Replies larger than
// 16 MiB are an error. cmd must be exactly four lowercase ASCII letters,
// otherwise Command returns an error without dialing. An unknown word gets an
// empty reply and no error, as the server just closes the connection.
//
// ctx bounds the dial, the write and the read; when it ends first the error
// matches ctx.Err() under errors.Is. Command sets no timeout of its own: give
// ctx a deadline, or a server that never closes the connection blocks it
// until ctx is cancelled. A server that refuses cmd because of its
// whitelist gives an error matching ErrNotWhitelisted.
//
// Command is safe for concurrent use. Parse the reply with ParseSrvr,
// ParseStat, ParseMntr, ParseCons, ParseRuok, ParseConf, ParseEnvi or
// ParseIsro.
func Command(ctx context.Context, addr, cmd string) (string, error) {
	if err := checkWord(cmd); err != nil {
		return "", err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", fmt.Errorf("keeper: four-letter word %s to %s: %w", cmd, addr, err)
	}
	defer nc.Close()
	out, err := exchangeWord(ctx, nc, cmd)
	if err != nil {
		return "", fmt.Errorf("keeper: four-letter word %s to %s: %w", cmd, addr, err)
	}
	return out, nil
}

// checkWord returns an error unless cmd is four lowercase ASCII letters.
func checkWord(cmd string) error {
	ok := len(cmd) == 4
	for i := 0; ok && i < len(cmd); i++ {
		ok = cmd[i] >= 'a' && cmd[i] <= 'z'
	}
	if !ok {
		return fmt.Errorf("keeper: four-letter word %q: must be exactly four lowercase letters", cmd)
	}
	return nil
}

// exchangeWord writes cmd on nc, an otherwise unused connection, and reads
// the reply until EOF. ctx bounds both; cancelling it unblocks the I/O at
// once. It does not close nc.
func exchangeWord(ctx context.Context, nc net.Conn, cmd string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// When ctx ends, a past deadline makes blocked reads and writes return
	// at once; ctx.Err() is set by then, so the error says why.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	_, err := io.WriteString(nc, cmd)
	var out []byte
	if err == nil {
		out, err = io.ReadAll(io.LimitReader(nc, maxReply+1))
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	if len(out) > maxReply {
		return "", fmt.Errorf("reply larger than %d bytes", maxReply)
	}
	reply := string(out)
	if isNotWhitelisted(reply) {
		return "", fmt.Errorf("%s: %w", cmd, ErrNotWhitelisted)
	}
	return reply, nil
}

// isNotWhitelisted reports whether out is the server's refusal of a word
// missing from its whitelist.
func isNotWhitelisted(out string) bool {
	s := strings.TrimSpace(out)
	return strings.HasSuffix(s, notWhitelistedSuffix) && !strings.Contains(s, "\n")
}

// checkReply returns the error that a reply stands for, if it is one of the
// fixed answers every command may give instead of its output.
func checkReply(what, out string) error {
	s := strings.TrimSpace(out)
	switch {
	case s == "":
		return fmt.Errorf("keeper: parse %s: %w", what, errEmptyReply)
	case isNotWhitelisted(s):
		return fmt.Errorf("keeper: parse %s: %w", what, ErrNotWhitelisted)
	case s == notServingReply:
		return fmt.Errorf("keeper: parse %s: %w", what, ErrNotServing)
	}
	return nil
}

// lines splits a reply into lines without their line endings; a trailing
// newline does not add an empty last line.
func lines(out string) []string {
	out = strings.TrimSuffix(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// ServerStats is the output of srvr (and of stat, which adds Clients).
// Fields the server did not print keep their zero value.
type ServerStats struct {
	// Version is the server's version, parsed from VersionLine.
	Version Version
	// VersionLine is the text after "Zookeeper version: ", for example
	// "3.7.0-e3704b390a6697bfdf4b0bef79e3da7a4f6bac4b, built on 2021-03-17
	// 09:46 UTC". Its build-date format changed in 3.7.0 (before, it read
	// "built on 01/06/2021 19:49 GMT").
	VersionLine string
	// ReadOnly is true when a read-only server said so.
	ReadOnly bool
	// LatencyMin, LatencyAvg and LatencyMax are request latencies in
	// milliseconds. Before 3.6 the average is printed as an integer.
	LatencyMin, LatencyAvg, LatencyMax float64
	// Received and Sent count packets since the last reset.
	Received, Sent int64
	// Connections is the number of live client connections.
	Connections int64
	// Outstanding is the number of queued requests.
	Outstanding int64
	// Zxid is the last processed zxid.
	Zxid int64
	// Mode is "standalone", "leader", "follower", "observer" or "read-only".
	Mode string
	// NodeCount is the number of znodes.
	NodeCount int64
	// ProposalLast, ProposalMin and ProposalMax are the proposal sizes in
	// bytes a leader reports (-1 before the first proposal); HasProposals
	// tells whether the line was present.
	ProposalLast, ProposalMin, ProposalMax int64
	HasProposals                           bool
	// Clients holds stat's client lines, trimmed, such as
	// "/127.0.0.1:45682[1](queued=0,recved=6,sent=6)". srvr leaves it nil.
	Clients []string
}

// ParseSrvr parses the reply to srvr. It works with every layout from 3.5 to
// 3.9 and ignores lines it does not know, but a known line with a malformed
// value is an error. A reply without the version or
// mode line is an error; so is a refusal (ErrNotWhitelisted) or the
// not-serving answer (ErrNotServing) of a server that is not ready.
func ParseSrvr(out string) (*ServerStats, error) {
	return parseServerStats("srvr", out)
}

// ParseStat parses the reply to stat: srvr's fields plus the "Clients:" block.
func ParseStat(out string) (*ServerStats, error) {
	return parseServerStats("stat", out)
}

func parseServerStats(what, out string) (*ServerStats, error) {
	if err := checkReply(what, out); err != nil {
		return nil, err
	}
	st := &ServerStats{}
	var haveVersion, haveMode, inClients bool
	for n, line := range lines(out) {
		bad := func(err error) error {
			return fmt.Errorf("keeper: parse %s: line %d %q: %w", what, n+1, clip(line), err)
		}
		if inClients {
			if c := strings.TrimSpace(line); c != "" {
				st.Clients = append(st.Clients, c)
				continue
			}
			inClients = false // the block ends with an empty line
			continue
		}
		if line == "Clients:" {
			inClients = true
			if st.Clients == nil {
				st.Clients = []string{}
			}
			continue
		}
		if strings.HasPrefix(line, "READ-ONLY mode") {
			st.ReadOnly = true
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue // a line a later version may add
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Zookeeper version":
			st.VersionLine = val
			st.Version, err = ParseVersion(val)
			haveVersion = true
		case "Latency min/avg/max":
			st.LatencyMin, st.LatencyAvg, st.LatencyMax, err = parseTriple(val, strconv.ParseFloat)
		case "Received":
			st.Received, err = parseInt(val)
		case "Sent":
			st.Sent, err = parseInt(val)
		case "Connections":
			st.Connections, err = parseInt(val)
		case "Outstanding":
			st.Outstanding, err = parseInt(val)
		case "Zxid":
			st.Zxid, err = parseHex(val)
		case "Mode":
			st.Mode = val
			haveMode = val != ""
		case "Node count":
			st.NodeCount, err = parseInt(val)
		case "Proposal sizes last/min/max":
			st.ProposalLast, st.ProposalMin, st.ProposalMax, err = parseTriple(val, func(s string, _ int) (int64, error) { return parseInt(s) })
			st.HasProposals = err == nil
		}
		if err != nil {
			return nil, bad(err)
		}
	}
	if !haveVersion {
		return nil, fmt.Errorf("keeper: parse %s: no \"Zookeeper version:\" line", what)
	}
	if !haveMode {
		return nil, fmt.Errorf("keeper: parse %s: no \"Mode:\" line", what)
	}
	return st, nil
}

// parseTriple parses "a/b/c" with parse.
func parseTriple[T any](s string, parse func(string, int) (T, error)) (a, b, c T, err error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return a, b, c, errors.New("want three values separated by '/'")
	}
	var v [3]T
	for i, p := range parts {
		if v[i], err = parse(strings.TrimSpace(p), 64); err != nil {
			return a, b, c, err
		}
	}
	return v[0], v[1], v[2], nil
}

func parseInt(s string) (int64, error) {
	return strconv.ParseInt(s, 10, 64)
}

// parseHex parses a zxid or session id printed as "0x3" (or without 0x).
// Values are 64-bit two's complement, as Java's Long.toHexString prints them.
func parseHex(s string) (int64, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	u, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("bad hex number %q", clip(s))
	}
	return int64(u), nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Monitor is the output of mntr: every key and value in Raw, and the common
// ones also typed. Fields missing from a server's output keep their zero
// value; the set of keys grows with each release (3.6 added hundreds of
// metrics).
type Monitor struct {
	// Version is parsed from zk_version; VersionLine is its whole text.
	Version     Version
	VersionLine string
	// ServerState is zk_server_state: "standalone", "leader", "follower",
	// "observer" or "read-only".
	ServerState string
	// AvgLatency, MinLatency and MaxLatency are request latencies in
	// milliseconds.
	AvgLatency, MinLatency, MaxLatency float64
	PacketsReceived, PacketsSent       int64
	NumAliveConnections                int64
	OutstandingRequests                int64
	ZnodeCount                         int64
	WatchCount                         int64
	EphemeralsCount                    int64
	ApproximateDataSize                int64
	OpenFileDescriptorCount            int64
	MaxFileDescriptorCount             int64
	// Followers, SyncedFollowers and PendingSyncs are only printed by a
	// leader.
	Followers, SyncedFollowers, PendingSyncs int64
	// Raw maps every key as printed (with its "zk_" prefix) to its value.
	Raw map[string]string
}

// Int returns the value of key as an integer. The key may be given with or
// without its "zk_" prefix.
func (m *Monitor) Int(key string) (int64, bool) {
	v, ok := m.lookup(key)
	if !ok {
		return 0, false
	}
	n, err := parseInt(v)
	return n, err == nil
}

// Float returns the value of key as a floating-point number. The key may be
// given with or without its "zk_" prefix.
func (m *Monitor) Float(key string) (float64, bool) {
	v, ok := m.lookup(key)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

func (m *Monitor) lookup(key string) (string, bool) {
	if m == nil {
		return "", false
	}
	if v, ok := m.Raw[key]; ok || strings.HasPrefix(key, "zk_") {
		// A key given with its prefix is that key only: "zk_znode_count"
		// is not the "zk_zk_znode_count" of a strange server.
		return v, ok
	}
	v, ok := m.Raw["zk_"+key]
	return v, ok
}

// ParseMntr parses the reply to mntr: one "key<TAB>value" per line. A line
// without a tab is an error, as is a refusal (ErrNotWhitelisted) or the
// not-serving answer (ErrNotServing).
func ParseMntr(out string) (*Monitor, error) {
	if err := checkReply("mntr", out); err != nil {
		return nil, err
	}
	m := &Monitor{Raw: make(map[string]string)}
	for n, line := range lines(out) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, val, ok := strings.Cut(line, "\t")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("keeper: parse mntr: line %d %q: not a key<TAB>value line", n+1, clip(line))
		}
		val = strings.TrimSpace(val)
		m.Raw[key] = val
		var err error
		switch key {
		case "zk_version":
			m.VersionLine = val
			m.Version, err = ParseVersion(val)
		case "zk_server_state":
			m.ServerState = val
		case "zk_avg_latency":
			m.AvgLatency, err = strconv.ParseFloat(val, 64)
		case "zk_min_latency":
			m.MinLatency, err = strconv.ParseFloat(val, 64)
		case "zk_max_latency":
			m.MaxLatency, err = strconv.ParseFloat(val, 64)
		default:
			if p := m.intField(key); p != nil {
				*p, err = parseInt(val)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("keeper: parse mntr: line %d %q: %w", n+1, clip(line), err)
		}
	}
	return m, nil
}

// intField returns the typed integer field for a mntr key, or nil.
func (m *Monitor) intField(key string) *int64 {
	switch key {
	case "zk_packets_received":
		return &m.PacketsReceived
	case "zk_packets_sent":
		return &m.PacketsSent
	case "zk_num_alive_connections":
		return &m.NumAliveConnections
	case "zk_outstanding_requests":
		return &m.OutstandingRequests
	case "zk_znode_count":
		return &m.ZnodeCount
	case "zk_watch_count":
		return &m.WatchCount
	case "zk_ephemerals_count":
		return &m.EphemeralsCount
	case "zk_approximate_data_size":
		return &m.ApproximateDataSize
	case "zk_open_file_descriptor_count":
		return &m.OpenFileDescriptorCount
	case "zk_max_file_descriptor_count":
		return &m.MaxFileDescriptorCount
	case "zk_followers":
		return &m.Followers
	case "zk_synced_followers":
		return &m.SyncedFollowers
	case "zk_pending_syncs":
		return &m.PendingSyncs
	}
	return nil
}

// Conn is one client connection as the cons four-letter word lists it.
// Connections without a session (such as the one asking) have only Addr,
// Interest, Queued, Received and Sent.
type Conn struct {
	// Addr is the remote address as the server prints it, without the
	// leading '/': "127.0.0.1:45682", "[0:0:0:0:0:0:0:1]:45682", or
	// "host/10.0.0.1:45682" when the server resolved a name.
	Addr string
	// Interest is the connection's selector interest set (0 while the
	// server is not reading from it).
	Interest int64
	// Queued, Received and Sent count outstanding requests and packets.
	Queued, Received, Sent int64
	// SessionID is the session on the connection, 0 if none.
	SessionID int64
	// LastOp is the last operation, such as "GETD", "PING" or "NA".
	LastOp string
	// Established is when the connection was established.
	Established time.Time
	// Timeout is the negotiated session timeout.
	Timeout time.Duration
	// LastCxid is the last client xid, -1 if the server did not print one.
	LastCxid int64
	// LastZxid is the last zxid sent to the client.
	LastZxid int64
	// LastResponse is the server's monotonic clock, in milliseconds, at the
	// last response; it is not a wall-clock time.
	LastResponse int64
	// LastLatency, MinLatency, AvgLatency and MaxLatency are request
	// latencies in milliseconds.
	LastLatency, MinLatency, AvgLatency, MaxLatency float64
	// Raw is the line as printed, trimmed.
	Raw string
}

// ParseCons parses the reply to cons, one Conn per line. A line that is not
// a connection is an error (the parser never skips what it cannot read), as
// is a refusal (ErrNotWhitelisted) or the not-serving answer (ErrNotServing).
// Keys a newer server adds are ignored.
func ParseCons(out string) ([]Conn, error) {
	if err := checkReply("cons", out); err != nil {
		return nil, err
	}
	conns := []Conn{}
	for n, line := range lines(out) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		c, err := parseConn(line)
		if err != nil {
			return nil, fmt.Errorf("keeper: parse cons: line %d %q: %w", n+1, clip(line), err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// parseConn parses one trimmed cons line:
// /addr[interest](key=value,...).
func parseConn(line string) (Conn, error) {
	c := Conn{Raw: line, LastCxid: -1}
	open := strings.Index(line, "](")
	if open < 0 || !strings.HasSuffix(line, ")") {
		return c, errors.New("not a connection line")
	}
	lb := strings.LastIndexByte(line[:open], '[')
	if lb < 0 {
		return c, errors.New("not a connection line")
	}
	c.Addr = strings.TrimPrefix(line[:lb], "/")
	if c.Addr == "" {
		return c, errors.New("no address")
	}
	interest, err := strconv.ParseInt(line[lb+1:open], 16, 64)
	if err != nil {
		return c, fmt.Errorf("bad interest set %q", clip(line[lb+1:open]))
	}
	c.Interest = interest
	body := line[open+2 : len(line)-1]
	for _, kv := range strings.Split(body, ",") {
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("bad field %q", clip(kv))
		}
		var err error
		switch key {
		case "queued":
			c.Queued, err = parseInt(val)
		case "recved":
			c.Received, err = parseInt(val)
		case "sent":
			c.Sent, err = parseInt(val)
		case "sid":
			c.SessionID, err = parseHex(val)
		case "lop":
			c.LastOp = val
		case "est":
			var ms int64
			if ms, err = parseInt(val); err == nil {
				c.Established = time.UnixMilli(ms)
			}
		case "to":
			var ms int64
			if ms, err = parseInt(val); err == nil {
				if ms < 0 || ms > int64(time.Duration(1<<62)/time.Millisecond) {
					err = fmt.Errorf("timeout %d ms out of range", ms)
				}
				c.Timeout = time.Duration(ms) * time.Millisecond
			}
		case "lcxid":
			c.LastCxid, err = parseHex(val)
		case "lzxid":
			c.LastZxid, err = parseHex(val)
		case "lresp":
			c.LastResponse, err = parseInt(val)
		case "llat":
			c.LastLatency, err = strconv.ParseFloat(val, 64)
		case "minlat":
			c.MinLatency, err = strconv.ParseFloat(val, 64)
		case "avglat":
			c.AvgLatency, err = strconv.ParseFloat(val, 64)
		case "maxlat":
			c.MaxLatency, err = strconv.ParseFloat(val, 64)
		}
		if err != nil {
			return c, fmt.Errorf("field %s: %w", key, err)
		}
	}
	return c, nil
}

// ParseRuok parses the reply to ruok: "imok" gives true. An empty reply (the
// server closed without answering) gives false and no error; a refusal gives
// false and ErrNotWhitelisted; anything else is an error. imok only means the
// server process listens: use ParseSrvr (its Mode) to learn if it serves.
func ParseRuok(out string) (bool, error) {
	s := strings.TrimSpace(out)
	switch {
	case s == "imok":
		return true, nil
	case s == "":
		return false, nil
	case isNotWhitelisted(s):
		return false, fmt.Errorf("keeper: parse ruok: %w", ErrNotWhitelisted)
	}
	return false, fmt.Errorf("keeper: parse ruok: unexpected reply %q", clip(s))
}

// ParseConf parses the reply to conf into its key=value pairs. Lines without
// '=' (such as the "membership:" header of a quorum member) are skipped. A
// refusal gives ErrNotWhitelisted, a server that is not ready ErrNotServing.
func ParseConf(out string) (map[string]string, error) {
	return parsePairs("conf", out, "")
}

// ParseEnvi parses the reply to envi (an "Environment:" header, then
// key=value lines) into its pairs.
func ParseEnvi(out string) (map[string]string, error) {
	return parsePairs("envi", out, "Environment:")
}

// parsePairs parses key=value lines, skipping header and lines without '='.
// It needs at least one pair.
func parsePairs(what, out, header string) (map[string]string, error) {
	if err := checkReply(what, out); err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, line := range lines(out) {
		if header != "" && strings.TrimSpace(line) == header {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			continue
		}
		m[key] = val
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("keeper: parse %s: no key=value line in %q", what, clip(strings.TrimSpace(out)))
	}
	return m, nil
}

// ParseIsro parses the reply to isro: "ro" for a read-only server, "rw" for
// a read-write one. "null" (the server is not running) gives ErrNotServing.
func ParseIsro(out string) (readOnly bool, err error) {
	s := strings.TrimSpace(out)
	switch s {
	case "ro":
		return true, nil
	case "rw":
		return false, nil
	case "null":
		return false, fmt.Errorf("keeper: parse isro: %w", ErrNotServing)
	}
	if err := checkReply("isro", s); err != nil {
		return false, err
	}
	return false, fmt.Errorf("keeper: parse isro: unexpected reply %q", clip(s))
}
