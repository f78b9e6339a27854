package keeper

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/keeper-go/keeper/internal/wire"
)

// Ephemerals returns the paths of the ephemeral nodes this session owns
// whose path starts with prefix (a plain string prefix: "/app/lock"
// matches "/app/lock-1" too), sorted. "/" (or "") lists them all. Paths
// are relative to the chroot, and only nodes inside it are listed.
// It needs ZooKeeper 3.6+ (ErrUnimplemented otherwise). It is retried on
// connection loss like Get.
func (c *Client) Ephemerals(ctx context.Context, prefix string) ([]string, error) {
	if prefix == "" {
		prefix = "/"
	}
	if err := validatePath(prefix, true); err != nil {
		return nil, err
	}
	if err := c.requireVersion("getEphemerals", prefix, 3, 6, 0); err != nil {
		return nil, err
	}
	var resp wire.GetEphemeralsResponse
	err := c.read(ctx, func(ctx context.Context) error {
		_, err := c.call(ctx, wire.OpGetEphemerals, "getEphemerals", prefix,
			&wire.GetEphemeralsRequest{PrefixPath: c.root.add(prefix)}, &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(resp.Ephemerals))
	for _, p := range resp.Ephemerals {
		q := c.root.strip(p)
		if c.root != "" && q == p {
			continue // a sibling of the chroot that shares its prefix
		}
		out = append(out, q)
	}
	slices.Sort(out)
	return out, nil
}

// CountChildren returns the number of the node's descendants (children,
// their children, and so on; not the node itself). It needs ZooKeeper
// 3.6+ (ErrUnimplemented otherwise). It is retried on connection loss
// like Get.
func (c *Client) CountChildren(ctx context.Context, path string) (int, error) {
	if err := validatePath(path, false); err != nil {
		return 0, err
	}
	if err := c.requireVersion("getAllChildrenNumber", path, 3, 6, 0); err != nil {
		return 0, err
	}
	var resp wire.GetAllChildrenNumberResponse
	err := c.read(ctx, func(ctx context.Context) error {
		_, err := c.call(ctx, wire.OpGetAllChildrenNumber, "getAllChildrenNumber", path,
			&wire.GetAllChildrenNumberRequest{Path: c.root.add(path)}, &resp, nil)
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(resp.TotalNumber), nil
}

// ClientInfo is one identity of a session, as WhoAmI reports it: Scheme
// "ip" with the client's address, "digest" with a digest user name,
// "sasl", "x509" with a certificate's subject, "super", ...
type ClientInfo struct {
	Scheme string
	User   string
}

// WhoAmI returns the identities the server knows this session by: the
// ones ACLs are checked against. It needs ZooKeeper 3.7+
// (ErrUnimplemented otherwise). It is retried on connection loss like
// Get.
func (c *Client) WhoAmI(ctx context.Context) ([]ClientInfo, error) {
	if err := c.requireVersion("whoAmI", "", 3, 7, 0); err != nil {
		return nil, err
	}
	var resp wire.WhoAmIResponse
	err := c.read(ctx, func(ctx context.Context) error {
		_, err := c.call(ctx, wire.OpWhoAmI, "whoAmI", "", nil, &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]ClientInfo, len(resp.ClientInfo))
	for i, ci := range resp.ClientInfo {
		out[i] = ClientInfo{Scheme: ci.AuthScheme, User: ci.User}
	}
	return out, nil
}

// configPath is the node holding the ensemble's dynamic configuration,
// always outside any chroot.
const configPath = "/zookeeper/config"

// EnsembleConfig is an ensemble's dynamic configuration: its members and
// the configuration's version (the zxid that made it, as the "version="
// line gives it in hex). A standalone server has an empty one.
type EnsembleConfig struct {
	Members []Member
	Version int64
	// Raw is the configuration as the server stores it.
	Raw []byte
}

// Member is one server of an ensemble:
// "server.ID=Host:QuorumPort:ElectionPort[:Role][;[ClientHost:]ClientPort]".
type Member struct {
	ID           int
	Host         string
	QuorumPort   int
	ElectionPort int
	// Role is "participant" (a voter) or "observer".
	Role string
	// ClientHost and ClientPort are where clients connect; ClientPort is
	// 0 when the configuration does not say, and ClientHost is "" when
	// only the port is given.
	ClientHost string
	ClientPort int
}

// String returns the member in the configuration's syntax, as Reconfig
// and AddMembers take it.
func (m Member) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server.%d=%s:%d:%d", m.ID, bracketHost(m.Host), m.QuorumPort, m.ElectionPort)
	if m.Role != "" {
		b.WriteString(":" + m.Role)
	}
	if m.ClientPort > 0 {
		b.WriteString(";")
		if m.ClientHost != "" {
			b.WriteString(bracketHost(m.ClientHost) + ":")
		}
		b.WriteString(strconv.Itoa(m.ClientPort))
	}
	return b.String()
}

func bracketHost(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// Member returns the member with server id id.
func (e *EnsembleConfig) Member(id int) (Member, bool) {
	for _, m := range e.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// clientAddrs returns the members' client addresses; a wildcard client
// host (the server listens everywhere) is replaced by the member's host.
func (e *EnsembleConfig) clientAddrs() []hostPort {
	var out []hostPort
	for _, m := range e.Members {
		if m.ClientPort <= 0 {
			continue
		}
		h := m.ClientHost
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			h = m.Host
		}
		out = append(out, hostPort{host: h, port: m.ClientPort})
	}
	return out
}

// Config reads the ensemble's dynamic configuration from
// /zookeeper/config (outside the chroot, whatever it is). The client then
// uses the members' client addresses as its server list for later
// reconnects, unless it uses TLS (the configuration lists only the plain
// ports). It is retried on connection loss like Get.
func (c *Client) Config(ctx context.Context) (*EnsembleConfig, error) {
	var resp wire.GetDataResponse
	err := c.read(ctx, func(ctx context.Context) error {
		_, err := c.call(ctx, wire.OpGetData, "getConfig", configPath, &wire.GetDataRequest{Path: configPath}, &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.useConfig(resp.Data, "getConfig")
}

// useConfig parses a configuration and adopts its client addresses.
func (c *Client) useConfig(data []byte, op string) (*EnsembleConfig, error) {
	cfg, err := ParseEnsembleConfig(data)
	if err != nil {
		return nil, fmt.Errorf("keeper: %s: %w", op, err)
	}
	if c.cfg.tlsConfig == nil {
		c.setHosts(cfg.clientAddrs())
	}
	return cfg, nil
}

// ParseEnsembleConfig parses the data of /zookeeper/config: lines
// "server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]"
// and "version=hex". Other lines are ignored; of a server with several
// quorum addresses ("a:1:2|b:1:2"), the first is kept. Empty data is an
// empty configuration.
func ParseEnsembleConfig(data []byte) (*EnsembleConfig, error) {
	cfg := &EnsembleConfig{Raw: bytes.Clone(data)}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case key == "version":
			v, err := strconv.ParseInt(val, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("bad config version %q", val)
			}
			cfg.Version = v
		case strings.HasPrefix(key, "server."):
			id, err := strconv.Atoi(key[len("server."):])
			if err != nil || id < 0 {
				return nil, fmt.Errorf("bad server id in %q", line)
			}
			m, err := parseMember(val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			m.ID = id
			cfg.Members = append(cfg.Members, m)
		}
	}
	return cfg, nil
}

// parseMember parses "host:q:e[:role][;[clientHost:]clientPort]".
func parseMember(s string) (Member, error) {
	var m Member
	quorum, client, hasClient := strings.Cut(s, ";")
	if i := strings.IndexByte(quorum, '|'); i >= 0 {
		quorum = quorum[:i]
	}
	host, rest, err := splitHost(quorum)
	if err != nil {
		return m, err
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return m, fmt.Errorf("bad server address %q", s)
	}
	m.Host = host
	if m.QuorumPort, err = parsePort(parts[0]); err != nil {
		return m, err
	}
	if m.ElectionPort, err = parsePort(parts[1]); err != nil {
		return m, err
	}
	if len(parts) == 3 {
		m.Role = parts[2]
	}
	if hasClient {
		client = strings.TrimSpace(client)
		if i := strings.LastIndexByte(client, ':'); i >= 0 {
			h, p, err := splitHost(client)
			if err != nil {
				return m, err
			}
			m.ClientHost = h
			client = p
		}
		if m.ClientPort, err = parsePort(client); err != nil {
			return m, err
		}
	}
	return m, nil
}

// splitHost splits "host:rest" or "[v6]:rest" at the host's end.
func splitHost(s string) (host, rest string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return "", "", fmt.Errorf("bad address %q", s)
		}
		return s[1:end], s[end+2:], nil
	}
	host, rest, ok := strings.Cut(s, ":")
	if !ok || host == "" {
		return "", "", fmt.Errorf("bad address %q", s)
	}
	return host, rest, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p <= 0 || p > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}

// reconfigBody is the reconfig request with Java's nulls: a list not
// given is sent as a null string, which the server tells apart from an
// empty one (an empty newMembers would mean "no members").
type reconfigBody struct {
	joining, leaving, members []string
	from                      int64
}

func appendList(b []byte, l []string) []byte {
	if len(l) == 0 {
		return wire.AppendInt32(b, -1)
	}
	return wire.AppendString(b, strings.Join(l, ","))
}

// Append encodes the request body.
func (r *reconfigBody) Append(b []byte) []byte {
	b = appendList(b, r.joining)
	b = appendList(b, r.leaving)
	b = appendList(b, r.members)
	return wire.AppendInt64(b, r.from)
}

// Decode is never used: the client only sends this record.
func (r *reconfigBody) Decode(*wire.Reader) {}

// Reconfig changes the ensemble's membership and returns the new
// configuration. Either give joining servers (in the configuration's
// syntax, see Member.String) and leaving server ids (decimal), an
// incremental change, or newMembers, the whole new membership. fromConfig
// is the version the change applies to (ErrBadVersion if the current one
// differs), or -1 for any. The server must run with reconfigEnabled=true
// (else ErrReconfigDisabled), as an ensemble, and the session needs WRITE
// on /zookeeper/config (in practice: super, through a superDigest).
// Like Config, it adopts the new members' client addresses. Reconfig is
// never retried by the client.
func (c *Client) Reconfig(ctx context.Context, joining, leaving, newMembers []string, fromConfig int64) (*EnsembleConfig, error) {
	if len(newMembers) > 0 && (len(joining) > 0 || len(leaving) > 0) {
		return nil, fmt.Errorf("keeper: reconfig: %w: give either newMembers or joining/leaving servers", ErrBadArguments)
	}
	if len(newMembers) == 0 && len(joining) == 0 && len(leaving) == 0 {
		return nil, fmt.Errorf("keeper: reconfig: %w: no change given", ErrBadArguments)
	}
	for _, l := range [][]string{joining, leaving, newMembers} {
		for _, s := range l {
			if s == "" || strings.ContainsAny(s, ",\n") {
				return nil, fmt.Errorf("keeper: reconfig: %w: bad entry %q", ErrBadArguments, s)
			}
		}
	}
	var resp wire.GetDataResponse
	_, err := c.call(ctx, wire.OpReconfig, "reconfig", "",
		&reconfigBody{joining: joining, leaving: leaving, members: newMembers, from: fromConfig}, &resp, nil)
	if err != nil {
		return nil, err
	}
	return c.useConfig(resp.Data, "reconfig")
}

// AddMembers adds servers to the ensemble (each in the configuration's
// syntax, see Member.String), whatever the current configuration's
// version; see Reconfig.
func (c *Client) AddMembers(ctx context.Context, servers ...string) (*EnsembleConfig, error) {
	return c.Reconfig(ctx, servers, nil, nil, -1)
}

// RemoveMembers removes the servers with these ids from the ensemble,
// whatever the current configuration's version; see Reconfig.
func (c *Client) RemoveMembers(ctx context.Context, ids ...int) (*EnsembleConfig, error) {
	leaving := make([]string, len(ids))
	for i, id := range ids {
		leaving[i] = strconv.Itoa(id)
	}
	return c.Reconfig(ctx, nil, leaving, nil, -1)
}
