package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/keeper-go/keeper"
)

func init() {
	register(aclCommand, whoamiCommand, configCommand)
}

// aclJSON is one ACL entry in JSON (dump files, acl get --json).
type aclJSON struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
	Perms  string `json:"perms"`
}

func toACLJSON(acl []keeper.ACL) []aclJSON {
	out := make([]aclJSON, len(acl))
	for i, e := range acl {
		out[i] = aclJSON{Scheme: e.Scheme, ID: e.ID, Perms: e.Perms.String()}
	}
	return out
}

func fromACLJSON(in []aclJSON) ([]keeper.ACL, error) {
	out := make([]keeper.ACL, len(in))
	for i, e := range in {
		p, err := parsePerms(e.Perms)
		if err != nil {
			return nil, err
		}
		out[i] = keeper.ACL{Scheme: e.Scheme, ID: e.ID, Perms: p}
	}
	return out, nil
}

// parsePerms parses permissions written as zkCli does: letters of cdrwa, in
// any order ("" grants nothing).
func parsePerms(s string) (keeper.Perm, error) {
	var p keeper.Perm
	for _, r := range s {
		switch r {
		case 'c':
			p |= keeper.PermCreate
		case 'd':
			p |= keeper.PermDelete
		case 'r':
			p |= keeper.PermRead
		case 'w':
			p |= keeper.PermWrite
		case 'a':
			p |= keeper.PermAdmin
		default:
			return 0, fmt.Errorf("bad permissions %q: use letters of cdrwa (create, delete, read, write, admin)", s)
		}
	}
	return p, nil
}

// parseACL parses "scheme:id:perms": world:anyone:cdrwa, ip:10.0.0.0/8:r,
// digest:user:hash:cdrwa (the id may contain colons), auth::cdrwa, and
// username_password:user:password:cdrwa (a digest entry computed from the
// password, as zk-shell writes it).
func parseACL(s string) (keeper.ACL, error) {
	scheme, rest, ok1 := strings.Cut(s, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok1 || i < 0 || scheme == "" {
		return keeper.ACL{}, fmt.Errorf("bad ACL %q: want scheme:id:perms, such as world:anyone:cdrwa", s)
	}
	id, permStr := rest[:i], rest[i+1:]
	perms, err := parsePerms(permStr)
	if err != nil {
		return keeper.ACL{}, fmt.Errorf("bad ACL %q: %v", s, err)
	}
	if scheme == "username_password" {
		user, pw, ok := strings.Cut(id, ":")
		if !ok {
			return keeper.ACL{}, fmt.Errorf("bad ACL %q: want username_password:user:password:perms", s)
		}
		return keeper.DigestACL(perms, user, pw), nil
	}
	return keeper.ACL{Scheme: scheme, ID: id, Perms: perms}, nil
}

// sameACL reports whether two ACLs hold the same entries in the same order.
func sameACL(a, b []keeper.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var aclCommand = &command{
	name:    "acl",
	args:    "get [--json] path | acl set [-v aversion] [-R] path scheme:id:perms...",
	summary: "show or replace a node's ACL",
	help: `An entry is scheme:id:perms with perms letters of cdrwa: world:anyone:cdrwa,
ip:10.0.0.0/8:r, digest:user:base64hash:cdrwa, auth::cdrwa (the identities
the session authenticated as: use --auth), and username_password:user:pw:rw
(a digest entry computed from the password). set -R sets the ACL of every
node of the subtree, parents first (any version).`,
	min: 2,
	max: -1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "get: print JSON")
		version := fs.Int("v", -1, "set: only if the node's ACL version is `aversion` (-1: any)")
		recursive := fs.Bool("R", false, "set: also every node below the path")
		return func(ctx context.Context, args []string) error {
			cmd := lookupCommand("acl")
			p, err := resolve(a.cwd, args[1])
			if err != nil {
				return err
			}
			switch args[0] {
			case "get":
				if len(args) != 2 {
					return usageErr(cmd, "acl get takes one path")
				}
				c, err := a.client(ctx)
				if err != nil {
					return err
				}
				octx, cancel := a.op(ctx)
				defer cancel()
				acl, st, err := c.ACL(octx, p)
				if err != nil {
					return a.opErr(octx, err)
				}
				if *asJSON {
					return writeJSON(a.stdout, struct {
						Path string    `json:"path"`
						ACL  []aclJSON `json:"acl"`
						Stat *statJSON `json:"stat"`
					}{p, toACLJSON(acl), toStatJSON(st)})
				}
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "SCHEME\tID\tPERMS")
				for _, e := range acl {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Scheme, e.ID, e.Perms)
				}
				return tw.Flush()
			case "set":
				if len(args) < 3 {
					return usageErr(cmd, "acl set needs a path and at least one entry")
				}
				var acl []keeper.ACL
				for _, s := range args[2:] {
					e, err := parseACL(s)
					if err != nil {
						return usageErr(cmd, "%v", err)
					}
					acl = append(acl, e)
				}
				c, err := a.client(ctx)
				if err != nil {
					return err
				}
				if *recursive {
					if *version != -1 {
						return usageErr(cmd, "-R and -v exclude each other")
					}
					return a.walk(ctx, c, p, walkOpts{maxDepth: -1}, func(n *node) error {
						octx, cancel := a.op(ctx)
						defer cancel()
						_, err := c.SetACL(octx, n.path, acl, -1)
						if isNoNode(err) {
							return nil // deleted meanwhile
						}
						return a.opErr(octx, err)
					})
				}
				octx, cancel := a.op(ctx)
				defer cancel()
				_, err = c.SetACL(octx, p, acl, int32(*version))
				return a.opErr(octx, err)
			default:
				return usageErr(cmd, "unknown subcommand %q: use get or set", args[0])
			}
		}
	},
}

var whoamiCommand = &command{
	name:    "whoami",
	args:    "[--json]",
	summary: "show the identities the server knows this session by (ZooKeeper 3.7+)",
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		return func(ctx context.Context, args []string) error {
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			ids, err := c.WhoAmI(octx)
			if err != nil {
				return a.opErr(octx, err)
			}
			if *asJSON {
				type idJSON struct {
					Scheme string `json:"scheme"`
					User   string `json:"user"`
				}
				out := make([]idJSON, len(ids))
				for i, id := range ids {
					out[i] = idJSON{id.Scheme, id.User}
				}
				return writeJSON(a.stdout, out)
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "SCHEME\tUSER")
			for _, id := range ids {
				fmt.Fprintf(tw, "%s\t%s\n", id.Scheme, id.User)
			}
			return tw.Flush()
		}
	},
}

var configCommand = &command{
	name:    "config",
	args:    "[--json] [--raw]",
	summary: "show the ensemble's dynamic configuration (/zookeeper/config)",
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		raw := fs.Bool("raw", false, "print the configuration as the server stores it")
		return func(ctx context.Context, args []string) error {
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			cfg, err := c.Config(octx)
			if err != nil {
				return a.opErr(octx, err)
			}
			if *raw {
				_, err := a.stdout.Write(cfg.Raw)
				return err
			}
			if *asJSON {
				type memberJSON struct {
					ID           int    `json:"id"`
					Host         string `json:"host"`
					QuorumPort   int    `json:"quorumPort"`
					ElectionPort int    `json:"electionPort"`
					Role         string `json:"role"`
					ClientHost   string `json:"clientHost,omitempty"`
					ClientPort   int    `json:"clientPort,omitempty"`
					Line         string `json:"line"`
				}
				members := []memberJSON{}
				for _, m := range cfg.Members {
					members = append(members, memberJSON{m.ID, m.Host, m.QuorumPort, m.ElectionPort, m.Role,
						m.ClientHost, m.ClientPort, m.String()})
				}
				return writeJSON(a.stdout, struct {
					Version string       `json:"version"`
					Members []memberJSON `json:"members"`
				}{hex64(cfg.Version), members})
			}
			if len(cfg.Members) == 0 {
				fmt.Fprintln(a.stdout, "no dynamic configuration (a standalone server)")
				return nil
			}
			fmt.Fprintf(a.stdout, "version %s\n\n", hex64(cfg.Version))
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "ID\tHOST\tQUORUM\tELECTION\tROLE\tCLIENT")
			for _, m := range cfg.Members {
				client := "-"
				if m.ClientPort != 0 {
					client = fmt.Sprintf("%s:%d", m.ClientHost, m.ClientPort)
					if m.ClientHost == "" {
						client = fmt.Sprintf("%d", m.ClientPort)
					}
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", m.ID, m.Host, m.QuorumPort, m.ElectionPort, m.Role, client)
			}
			return tw.Flush()
		}
	},
}
