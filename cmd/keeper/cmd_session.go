package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"

	"github.com/keeper-go/keeper"
)

// The commands that users of zkCli and zk-shell expect beside the others:
// credentials, the session, editing, ephemerals, reconfig and quotas.
func init() {
	register(addauthCommand, connectCommand, disconnectCommand, sessionCommand, editCommand,
		ephemeralsCommand, reconfigCommand, setquotaCommand, listquotaCommand, delquotaCommand)
}

// errDisconnected is the error of a command run after disconnect.
var errDisconnected = errors.New("keeper: not connected (use connect)")

var addauthCommand = &command{
	name:    "addauth",
	args:    "scheme:credentials",
	summary: "add credentials to the session, such as digest:user:password (as --auth at connect time)",
	help: `The server checks them at once: an unknown scheme (a typo such as digset)
is an error. Digest credentials are always accepted: a wrong password only
gives an identity no ACL grants anything to (see whoami).`,
	min: 1,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			scheme, cred, ok := strings.Cut(args[0], ":")
			if !ok || scheme == "" {
				return usageErr(lookupCommand("addauth"), "want scheme:credentials, such as digest:user:password")
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			if err := c.AddAuth(octx, scheme, []byte(cred)); err != nil {
				return a.opErr(octx, err)
			}
			// Kept for a later connect inside the shell.
			a.conn.auth = append(a.conn.auth, args[0])
			return nil
		}
	},
}

var connectCommand = &command{
	name:      "connect",
	args:      "[servers]",
	summary:   "close the session and open one on servers (default: the current connect string)",
	help:      `The connection flags of the shell's start (--auth, --tls-*, ...) apply, with the credentials added by addauth.`,
	max:       1,
	shellOnly: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			servers := a.conn.servers()
			if len(args) > 0 {
				servers = args[0]
			}
			c, err := a.connect(ctx, servers)
			if err != nil {
				return err
			}
			a.mu.Lock()
			old := a.zk
			a.zk, a.disconnected = c, false
			a.conn.server = servers
			a.mu.Unlock()
			if old != nil {
				old.Close()
			}
			a.cwd = "/"
			if a.onClient != nil {
				a.onClient(c)
			}
			id, _ := c.Session()
			fmt.Fprintf(a.stdout, "connected to %s, session %s\n", servers, hex64(id))
			return nil
		}
	},
}

var disconnectCommand = &command{
	name:      "disconnect",
	aliases:   []string{"close"},
	summary:   "close the session (its ephemeral nodes go); connect opens a new one",
	shellOnly: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			a.mu.Lock()
			old := a.zk
			a.zk, a.disconnected = nil, true
			a.mu.Unlock()
			if old != nil {
				return old.Close()
			}
			return nil
		}
	},
}

var sessionCommand = &command{
	name:    "session",
	args:    "[--json]",
	summary: "show the session: id, state, negotiated timeout, server and its version",
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			id, _ := c.Session()
			out := struct {
				Session   string `json:"session"`
				State     string `json:"state"`
				TimeoutMs int64  `json:"timeoutMs"`
				Server    string `json:"server,omitempty"`
				Version   string `json:"serverVersion,omitempty"`
			}{hex64(id), stateLabel(c.State()), c.SessionTimeout().Milliseconds(), c.Server(), ""}
			if v := c.ServerVersion(); v != (keeper.Version{}) {
				out.Version = v.String()
			}
			if *asJSON {
				return writeJSON(a.stdout, out)
			}
			tw := newTable(a.stdout)
			fmt.Fprintf(tw, "session\t%s\n", out.Session)
			fmt.Fprintf(tw, "state\t%s\n", out.State)
			fmt.Fprintf(tw, "timeout\t%s\n", fmtDuration(c.SessionTimeout()))
			fmt.Fprintf(tw, "server\t%s\n", out.Server)
			if out.Version != "" {
				fmt.Fprintf(tw, "server version\t%s\n", out.Version)
			}
			return tw.Flush()
		}
	},
}

var editCommand = &command{
	name:    "edit",
	args:    "path",
	summary: "edit a node's data in $EDITOR and save it if nobody changed it meanwhile",
	help: `The data is written to a temporary file and $VISUAL, else $EDITOR, else vi
is run on it. When the editor exits with status 0 and the file changed, the
data is saved with the version read (set -v): if someone else changed the
node meanwhile nothing is saved and the edited file is kept, its name said.`,
	min: 1,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			data, st, err := c.Get(octx, p)
			err = a.opErr(octx, err)
			cancel()
			if err != nil {
				return err
			}
			f, err := os.CreateTemp("", "keeper-edit-*-"+strings.ReplaceAll(path.Base(p), "/", "_"))
			if err != nil {
				return fmt.Errorf("keeper: edit: %w", err)
			}
			name := f.Name()
			keep := false
			defer func() {
				if !keep {
					os.Remove(name)
				}
			}()
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("keeper: edit: %w", err)
			}
			if err := a.runEditor(ctx, name); err != nil {
				return err
			}
			edited, err := os.ReadFile(name)
			if err != nil {
				return fmt.Errorf("keeper: edit: %w", err)
			}
			if bytes.Equal(edited, data) {
				fmt.Fprintf(a.stderr, "%s: no change\n", p)
				return nil
			}
			octx, cancel = a.op(ctx)
			defer cancel()
			if _, err := c.Set(octx, p, edited, st.Version); err != nil {
				if errors.Is(err, keeper.ErrBadVersion) {
					keep = true
					return fmt.Errorf("keeper: edit %s: changed by someone else meanwhile, not saved (your edit is in %s): %w", p, name, err)
				}
				return a.opErr(octx, err)
			}
			return nil
		}
	},
}

// runEditor runs the user's editor on file, on the terminal.
func (a *app) runEditor(ctx context.Context, file string) error {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	// Through the shell, as git does: $EDITOR may hold arguments.
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", editor+` "$1"`, "editor", file)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.stdout, a.stderr
	if f, ok := a.stdin.(*os.File); ok {
		cmd.Stdin = f
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("keeper: edit: %s: %w (nothing saved)", editor, err)
	}
	return nil
}

var ephemeralsCommand = &command{
	name:    "ephemerals",
	args:    "[--json] [prefix]",
	summary: "list the ephemeral nodes of this session (ZooKeeper 3.6+)",
	help: `The prefix is a plain string prefix of the paths, relative to the current
directory ("/app/lock" also matches /app/lock-1); without one, all are
listed. Only this session's nodes can be listed: the shell's, mostly.`,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print a JSON array")
		return func(ctx context.Context, args []string) error {
			prefix := a.cwd
			if len(args) > 0 {
				prefix = args[0]
				if !strings.HasPrefix(prefix, "/") {
					prefix = strings.TrimSuffix(a.cwd, "/") + "/" + prefix
				}
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			paths, err := c.Ephemerals(octx, prefix)
			if err != nil {
				return a.opErr(octx, err)
			}
			if *asJSON {
				if paths == nil {
					paths = []string{}
				}
				return writeJSON(a.stdout, paths)
			}
			for _, p := range paths {
				fmt.Fprintln(a.stdout, p)
			}
			return nil
		}
	},
}

var reconfigCommand = &command{
	name:    "reconfig",
	args:    "[--add server.N=...] [--remove id] [--members server.N=...,...] [--from version]",
	summary: "change the ensemble's membership (dynamic reconfiguration, 3.5+)",
	help: `--add and --remove (repeatable) make an incremental change; --members gives
the whole new membership, comma-separated. Servers are written as in the
configuration: server.4=10.0.0.4:2888:3888:participant;2181. --from applies
the change only to that configuration version (see config). The servers need
reconfigEnabled=true and the session WRITE on /zookeeper/config (super).
The new configuration is printed.`,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		var add, remove stringList
		fs.Var(&add, "add", "add a `server` (repeatable)")
		fs.Var(&remove, "remove", "remove the server with this `id` (repeatable)")
		members := fs.String("members", "", "the whole new membership: `servers`, comma-separated")
		from := fs.String("from", "-1", "apply only to this configuration `version` (hex, as config prints it; -1: any)")
		return func(ctx context.Context, args []string) error {
			cmd := lookupCommand("reconfig")
			var newMembers []string
			if *members != "" {
				newMembers = strings.Split(*members, ",")
			}
			if len(add) == 0 && len(remove) == 0 && len(newMembers) == 0 {
				return usageErr(cmd, "give --add, --remove or --members")
			}
			if len(newMembers) > 0 && (len(add) > 0 || len(remove) > 0) {
				return usageErr(cmd, "--members excludes --add and --remove")
			}
			version, err := strconv.ParseInt(strings.TrimPrefix(*from, "0x"), 16, 64)
			if *from == "-1" {
				version, err = -1, nil
			}
			if err != nil {
				return usageErr(cmd, "--from %q: want a hex version such as 0x100000000", *from)
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			cfg, err := c.Reconfig(octx, add, remove, newMembers, version)
			if err != nil {
				return a.opErr(octx, err)
			}
			fmt.Fprintf(a.stdout, "version %s\n", hex64(cfg.Version))
			for _, m := range cfg.Members {
				fmt.Fprintln(a.stdout, m.String())
			}
			return nil
		}
	},
}

// ZooKeeper's quota nodes: /zookeeper/quota/<path>/zookeeper_limits holds
// the limits and zookeeper_stats what the server counted, both as
// "count=N,bytes=M" (3.7+ adds countHardLimit and byteHardLimit).
const (
	quotaRoot  = "/zookeeper/quota"
	quotaLimit = "zookeeper_limits"
	quotaStats = "zookeeper_stats"
)

// quotaPath returns the quota node of the znode p.
func quotaPath(p string) string { return quotaRoot + p }

var setquotaCommand = &command{
	name:    "setquota",
	args:    "-n count | -b bytes path",
	summary: "set a quota on a subtree's node count or data bytes (as zkCli's setquota)",
	help: `The server counts the subtree's nodes and bytes from then on and logs a
warning when the quota is exceeded (ZooKeeper 3.7+ with enforceQuota=true
refuses the write instead). A path under another quota, or above one, is
refused, as zkCli refuses it. Needs write access to /zookeeper/quota.`,
	min: 1,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		count := fs.Int64("n", -1, "the most nodes in the subtree, the node included")
		size := fs.Int64("b", -1, "the most bytes of data in the subtree")
		return func(ctx context.Context, args []string) error {
			cmd := lookupCommand("setquota")
			if (*count < 0) == (*size < 0) {
				return usageErr(cmd, "give one of -n and -b")
			}
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			if p == "/" || p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") {
				return usageErr(cmd, "no quota on %s", p)
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			if st, err := c.Exists(octx, p); err != nil || st == nil {
				if err == nil {
					err = &keeper.Error{Op: "setquota", Path: p, Code: keeper.CodeNoNode}
				}
				return a.opErr(octx, err)
			}
			// No quota on an ancestor, nor below the path.
			for q := path.Dir(p); q != "/"; q = path.Dir(q) {
				if st, err := c.Exists(octx, quotaPath(q)+"/"+quotaLimit); err == nil && st != nil {
					return fmt.Errorf("keeper: setquota %s: %s already has a quota", p, q)
				}
			}
			limits := quotaPath(p) + "/" + quotaLimit
			if kids, err := c.Children(octx, quotaPath(p)); err == nil {
				for _, k := range kids {
					if k != quotaLimit && k != quotaStats {
						return fmt.Errorf("keeper: setquota %s: a node below it has a quota (listquota)", p)
					}
				}
			}
			data := []byte(fmt.Sprintf("count=%d,bytes=%d", *count, *size))
			_, err = c.Create(octx, limits, data, keeper.MakeParents())
			if errors.Is(err, keeper.ErrNodeExists) {
				// Change one limit, keep the other.
				old, st, gerr := c.Get(octx, limits)
				if gerr != nil {
					return a.opErr(octx, gerr)
				}
				q := parseQuota(old)
				if *count >= 0 {
					q["count"] = *count
				} else {
					q["bytes"] = *size
				}
				_, err = c.Set(octx, limits, []byte(formatQuota(q)), st.Version)
			}
			return a.opErr(octx, err)
		}
	},
}

// parseQuota reads "count=N,bytes=M[,...]".
func parseQuota(b []byte) map[string]int64 {
	q := map[string]int64{"count": -1, "bytes": -1}
	for _, kv := range strings.Split(strings.TrimSpace(string(b)), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if n, err := strconv.ParseInt(v, 10, 64); ok && err == nil {
			q[k] = n
		}
	}
	return q
}

// formatQuota writes a quota as ZooKeeper does, count and bytes first.
func formatQuota(q map[string]int64) string {
	s := fmt.Sprintf("count=%d,bytes=%d", q["count"], q["bytes"])
	for _, k := range []string{"countHardLimit", "byteHardLimit"} {
		if v, ok := q[k]; ok {
			s += fmt.Sprintf(",%s=%d", k, v)
		}
	}
	return s
}

var listquotaCommand = &command{
	name:    "listquota",
	args:    "[--json] path",
	summary: "show a subtree's quota and what the server counted",
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
			limits, _, err := c.Get(octx, quotaPath(p)+"/"+quotaLimit)
			if isNoNode(err) {
				return fmt.Errorf("keeper: listquota %s: no quota: %w", p, err)
			}
			if err != nil {
				return a.opErr(octx, err)
			}
			stats, _, err := c.Get(octx, quotaPath(p)+"/"+quotaStats)
			if err != nil && !isNoNode(err) {
				return a.opErr(octx, err)
			}
			if *asJSON {
				return writeJSON(a.stdout, struct {
					Path   string           `json:"path"`
					Limits map[string]int64 `json:"limits"`
					Stats  map[string]int64 `json:"stats,omitempty"`
				}{p, parseQuota(limits), statsOrNil(stats)})
			}
			fmt.Fprintf(a.stdout, "quota for %s: %s\n", p, strings.TrimSpace(string(limits)))
			if stats != nil {
				fmt.Fprintf(a.stdout, "counted for %s: %s\n", p, strings.TrimSpace(string(stats)))
			}
			return nil
		}
	},
}

func statsOrNil(b []byte) map[string]int64 {
	if b == nil {
		return nil
	}
	return parseQuota(b)
}

var delquotaCommand = &command{
	name:    "delquota",
	args:    "[-n | -b] path",
	summary: "remove a subtree's quota (-n: only the count limit, -b: only the bytes limit)",
	min:     1,
	max:     1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		count := fs.Bool("n", false, "remove only the node count limit")
		size := fs.Bool("b", false, "remove only the bytes limit")
		return func(ctx context.Context, args []string) error {
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			limits := quotaPath(p) + "/" + quotaLimit
			if !*count && !*size {
				if st, err := c.Exists(octx, limits); err != nil || st == nil {
					if err == nil {
						return fmt.Errorf("keeper: delquota %s: no quota", p)
					}
					return a.opErr(octx, err)
				}
				return a.opErr(octx, c.DeleteAll(octx, quotaPath(p)))
			}
			old, st, err := c.Get(octx, limits)
			if err != nil {
				return a.opErr(octx, err)
			}
			q := parseQuota(old)
			if *count {
				q["count"] = -1
			}
			if *size {
				q["bytes"] = -1
			}
			_, err = c.Set(octx, limits, []byte(formatQuota(q)), st.Version)
			return a.opErr(octx, err)
		}
	},
}
