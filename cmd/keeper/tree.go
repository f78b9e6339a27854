package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/keeper-go/keeper"
)

// dumpFormat names the JSON layout of dump files.
const dumpFormat = "keeper-dump/1"

// dumpFile is a subtree as dump writes it and load reads it.
type dumpFile struct {
	Format string     `json:"format"`
	Root   string     `json:"root"` // the dumped path
	Nodes  []dumpNode `json:"nodes"`
}

// dumpNode is one node of a dump. Path is relative to the root: "/" for the
// root itself, "/a/b" below it. Data is base64 (null for a node without
// data, which stays distinct from empty data).
type dumpNode struct {
	Path           string    `json:"path"`
	Data           *string   `json:"data"`
	ACL            []aclJSON `json:"acl,omitempty"`
	Ephemeral      bool      `json:"ephemeral,omitempty"`
	EphemeralOwner string    `json:"ephemeralOwner,omitempty"`
}

// znode is a node read from a tree, a dump or a file.
type znode struct {
	rel       string // relative to the tree's root, as dumpNode.Path
	data      []byte
	acl       []keeper.ACL // nil when not read
	version   int32
	ephemeral bool
	owner     int64
}

// readTree reads root (and, when recursive, its whole subtree) from c, parents
// before children. With acls it reads each node's ACL too. /zookeeper is left
// out when reading the real root.
func (a *app) readTree(ctx context.Context, c *keeper.Client, root string, recursive, acls bool) ([]znode, error) {
	depth := 0
	if recursive {
		depth = -1
	}
	var nodes []znode
	err := a.walk(ctx, c, root, walkOpts{data: true, acl: acls, maxDepth: depth, skipSystem: true}, func(n *node) error {
		nodes = append(nodes, znode{rel: relTo(root, n.path), data: n.data, acl: n.acl, version: n.stat.Version,
			ephemeral: n.stat.EphemeralOwner != 0, owner: n.stat.EphemeralOwner})
		return nil
	})
	return nodes, err
}

// writeOpts tunes writeTree.
type writeOpts struct {
	force bool // overwrite the data of existing nodes
	// existingRoot lets the destination itself exist (load): its data is
	// replaced, its ACL kept.
	existingRoot bool
	ephemerals   string // "skip" or "persistent": what to do with ephemeral nodes
}

// writeTree creates nodes under dst on c, in order (parents first), with
// their ACLs when known, and returns how many nodes it created and updated
// and how many ephemeral nodes it skipped. Missing parents of dst are
// created. Nodes with children get their ACL after their children exist, so
// that an ACL without CREATE for us does not stop the copy.
func (a *app) writeTree(ctx context.Context, c *keeper.Client, dst string, nodes []znode, o writeOpts) (created, updated, skipped int, err error) {
	hasChildren := map[string]bool{}
	for _, n := range nodes {
		if n.rel != "/" {
			hasChildren[path.Dir(n.rel)] = true
		}
	}
	type pendingACL struct {
		path string
		acl  []keeper.ACL
	}
	var later []pendingACL
	for _, n := range nodes {
		p := under(dst, n.rel)
		if n.ephemeral && o.ephemerals == "skip" {
			skipped++
			continue
		}
		opts := []keeper.CreateOption{}
		if n.rel == "/" {
			opts = append(opts, keeper.MakeParents())
		}
		if n.acl != nil && !sameACL(n.acl, keeper.OpenACL()) {
			if hasChildren[n.rel] {
				later = append(later, pendingACL{p, n.acl})
			} else {
				opts = append(opts, keeper.WithACL(n.acl...))
			}
		}
		octx, cancel := a.op(ctx)
		_, err := c.Create(octx, p, n.data, opts...)
		if errors.Is(err, keeper.ErrNoAuth) && o.force {
			// The parent may deny CREATE, but the node may exist already.
			if st, _ := c.Exists(octx, p); st != nil {
				err = &keeper.Error{Op: "create", Path: p, Code: keeper.CodeNodeExists}
			}
		}
		if errors.Is(err, keeper.ErrNodeExists) && (o.force || (o.existingRoot && n.rel == "/")) {
			if n.rel == "/" && len(later) > 0 && later[len(later)-1].path == p {
				later = later[:len(later)-1] // an existing root keeps its ACL
			}
			var cur []byte
			if cur, _, err = c.Get(octx, p); err == nil && !sameData(cur, n.data) {
				_, err = c.Set(octx, p, n.data, keeper.AnyVersion)
				updated++
			}
		} else if err == nil {
			created++
		}
		err = a.opErr(octx, err)
		cancel()
		if err != nil {
			return created, updated, skipped, err
		}
	}
	for i := len(later) - 1; i >= 0; i-- {
		octx, cancel := a.op(ctx)
		_, err := c.SetACL(octx, later[i].path, later[i].acl, keeper.AnyVersion)
		err = a.opErr(octx, err)
		cancel()
		if err != nil {
			return created, updated, skipped, err
		}
	}
	return created, updated, skipped, nil
}

// sameData compares node data, telling no data (nil) from empty data.
func sameData(a, b []byte) bool {
	return (a == nil) == (b == nil) && string(a) == string(b)
}

// toDump converts nodes read from root into a dump.
func toDump(root string, nodes []znode) *dumpFile {
	d := &dumpFile{Format: dumpFormat, Root: root, Nodes: make([]dumpNode, len(nodes))}
	for i, n := range nodes {
		dn := dumpNode{Path: n.rel, Ephemeral: n.ephemeral}
		if n.data != nil {
			s := base64.StdEncoding.EncodeToString(n.data)
			dn.Data = &s
		}
		if n.acl != nil {
			dn.ACL = toACLJSON(n.acl)
		}
		if n.ephemeral {
			dn.EphemeralOwner = hex64(n.owner)
		}
		d.Nodes[i] = dn
	}
	return d
}

// fromDump checks a dump and converts its nodes, parents first.
func fromDump(d *dumpFile) ([]znode, error) {
	if d.Format != dumpFormat {
		return nil, fmt.Errorf("not a keeper dump (format %q, want %q)", d.Format, dumpFormat)
	}
	seen := map[string]bool{}
	nodes := make([]znode, 0, len(d.Nodes))
	for i, dn := range d.Nodes {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("node %d (%q): %s", i, dn.Path, fmt.Sprintf(format, args...))
		}
		p, err := resolve("/", dn.Path)
		if err != nil || p != dn.Path {
			return nil, bad("bad path")
		}
		if p != "/" && !seen[path.Dir(p)] {
			return nil, bad("its parent comes later or is missing")
		}
		if seen[p] {
			return nil, bad("listed twice")
		}
		seen[p] = true
		z := znode{rel: p, ephemeral: dn.Ephemeral}
		if dn.Data != nil {
			z.data, err = base64.StdEncoding.DecodeString(*dn.Data)
			if err != nil {
				return nil, bad("data is not base64: %v", err)
			}
			if z.data == nil {
				z.data = []byte{}
			}
		}
		if dn.ACL != nil {
			if z.acl, err = fromACLJSON(dn.ACL); err != nil {
				return nil, bad("%v", err)
			}
		}
		nodes = append(nodes, z)
	}
	if len(nodes) > 0 && nodes[0].rel != "/" {
		return nil, errors.New("the first node must be the root, path \"/\"")
	}
	return nodes, nil
}

// readDump reads a dump from a file ("-" for standard input).
func (a *app) readDump(name string) (*dumpFile, error) {
	var r io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("keeper: %w", err)
		}
		defer f.Close()
		r = f
	}
	var d dumpFile
	dec := json.NewDecoder(r)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("keeper: reading dump %s: %w", name, err)
	}
	return &d, nil
}

// writeDump writes a dump to a file ("-" for standard output).
func (a *app) writeDump(name string, d *dumpFile) error {
	if name == "-" {
		return writeJSON(a.stdout, d)
	}
	return writeFile(name, func(w io.Writer) error { return writeJSON(w, d) })
}

// writeFile writes a local file through a temporary file in the same
// directory, renamed into place once complete.
func writeFile(name string, fill func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("keeper: writing %s: %w", name, err)
	}
	return nil
}

// location is where cp, mv and diff read or write: a znode path on the
// --server ensemble, a path on another ensemble (zk://host:port/path), or a
// local file.
type location struct {
	file    string // a local file ("-": standard input or output) when set
	servers string // another ensemble's connect string, for zk:// URLs
	path    string // the znode path
}

func (l location) String() string {
	switch {
	case l.file != "":
		return l.file
	case strings.HasPrefix(l.servers, dnsSRVScheme):
		return l.servers + l.path
	case l.servers != "":
		return "zk://" + l.servers + l.path
	}
	return l.path
}

// parseLocation parses a cp, mv or diff argument. Local files are written
// file:///abs/path, file:rel/path, ./rel/path, ~/path or - (standard input
// or output); zk://host:port[,host:port]/path (or dns-srv://name/path, the
// ensemble of name's SRV records) names a node of another
// ensemble; anything else is a znode path, relative to the current directory.
func (a *app) parseLocation(s string) (location, error) {
	switch {
	case strings.HasPrefix(s, dnsSRVScheme):
		// dns-srv://name/path: the ensemble of name's SRV records.
		name, p, _ := strings.Cut(s[len(dnsSRVScheme):], "/")
		if name == "" {
			return location{}, fmt.Errorf("%w %q: no SRV name in the dns-srv:// URL", keeper.ErrBadConnectString, s)
		}
		p, err := resolve("/", "/"+p)
		if err != nil {
			return location{}, err
		}
		return location{servers: dnsSRVScheme + name, path: p}, nil
	case strings.HasPrefix(s, "zk://"):
		rest := s[len("zk://"):]
		servers, p := rest, "/"
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			servers, p = rest[:i], rest[i:]
		}
		if servers == "" {
			return location{}, fmt.Errorf("%w %q: no host in the zk:// URL", keeper.ErrBadConnectString, s)
		}
		if _, err := hostsOf(servers); err != nil {
			return location{}, err
		}
		p, err := resolve("/", p)
		if err != nil {
			return location{}, err
		}
		return location{servers: servers, path: p}, nil
	case strings.HasPrefix(s, "file://"):
		return localFile(s[len("file://"):])
	case strings.HasPrefix(s, "file:"):
		return localFile(s[len("file:"):])
	case s == "-" || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "~/"):
		return localFile(s)
	}
	p, err := resolve(a.cwd, s)
	if err != nil {
		return location{}, err
	}
	return location{path: p}, nil
}

// localFile returns the location of a local file, expanding a leading ~/.
func localFile(name string) (location, error) {
	if name == "" {
		return location{}, usageErr(nil, "empty file name")
	}
	if strings.HasPrefix(name, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return location{}, fmt.Errorf("keeper: %w", err)
		}
		name = filepath.Join(home, name[2:])
	}
	return location{file: name}, nil
}

// clientAt returns the client for a znode location.
func (a *app) clientAt(ctx context.Context, l location) (*keeper.Client, error) {
	if l.servers != "" {
		return a.clientOf(ctx, l.servers)
	}
	return a.client(ctx)
}

// readAt reads the nodes at a location: a subtree (recursive) or one node.
// A local file holds a dump when recursive, else the raw data of one node.
func (a *app) readAt(ctx context.Context, l location, recursive, acls bool) ([]znode, error) {
	if l.file != "" {
		if recursive {
			d, err := a.readDump(l.file)
			if err != nil {
				return nil, err
			}
			nodes, err := fromDump(d)
			if err != nil {
				return nil, fmt.Errorf("keeper: dump %s: %w", l.file, err)
			}
			return nodes, nil
		}
		var data []byte
		var err error
		if l.file == "-" {
			data, err = io.ReadAll(a.stdin)
		} else {
			data, err = os.ReadFile(l.file)
		}
		if err != nil {
			return nil, fmt.Errorf("keeper: %w", err)
		}
		return []znode{{rel: "/", data: data}}, nil
	}
	c, err := a.clientAt(ctx, l)
	if err != nil {
		return nil, err
	}
	return a.readTree(ctx, c, l.path, recursive, acls)
}
