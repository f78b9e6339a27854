package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keeper-go/keeper"
)

func init() {
	register(setCommand, createCommand, rmCommand, syncCommand)
}

// dataArg returns the data argument: "-" reads standard input (outside the
// shell).
func (a *app) dataArg(c *command, arg string) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	if a.inShell {
		return nil, usageErr(c, "data - (standard input) only works outside the shell")
	}
	b, err := io.ReadAll(a.stdin)
	if err != nil {
		return nil, fmt.Errorf("keeper: %s: reading standard input: %w", c.name, err)
	}
	return b, nil
}

var setCommand = &command{
	name:    "set",
	args:    "[-v version] path data",
	summary: "replace a node's data (data - reads standard input)",
	min:     2,
	max:     2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		version := fs.Int("v", -1, "only if the node's data version is `version` (-1: any)")
		return func(ctx context.Context, args []string) error {
			p, err := resolve(a.cwd, args[0])
			if err != nil {
				return err
			}
			data, err := a.dataArg(lookupCommand("set"), args[1])
			if err != nil {
				return err
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			_, err = c.Set(octx, p, data, int32(*version))
			return a.opErr(octx, err)
		}
	},
}

var createCommand = &command{
	name:    "create",
	args:    "[-e] [-s] [-c] [--ttl d] [-p] path [data]",
	summary: "create a node and print its path",
	help: `With -s the server appends a 10-digit counter to the name; a path ending in
"/" (such as /jobs/) gives a name made of the counter only. An ephemeral node
(-e) lives as long as the session, so only inside the shell is it useful.
With -p an existing node is no error, as with mkdir -p: its path is printed
and its data left as it is (with -s, a new node is created each time).`,
	min: 1,
	max: 2,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		ephemeral := fs.Bool("e", false, "ephemeral: deleted when the session ends")
		sequential := fs.Bool("s", false, "sequential: the server appends a counter to the name")
		container := fs.Bool("c", false, "container: deleted by the server once its last child is gone")
		ttl := fs.Duration("ttl", 0, "time to live: deleted when not modified for `d` and childless (needs extendedTypesEnabled)")
		parents := fs.Bool("p", false, "create missing parents")
		return func(ctx context.Context, args []string) error {
			cmd := lookupCommand("create")
			p, err := resolve(a.cwd, args[0])
			if err != nil {
				return err
			}
			if *sequential && strings.HasSuffix(args[0], "/") && p != "/" {
				p += "/"
			}
			var data []byte
			if len(args) > 1 {
				if data, err = a.dataArg(cmd, args[1]); err != nil {
					return err
				}
			}
			var opts []keeper.CreateOption
			kinds := 0
			if *ephemeral {
				opts = append(opts, keeper.Ephemeral())
				kinds++
			}
			if *container {
				opts = append(opts, keeper.Container())
				kinds++
			}
			if *ttl != 0 {
				if *ttl < time.Millisecond {
					return usageErr(cmd, "--ttl must be at least 1ms")
				}
				opts = append(opts, keeper.TTL(*ttl))
				kinds++
			}
			if kinds > 1 {
				return usageErr(cmd, "-e, -c and --ttl exclude each other")
			}
			if *sequential {
				opts = append(opts, keeper.Sequential())
			}
			if *parents {
				opts = append(opts, keeper.MakeParents())
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			created, err := c.Create(octx, p, data, opts...)
			if *parents && !*sequential && errors.Is(err, keeper.ErrNodeExists) {
				created, err = p, nil
			}
			if err != nil {
				return a.opErr(octx, err)
			}
			fmt.Fprintln(a.stdout, created)
			return nil
		}
	},
}

var rmCommand = &command{
	name:    "rm",
	aliases: []string{"delete"},
	args:    "[-r] [-f] [-v version] path...",
	summary: "delete nodes (-r with everything below them)",
	help: `Without -f the first missing node stops the command with an error; with -f
missing nodes are skipped, as rm -f does.`,
	min: 1,
	max: -1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		recursive := fs.Bool("r", false, "delete the whole subtree")
		force := fs.Bool("f", false, "skip nodes that do not exist")
		version := fs.Int("v", -1, "only if the node's data version is `version` (-1: any)")
		return func(ctx context.Context, args []string) error {
			if *recursive && *version != -1 {
				return usageErr(lookupCommand("rm"), "-r and -v exclude each other")
			}
			var paths []string
			for _, arg := range args {
				p, err := resolve(a.cwd, arg)
				if err != nil {
					return err
				}
				paths = append(paths, p)
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			for _, p := range paths {
				octx, cancel := a.op(ctx)
				if *recursive {
					var st *keeper.Stat
					if st, err = c.Exists(octx, p); err == nil && st == nil {
						err = &keeper.Error{Op: "delete", Path: p, Code: keeper.CodeNoNode}
					} else if err == nil {
						err = c.DeleteAll(octx, p)
					}
				} else {
					err = c.Delete(octx, p, int32(*version))
				}
				err = a.opErr(octx, err)
				cancel()
				if err != nil && !(*force && isNoNode(err)) {
					return err
				}
			}
			return nil
		}
	},
}

var syncCommand = &command{
	name:    "sync",
	args:    "[path]",
	summary: "make the connected server catch up with the leader",
	max:     1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			return a.opErr(octx, c.Sync(octx, p))
		}
	},
}
