package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keeper-go/keeper"
)

// pathArg returns the absolute path of args[i], or the current directory
// when there is no such argument.
func (a *app) pathArg(args []string, i int) (string, error) {
	if i >= len(args) {
		return a.cwd, nil
	}
	return resolve(a.cwd, args[i])
}

// pathAndClient returns the absolute path of args[i] (see pathArg) and the
// connected client, checking the path before connecting.
func (a *app) pathAndClient(ctx context.Context, args []string, i int) (string, *keeper.Client, error) {
	p, err := a.pathArg(args, i)
	if err != nil {
		return "", nil, err
	}
	c, err := a.client(ctx)
	if err != nil {
		return "", nil, err
	}
	return p, c, nil
}

func init() {
	register(lsCommand, treeCommand, getCommand, statCommand, duCommand, findCommand, grepCommand)
}

var lsCommand = &command{
	name:    "ls",
	args:    "[-l] [-R] [--json] [path]",
	summary: "list a node's children (-l with their stats, -R the whole subtree)",
	max:     1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		long := fs.Bool("l", false, "long listing: type, version, size, children, modification time")
		recursive := fs.Bool("R", false, "list every descendant, by absolute path")
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			type entry struct {
				Name string    `json:"name"`
				Path string    `json:"path"`
				Stat *statJSON `json:"stat,omitempty"`
			}
			var entries []entry
			var stats []*keeper.Stat
			add := func(name, full string, st *keeper.Stat) {
				e := entry{Name: name, Path: full}
				if *long {
					e.Stat = toStatJSON(st)
				}
				entries = append(entries, e)
				stats = append(stats, st)
			}
			if *recursive {
				err = a.walk(ctx, c, p, walkOpts{maxDepth: -1}, func(n *node) error {
					if n.depth > 0 {
						add(n.path, n.path, n.stat)
					}
					return nil
				})
			} else {
				octx, cancel := a.op(ctx)
				var names []string
				names, err = c.Children(octx, p)
				err = a.opErr(octx, err)
				cancel()
				sort.Strings(names)
				for _, name := range names {
					full := keeper.JoinPath(p, name)
					var st *keeper.Stat
					if *long {
						octx, cancel := a.op(ctx)
						st, err = c.Exists(octx, full)
						err = a.opErr(octx, err)
						cancel()
						if err != nil {
							return err
						}
						if st == nil { // deleted meanwhile
							continue
						}
					}
					add(name, full, st)
				}
			}
			if err != nil {
				return err
			}
			if *asJSON {
				if !*long {
					names := make([]string, len(entries))
					for i, e := range entries {
						names[i] = e.Name
					}
					return writeJSON(a.stdout, names)
				}
				if entries == nil {
					entries = []entry{}
				}
				return writeJSON(a.stdout, entries)
			}
			if !*long {
				for _, e := range entries {
					fmt.Fprintln(a.stdout, e.Name)
				}
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "TYPE\tVERSION\tSIZE\tCHILDREN\tMODIFIED\tNAME")
			for i, e := range entries {
				st := stats[i]
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", nodeType(st), st.Version, st.DataLength,
					st.NumChildren, fmtShortTime(st.Mtime), e.Name)
			}
			return tw.Flush()
		}
	},
}

// nodeType names the kind of node a Stat describes.
func nodeType(st *keeper.Stat) string {
	if st.EphemeralOwner != 0 {
		return "ephemeral"
	}
	return "persistent"
}

var treeCommand = &command{
	name:    "tree",
	args:    "[--depth n] [--json] [path]",
	summary: "draw the subtree with each node's data size",
	max:     1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		depth := fs.Int("depth", -1, "show at most `n` levels below the path (-1: all)")
		asJSON := fs.Bool("json", false, "print JSON (nested nodes)")
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			type treeNode struct {
				Name     string      `json:"name"`
				Path     string      `json:"path"`
				Size     int32       `json:"size"`
				NumChild int32       `json:"numChildren"`
				Children []*treeNode `json:"children,omitempty"`
			}
			var root *treeNode
			byPath := map[string]*treeNode{}
			var lines []string
			var prefixes []string // the drawing prefix of each depth's children
			var nodes, bytes int64
			last := map[string]bool{} // paths that are the last child of their parent
			err = a.walk(ctx, c, p, walkOpts{maxDepth: *depth}, func(n *node) error {
				nodes++
				bytes += int64(n.stat.DataLength)
				t := &treeNode{Name: path.Base(n.path), Path: n.path, Size: n.stat.DataLength, NumChild: n.stat.NumChildren}
				byPath[n.path] = t
				if n.depth == 0 {
					root = t
				} else if parent := byPath[path.Dir(n.path)]; parent != nil {
					parent.Children = append(parent.Children, t)
				}
				if len(n.children) > 0 {
					last[keeper.JoinPath(n.path, n.children[len(n.children)-1])] = true
				}
				if *asJSON {
					return nil
				}
				label := fmt.Sprintf("%s (%s)", t.Name, fmtSize(int64(t.Size)))
				if n.children == nil && n.stat.NumChildren > 0 {
					label += fmt.Sprintf(" [%d children not shown]", n.stat.NumChildren)
				}
				if n.depth == 0 {
					lines = append(lines, fmt.Sprintf("%s (%s)", n.path, fmtSize(int64(t.Size))))
					if n.children == nil && n.stat.NumChildren > 0 {
						lines[0] += fmt.Sprintf(" [%d children not shown]", n.stat.NumChildren)
					}
					prefixes = []string{""}
					return nil
				}
				prefixes = prefixes[:n.depth]
				branch, next := "├── ", "│   "
				if last[n.path] {
					branch, next = "└── ", "    "
				}
				lines = append(lines, prefixes[n.depth-1]+branch+label)
				prefixes = append(prefixes, prefixes[n.depth-1]+next)
				return nil
			})
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(a.stdout, root)
			}
			for _, l := range lines {
				fmt.Fprintln(a.stdout, l)
			}
			fmt.Fprintf(a.stdout, "\n%s, %s of data\n", plural(nodes, "node"), fmtSize(bytes))
			return nil
		}
	},
}

var getCommand = &command{
	name:    "get",
	args:    "[--format raw|hex|json] [--json] [-w] path",
	summary: "print a node's data (raw bytes by default)",
	help: `On a terminal (and in the shell) a newline follows data that does not end in
one; written to a pipe or file, the data is exactly the bytes stored. With -w
get then waits for the node's next change (a one-shot watch) and prints it,
as "NodeDataChanged /path", before it exits.`,
	min: 1,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		format := fs.String("format", "raw", "output `format`: raw (the bytes as stored), hex (a hex dump) or json (base64, text and stat)")
		asJSON := fs.Bool("json", false, "same as --format json")
		wait := fs.Bool("w", false, "then wait for one change of the node and print it")
		return func(ctx context.Context, args []string) error {
			if *asJSON {
				*format = "json"
			}
			switch *format {
			case "raw", "hex", "json":
			default:
				return usageErr(lookupCommand("get"), "unknown --format %q", *format)
			}
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			var data []byte
			var st *keeper.Stat
			var changed <-chan keeper.Event
			if *wait {
				data, st, changed, err = c.GetW(octx, p)
			} else {
				data, st, err = c.Get(octx, p)
			}
			if err != nil {
				return a.opErr(octx, err)
			}
			switch *format {
			case "hex":
				_, err = io.WriteString(a.stdout, hex.Dump(data))
			case "json":
				err = writeJSON(a.stdout, struct {
					Path string `json:"path"`
					dataJSON
					Stat *statJSON `json:"stat"`
				}{p, toDataJSON(data), toStatJSON(st)})
			default:
				_, err = a.stdout.Write(data)
				onTerminal := a.inShell || terminalFile(a.stdout) != nil || *wait
				if err == nil && onTerminal && len(data) > 0 && data[len(data)-1] != '\n' {
					_, err = io.WriteString(a.stdout, "\n")
				}
			}
			if err == nil && changed != nil {
				err = a.awaitChange(ctx, changed)
			}
			return err
		}
	},
}

// awaitChange waits for a one-shot watch's event and prints it (Ctrl-C
// ends the wait with status 0).
func (a *app) awaitChange(ctx context.Context, changed <-chan keeper.Event) error {
	select {
	case ev, ok := <-changed:
		if !ok {
			return errors.New("keeper: the watch ended without an event")
		}
		_, err := fmt.Fprintln(a.stdout, ev.String())
		return err
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), errInterrupted) {
			return nil
		}
		return contextErr(ctx)
	}
}

var statCommand = &command{
	name:    "stat",
	args:    "[--json] path",
	summary: "print a node's metadata (zxids, times, versions, sizes)",
	min:     1,
	max:     1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			st, err := c.Exists(octx, p)
			if err != nil {
				return a.opErr(octx, err)
			}
			if st == nil {
				return &keeper.Error{Op: "stat", Path: p, Code: keeper.CodeNoNode}
			}
			if *asJSON {
				return writeJSON(a.stdout, struct {
					Path string    `json:"path"`
					Stat *statJSON `json:"stat"`
				}{p, toStatJSON(st)})
			}
			printStat(a.stdout, st)
			return nil
		}
	},
}

// printStat prints a Stat with zkCli's names.
func printStat(w io.Writer, st *keeper.Stat) {
	tw := newTable(w)
	fmt.Fprintf(tw, "cZxid\t%s\n", hex64(st.Czxid))
	fmt.Fprintf(tw, "ctime\t%s\n", fmtTime(st.Ctime))
	fmt.Fprintf(tw, "mZxid\t%s\n", hex64(st.Mzxid))
	fmt.Fprintf(tw, "mtime\t%s\n", fmtTime(st.Mtime))
	fmt.Fprintf(tw, "pZxid\t%s\n", hex64(st.Pzxid))
	fmt.Fprintf(tw, "cversion\t%d\n", st.Cversion)
	fmt.Fprintf(tw, "dataVersion\t%d\n", st.Version)
	fmt.Fprintf(tw, "aclVersion\t%d\n", st.Aversion)
	fmt.Fprintf(tw, "ephemeralOwner\t%s\n", hex64(st.EphemeralOwner))
	fmt.Fprintf(tw, "dataLength\t%d\n", st.DataLength)
	fmt.Fprintf(tw, "numChildren\t%d\n", st.NumChildren)
	tw.Flush()
}

var duCommand = &command{
	name:    "du",
	args:    "[--json] [path]",
	summary: "count the bytes and nodes of a subtree, per child and in total",
	max:     1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			type usage struct {
				Path  string `json:"path"`
				Bytes int64  `json:"bytes"`
				Nodes int64  `json:"nodes"`
			}
			total := &usage{Path: p}
			var kids []*usage
			byChild := map[string]*usage{}
			err = a.walk(ctx, c, p, walkOpts{maxDepth: -1}, func(n *node) error {
				total.Bytes += int64(n.stat.DataLength)
				total.Nodes++
				if n.depth == 0 {
					return nil
				}
				child := n.path
				if rest := relTo(p, n.path); strings.Count(rest, "/") > 1 {
					child = under(p, rest[:strings.IndexByte(rest[1:], '/')+1])
				}
				u := byChild[child]
				if u == nil {
					u = &usage{Path: child}
					byChild[child] = u
					kids = append(kids, u)
				}
				u.Bytes += int64(n.stat.DataLength)
				u.Nodes++
				return nil
			})
			if err != nil {
				return err
			}
			if *asJSON {
				if kids == nil {
					kids = []*usage{}
				}
				return writeJSON(a.stdout, struct {
					*usage
					Children []*usage `json:"children"`
				}{total, kids})
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "BYTES\tNODES\tPATH")
			for _, u := range append(kids, total) {
				fmt.Fprintf(tw, "%d\t%d\t%s\n", u.Bytes, u.Nodes, u.Path)
			}
			return tw.Flush()
		}
	},
}

var findCommand = &command{
	name:    "find",
	args:    "[--json] [path] [pattern]",
	summary: "print the paths below path whose name matches a glob pattern",
	help: `The pattern is a shell glob on node names (*, ?, [a-z]); quote it so that
your shell does not expand it. Without a pattern every node is printed.`,
	max: 2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print a JSON array")
		return func(ctx context.Context, args []string) error {
			p, err := a.pathArg(args, 0)
			if err != nil {
				return err
			}
			pattern := "*"
			if len(args) > 1 {
				pattern = args[1]
			}
			if _, err := path.Match(pattern, ""); err != nil {
				return usageErr(lookupCommand("find"), "bad pattern %q", pattern)
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			found := []string{}
			err = a.walk(ctx, c, p, walkOpts{maxDepth: -1}, func(n *node) error {
				if ok, _ := path.Match(pattern, path.Base(n.path)); ok && n.depth > 0 {
					found = append(found, n.path)
					if !*asJSON {
						fmt.Fprintln(a.stdout, n.path)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(a.stdout, found)
			}
			return nil
		}
	},
}

var grepCommand = &command{
	name:    "grep",
	args:    "[-i] [-F] [-l] [--json] pattern [path]",
	summary: "search the data of a subtree's nodes for a regular expression",
	help: `Each matching line is printed as path:line (non-printable bytes escaped).
Data is searched as bytes, so binary data works too.`,
	min: 1,
	max: 2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		ignoreCase := fs.Bool("i", false, "ignore case")
		fixed := fs.Bool("F", false, "the pattern is a fixed string, not a regular expression")
		onlyPaths := fs.Bool("l", false, "print only the paths of matching nodes")
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			expr := args[0]
			if *fixed {
				expr = regexp.QuoteMeta(expr)
			}
			if *ignoreCase {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return usageErr(lookupCommand("grep"), "bad pattern: %v", err)
			}
			p, c, err := a.pathAndClient(ctx, args, 1)
			if err != nil {
				return err
			}
			type match struct {
				Path string `json:"path"`
				Line string `json:"line,omitempty"`
			}
			matches := []match{}
			err = a.walk(ctx, c, p, walkOpts{data: true, maxDepth: -1}, func(n *node) error {
				if !re.Match(n.data) {
					return nil
				}
				if *onlyPaths {
					matches = append(matches, match{Path: n.path})
					if !*asJSON {
						fmt.Fprintln(a.stdout, n.path)
					}
					return nil
				}
				for _, line := range bytes.Split(n.data, []byte("\n")) {
					if re.Match(line) {
						matches = append(matches, match{Path: n.path, Line: printable(line)})
						if !*asJSON {
							fmt.Fprintf(a.stdout, "%s:%s\n", n.path, printable(line))
						}
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(a.stdout, matches)
			}
			return nil
		}
	},
}

// printable returns b as text, with invalid UTF-8 and control characters
// escaped as Go does in quoted strings.
func printable(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, `\x%02x`, b[0])
		case r == '\t' || strconv.IsPrint(r):
			sb.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			sb.WriteString(q[1 : len(q)-1])
		}
		b = b[size:]
	}
	return sb.String()
}

// isNoNode reports whether err says a node does not exist.
func isNoNode(err error) bool { return errors.Is(err, keeper.ErrNoNode) }
