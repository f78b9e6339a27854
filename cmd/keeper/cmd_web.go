package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/cmd/keeper/web"
)

func init() { register(webCommand) }

var webCommand = &command{
	name:    "web",
	args:    "[--listen addr] [--ensemble name=servers]... [--ensembles file] [--read-only] [--no-auth] [--https-cert file --https-key file]",
	summary: "browse the tree and watch the servers in a web browser",
	help: `Serves a page at --listen (127.0.0.1:8080) and prints its URL, which carries
a random access token: the page needs it (--no-auth turns that off, on a
loopback address only). The tree updates live; writes need the page itself
(no cross-site request can make one), and --read-only refuses them all
(--readonly, a connection flag, only lets the client use read-only servers).
The ensembles are --server (or $ZK_SERVERS) and each --ensemble, or the
name=servers lines of an --ensembles file; the connection flags (--auth,
--tls-*, --timeout) apply to all of them. --https-cert and --https-key serve
the page over TLS. The servers view asks each server for mntr, then the
AdminServer (--admin-port), then srvr, as keeper top does.`,
	noShell: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		listen := fs.String("listen", "127.0.0.1:8080", "the `address` to serve the page on (port 0: any free one)")
		var named stringList
		fs.Var(&named, "ensemble", "another ensemble, `name=servers` (repeatable)")
		file := fs.String("ensembles", "", "a `file` of name=servers lines (# starts a comment)")
		readOnly := fs.Bool("read-only", false, "refuse every change")
		noAuth := fs.Bool("no-auth", false, "serve without the access token (loopback addresses only)")
		cert := fs.String("https-cert", "", "serve the page over TLS with this certificate `file` (PEM)")
		key := fs.String("https-key", "", "the key `file` (PEM) of --https-cert")
		adminPort := fs.Int("admin-port", 8080, "the AdminServer's HTTP `port`, for the servers view")
		return func(ctx context.Context, args []string) error {
			cmd := lookupCommand("web")
			if *noAuth && !web.IsLoopback(*listen) {
				return usageErr(cmd, "--no-auth only works on a loopback address, not %s", *listen)
			}
			if (*cert == "") != (*key == "") {
				return usageErr(cmd, "--https-cert and --https-key go together")
			}
			if *adminPort < 1 || *adminPort > 65535 {
				return usageErr(cmd, "--admin-port must be a port number")
			}
			var ens []web.Ensemble
			if a.conn.server != "" || os.Getenv("ZK_SERVERS") != "" || (len(named) == 0 && *file == "") {
				ens = append(ens, a.webEnsemble("default", a.conn.servers(), *adminPort))
			}
			if *file != "" {
				lines, err := readEnsembles(*file)
				if err != nil {
					return err
				}
				named = append(lines, named...)
			}
			for _, n := range named {
				name, servers, ok := strings.Cut(n, "=")
				if !ok || name == "" || servers == "" {
					return usageErr(cmd, "bad ensemble %q: want name=servers", n)
				}
				if _, err := hostsOf(servers); err != nil {
					return err
				}
				ens = append(ens, a.webEnsemble(name, servers, *adminPort))
			}
			token := web.NewToken()
			if *noAuth {
				token = ""
			}
			srv, err := web.New(web.Config{Ensembles: ens, Token: token, ReadOnly: *readOnly,
				Version: buildVersion(), Log: a.stderr, Timeout: a.conn.timeout})
			if err != nil {
				return usageErr(cmd, "%v", strings.TrimPrefix(err.Error(), "keeper web: "))
			}
			defer closeWebEnsembles(ens)
			url, err := srv.Listen(*listen, *cert, *key)
			if err != nil {
				return err
			}
			defer srv.Close()
			if !web.IsLoopback(*listen) && *cert == "" {
				fmt.Fprintf(a.stderr, "keeper web: warning: serving on %s without TLS: the token crosses the network in clear (see --https-cert)\n", *listen)
			}
			mode := ""
			if *readOnly {
				mode = " (read-only)"
			}
			fmt.Fprintf(a.stdout, "keeper web%s: open %s\n", mode, url)
			<-ctx.Done()
			return nil
		}
	},
}

// readEnsembles reads the name=servers lines of an --ensembles file.
func readEnsembles(name string) ([]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// startWeb serves keeper web for the sandbox, on 127.0.0.1:8080 when free,
// else on any free port, and returns its URL and the function that stops it.
func (a *app) startWeb(servers string) (string, func(), error) {
	ens := []web.Ensemble{a.webEnsemble("sandbox", servers, 8080)}
	srv, err := web.New(web.Config{Ensembles: ens, Token: web.NewToken(), Version: buildVersion(), Timeout: a.conn.timeout})
	if err != nil {
		return "", nil, err
	}
	url, err := srv.Listen("127.0.0.1:8080", "", "")
	if err != nil {
		url, err = srv.Listen("127.0.0.1:0", "", "")
	}
	if err != nil {
		closeWebEnsembles(ens)
		return "", nil, err
	}
	return url, func() { srv.Close(); closeWebEnsembles(ens) }, nil
}

// webBackend runs the page's operations on one ensemble with the CLI's own
// commands (dump, load, cp, mv, find, grep, acl) and keeper top's sampling,
// on an app of its own whose client it keeps.
type webBackend struct {
	base *app
	top  *topView
}

// webEnsemble returns the ensemble named name at servers, with the
// connection flags of a.
func (a *app) webEnsemble(name, servers string, adminPort int) web.Ensemble {
	// The web server's apps catch no signal: their requests end with the
	// page's.
	base := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, conn: a.conn, cwd: "/",
		others: map[string]*keeper.Client{}, sigint: make(chan os.Signal, 1)}
	base.conn.auth = append(stringList(nil), a.conn.auth...)
	base.conn.server = servers
	hosts, _ := hostsOf(servers)
	b := &webBackend{base: base, top: &topView{a: base, hosts: hosts, adminPort: adminPort,
		source: map[string]string{}, wait: min(a.conn.timeout, 2*time.Second)}}
	return web.Ensemble{Name: name, Servers: servers, Backend: b}
}

func closeWebEnsembles(ens []web.Ensemble) {
	for _, e := range ens {
		e.Backend.(*webBackend).base.close()
	}
}

// Client returns the ensemble's client, connecting on first use.
func (b *webBackend) Client(ctx context.Context) (*keeper.Client, error) {
	return b.base.client(ctx)
}

// run runs one CLI command on the ensemble's client with the given
// standard streams and returns what it wrote on stderr.
func (b *webBackend) run(ctx context.Context, stdin io.Reader, stdout io.Writer, c *command, args ...string) (string, error) {
	cl, err := b.base.client(ctx)
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	sub := &app{stdin: stdin, stdout: stdout, stderr: &stderr, conn: b.base.conn, zk: cl, cwd: "/",
		others: map[string]*keeper.Client{}, sigint: make(chan os.Signal, 1)}
	err = sub.runCommand(ctx, c, args)
	sub.mu.Lock()
	sub.zk = nil // the backend's, kept open
	sub.mu.Unlock()
	sub.close()
	var ue *usageError
	if errors.As(err, &ue) {
		return "", web.InputError(errors.New(ue.msg))
	}
	return strings.TrimSpace(stderr.String()), err
}

// lines is a writer that calls emit with each complete line written.
type lines struct {
	buf  []byte
	emit func(string)
}

func (l *lines) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

// Export writes the subtree at path as keeper dump does.
func (b *webBackend) Export(ctx context.Context, path string, w io.Writer) error {
	_, err := b.run(ctx, nil, w, dumpCommand, "-o", "-", "--", path)
	return err
}

// Import loads a dump as keeper load does.
func (b *webBackend) Import(ctx context.Context, path string, dump io.Reader, force bool) (string, error) {
	args := []string{"--", "-"}
	if force {
		args = []string{"-f", "--", "-"}
	}
	if path != "" {
		args = append(args, path)
	}
	return b.run(ctx, bufio.NewReader(dump), io.Discard, loadCommand, args...)
}

// Copy copies the subtree src to dst as keeper cp -r does, or moves it as
// keeper mv does.
func (b *webBackend) Copy(ctx context.Context, src, dst string, move bool) (string, error) {
	if move {
		return b.run(ctx, nil, io.Discard, mvCommand, "--", src, dst)
	}
	return b.run(ctx, nil, io.Discard, cpCommand, "-r", "--", src, dst)
}

// Find calls emit with each path keeper find prints.
func (b *webBackend) Find(ctx context.Context, root, pattern string, emit func(string)) error {
	_, err := b.run(ctx, nil, &lines{emit: emit}, findCommand, "--", root, pattern)
	return err
}

// Grep calls emit with each path:line keeper grep prints.
func (b *webBackend) Grep(ctx context.Context, root, pattern string, ignoreCase bool, emit func(string)) error {
	args := []string{"--", pattern, root}
	if ignoreCase {
		args = append([]string{"-i"}, args...)
	}
	_, err := b.run(ctx, nil, &lines{emit: emit}, grepCommand, args...)
	return err
}

// SetACL replaces an ACL as keeper acl set does.
func (b *webBackend) SetACL(ctx context.Context, path string, entries []string, aversion int32) error {
	_, err := b.run(ctx, nil, io.Discard, aclCommand, append([]string{"-v", strconv.Itoa(int(aversion)), "--", "set", path}, entries...)...)
	return err
}

// Servers samples every server as keeper top does.
func (b *webBackend) Servers(ctx context.Context) (any, error) {
	return b.top.sample(ctx), nil
}

// Hosts returns the ensemble's servers.
func (b *webBackend) Hosts() []string { return b.top.hosts }
