package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/keeper-go/keeper"
)

func init() {
	register(dumpCommand, loadCommand, cpCommand, mvCommand, diffCommand)
}

var dumpCommand = &command{
	name:    "dump",
	args:    "[-o file] [path]",
	summary: "write a subtree as JSON: data (base64), ACLs, ephemeral flags",
	help: `The dump lists every node, parents first, with its path relative to the
dumped path ("/" is the dumped node itself), its data in base64 (null for a
node without data), its ACL, and "ephemeral": true for ephemeral nodes.
/zookeeper is left out when dumping the root. keeper load reads it back.`,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		out := fs.String("o", "-", "write to `file` instead of standard output")
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			nodes, err := a.readTree(ctx, c, p, true, true)
			if err != nil {
				return err
			}
			if n := hiddenDigests(nodes); n > 0 {
				fmt.Fprintf(a.stderr, "keeper: dump: warning: the server hid the digest hashes (user:x) in the ACLs of %s, "+
					"as it does without ADMIN permission: load cannot restore those entries (dump with --auth of a user with ADMIN)\n", plural(int64(n), "node"))
			}
			return a.writeDump(*out, toDump(p, nodes))
		}
	},
}

var loadCommand = &command{
	name:    "load",
	args:    "[-f] file [path]",
	summary: "recreate a dumped subtree (file - reads standard input)",
	help: `Nodes are created under path (default: the path that was dumped) with their
data and ACLs, parents first; missing parents of path are created. The
destination itself may exist: its data is replaced and its ACL kept. Any
other existing node is an error (NodeExists) unless -f, which overwrites its
data. Ephemeral nodes are skipped (their session is not ours) and counted.`,
	min: 1,
	max: 2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		force := fs.Bool("f", false, "overwrite the data of existing nodes")
		return func(ctx context.Context, args []string) error {
			d, err := a.readDump(args[0])
			if err != nil {
				return err
			}
			nodes, err := fromDump(d)
			if err != nil {
				return fmt.Errorf("keeper: load %s: %w", args[0], err)
			}
			dst := d.Root
			if len(args) > 1 {
				dst = args[1]
			}
			if dst, err = resolve(a.cwd, dst); err != nil {
				return err
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			created, updated, skipped, err := a.writeTree(ctx, c, dst, nodes,
				writeOpts{force: *force, existingRoot: true, ephemerals: "skip"})
			if err != nil {
				return fmt.Errorf("keeper: load %s (%s created, %d updated before the error): %w", dst, plural(int64(created), "node"), updated, err)
			}
			fmt.Fprintf(a.stderr, "loaded %s: %d created, %d updated, %d ephemeral skipped\n", dst, created, updated, skipped)
			return nil
		}
	},
}

var cpCommand = &command{
	name:    "cp",
	args:    "[-r] [-f] source destination",
	summary: "copy a node (-r: a subtree) between paths, ensembles and local files",
	help: `source and destination are znode paths (relative to the current directory),
zk://host:port[,host:port]/path URLs of another ensemble (dns-srv://name/path
for the ensemble of name's SRV records), or local files:
file:///abs/path, file:rel/path, ./rel/path, ~/path or - (standard input or
output). A file holds one node's raw data, or with -r a dump (as keeper dump
writes it). The destination names the copy itself and must not exist, unless
-f overwrites the data of existing nodes. ACLs are copied; ephemeral nodes are
copied as persistent ones.`,
	min: 2,
	max: 2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		recursive := fs.Bool("r", false, "copy the whole subtree")
		force := fs.Bool("f", false, "overwrite the data of existing nodes")
		return func(ctx context.Context, args []string) error {
			src, dst, err := a.endpoints(lookupCommand("cp"), args)
			if err != nil {
				return err
			}
			_, err = a.copyNodes(ctx, src, dst, *recursive, *force)
			return err
		}
	},
}

// hiddenDigests counts the nodes whose ACL has a digest entry whose hash
// the server replaced by "x".
func hiddenDigests(nodes []znode) int {
	n := 0
	for _, z := range nodes {
		for _, e := range z.acl {
			if e.Scheme == "digest" && strings.HasSuffix(e.ID, ":x") {
				n++
				break
			}
		}
	}
	return n
}

// endpoints parses the source and destination of cp and mv.
func (a *app) endpoints(cmd *command, args []string) (src, dst location, err error) {
	if src, err = a.parseLocation(args[0]); err != nil {
		return
	}
	if dst, err = a.parseLocation(args[1]); err != nil {
		return
	}
	switch {
	case src.file != "" && dst.file != "":
		err = usageErr(cmd, "source and destination are both local files")
	case src.file == "" && dst.file == "" && src.servers == dst.servers && within(src.path, dst.path):
		err = usageErr(cmd, "cannot copy %s into itself (%s)", src, dst)
	}
	return
}

// copyNodes copies src to dst and returns the nodes read from src.
func (a *app) copyNodes(ctx context.Context, src, dst location, recursive, force bool) ([]znode, error) {
	nodes, err := a.readAt(ctx, src, recursive, true)
	if err != nil {
		return nil, err
	}
	if dst.file != "" {
		if recursive {
			root := src.path
			if src.file != "" {
				root = "/"
			}
			return nodes, a.writeDump(dst.file, toDump(root, nodes))
		}
		if dst.file == "-" {
			_, err = a.stdout.Write(nodes[0].data)
			return nodes, err
		}
		if !force {
			if _, err := os.Stat(dst.file); err == nil {
				return nil, fmt.Errorf("keeper: %s exists (-f overwrites it)", dst.file)
			}
		}
		return nodes, writeFile(dst.file, func(w io.Writer) error {
			_, err := w.Write(nodes[0].data)
			return err
		})
	}
	c, err := a.clientAt(ctx, dst)
	if err != nil {
		return nil, err
	}
	_, _, _, err = a.writeTree(ctx, c, dst.path, nodes, writeOpts{force: force, ephemerals: "persistent"})
	return nodes, err
}

// maxTxnBytes bounds the estimated size of a transaction mv sends, below the
// server's default jute.maxbuffer (1 MiB).
const maxTxnBytes = 768 << 10

var mvCommand = &command{
	name:    "mv",
	args:    "[-f] source destination",
	summary: "move a subtree, atomically (one transaction) where it fits",
	help: `Within one ensemble, a subtree that fits in one request (about 768 KiB of
data and paths) moves in one transaction: every node is created at the
destination and deleted at the source, each delete checking the version that
was read, so a concurrent change makes the whole move fail and nothing
changes. Larger subtrees, and moves between ensembles or to and from local
files (see cp), are a copy then a version-checked delete, which is not atomic:
the command says so on stderr. Ephemeral nodes cannot be moved.`,
	min: 2,
	max: 2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		force := fs.Bool("f", false, "overwrite the data of existing nodes (never atomic)")
		return func(ctx context.Context, args []string) error {
			src, dst, err := a.endpoints(lookupCommand("mv"), args)
			if err != nil {
				return err
			}
			if src.file == "" && dst.file == "" && src.servers == dst.servers && !*force {
				done, err := a.moveTxn(ctx, src, dst)
				if done || err != nil {
					return err
				}
			}
			nodes, err := a.copyNodes(ctx, src, dst, true, *force)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "keeper: mv %s %s: copied, then deleting the source (not atomic)\n", src, dst)
			if src.file != "" {
				if src.file == "-" {
					return nil
				}
				if err := os.Remove(src.file); err != nil {
					return fmt.Errorf("keeper: %w", err)
				}
				return nil
			}
			c, err := a.clientAt(ctx, src)
			if err != nil {
				return err
			}
			for i := len(nodes) - 1; i >= 0; i-- {
				octx, cancel := a.op(ctx)
				p := under(src.path, nodes[i].rel)
				err := c.Delete(octx, p, nodes[i].version)
				err = a.opErr(octx, err)
				cancel()
				if err != nil {
					return fmt.Errorf("keeper: mv: the copy at %s is complete but deleting the source failed: %w", dst, err)
				}
			}
			return nil
		}
	},
}

// moveTxn moves src to dst on one ensemble in one transaction. It returns
// false (and no error) when the subtree is too large for one.
func (a *app) moveTxn(ctx context.Context, src, dst location) (bool, error) {
	c, err := a.clientAt(ctx, src)
	if err != nil {
		return false, err
	}
	nodes, err := a.readTree(ctx, c, src.path, true, true)
	if err != nil {
		return false, err
	}
	size := 0
	for _, n := range nodes {
		if n.ephemeral {
			return false, fmt.Errorf("keeper: mv: %s is ephemeral: it cannot be moved", under(src.path, n.rel))
		}
		size += len(n.data) + 2*len(under(dst.path, n.rel)) + 64
	}
	if size > maxTxnBytes {
		return false, nil
	}
	// Missing parents of the destination are created first; they are not
	// part of the move.
	if parent := path.Dir(dst.path); parent != "/" {
		octx, cancel := a.op(ctx)
		err := a.opErr(octx, c.EnsurePath(octx, parent))
		cancel()
		if err != nil {
			return false, err
		}
	}
	txn := c.Txn()
	for _, n := range nodes {
		var opts []keeper.CreateOption
		if n.acl != nil {
			opts = append(opts, keeper.WithACL(n.acl...))
		}
		txn.Create(under(dst.path, n.rel), n.data, opts...)
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		txn.Delete(under(src.path, nodes[i].rel), nodes[i].version)
	}
	octx, cancel := a.op(ctx)
	defer cancel()
	_, err = txn.Commit(octx)
	if err != nil {
		return false, a.opErr(octx, fmt.Errorf("keeper: mv %s %s (nothing changed): %w", src, dst, err))
	}
	return true, nil
}

var diffCommand = &command{
	name:    "diff",
	args:    "[--json] left right",
	summary: "compare two subtrees (paths, zk:// URLs of other ensembles, or dump files)",
	help: `Prints one line per difference, with paths relative to each side's root:
"- /x" only on the left, "+ /y" only on the right, "~ /z" data differs.
Local files (see cp) are read as dumps. Nothing is printed when the subtrees
hold the same nodes and data. As with diff(1), the exit status is 0 when the
subtrees are the same, 1 when they differ and 2 for trouble (an error).`,
	min: 2,
	max: 2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			return troubleIs2(a.diff(ctx, args, *asJSON))
		}
	},
}

// troubleIs2 gives an error exit status 2, as diff(1) has for trouble.
func troubleIs2(err error) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &statusError{err: err, code: 2}
}

// diff compares two locations and prints their differences.
func (a *app) diff(ctx context.Context, args []string, asJSON bool) error {
	var sides [2]map[string][]byte
	for i, arg := range args {
		l, err := a.parseLocation(arg)
		if err != nil {
			return err
		}
		nodes, err := a.readAt(ctx, l, true, false)
		if err != nil {
			return err
		}
		sides[i] = map[string][]byte{}
		for _, n := range nodes {
			sides[i][n.rel] = n.data
		}
	}
	var paths []string
	for p := range sides[0] {
		paths = append(paths, p)
	}
	for p := range sides[1] {
		if _, ok := sides[0][p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	type change struct {
		Path string `json:"path"`
		Kind string `json:"change"` // onlyLeft, onlyRight, data
	}
	changes := []change{}
	for _, p := range paths {
		l, inL := sides[0][p]
		r, inR := sides[1][p]
		switch {
		case !inR:
			changes = append(changes, change{p, "onlyLeft"})
		case !inL:
			changes = append(changes, change{p, "onlyRight"})
		case !bytes.Equal(l, r) || (l == nil) != (r == nil):
			changes = append(changes, change{p, "data"})
		}
	}
	if asJSON {
		if err := writeJSON(a.stdout, changes); err != nil {
			return err
		}
	} else {
		marks := map[string]string{"onlyLeft": "-", "onlyRight": "+", "data": "~"}
		for _, ch := range changes {
			fmt.Fprintf(a.stdout, "%s %s\n", marks[ch.Kind], ch.Path)
		}
	}
	if len(changes) > 0 {
		return &exitError{1} // they differ, as diff(1) says it
	}
	return nil
}
