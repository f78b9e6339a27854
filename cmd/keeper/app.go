package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keeper-go/keeper"
)

// defaultServer is the connect string used without --server and ZK_SERVERS.
const defaultServer = "127.0.0.1:2181"

// app is one run of the program: its standard streams, connection settings,
// clients and (in the shell) current directory.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	conn connFlags

	mu      sync.Mutex
	zk      *keeper.Client            // the client of --server, connected on first use
	others  map[string]*keeper.Client // clients of zk:// URLs, by connect string
	cwd     string                    // current znode directory, "/" outside the shell
	inShell bool                      // commands run inside the shell
	// disconnected is set by the shell's disconnect: commands fail until
	// connect.
	disconnected bool
	// onClient is told of the client a connect made (the shell follows
	// its state).
	onClient func(*keeper.Client)
	keys     *keyReader // the terminal's keys, shared by the shell and top
	sigint   chan os.Signal
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, cwd: "/", others: map[string]*keeper.Client{}}
	a.conn.timeout = 10 * time.Second
	a.sigint = make(chan os.Signal, 1)
	signal.Notify(a.sigint, os.Interrupt)
	return a
}

// close closes every client and stops catching signals.
func (a *app) close() {
	signal.Stop(a.sigint)
	a.mu.Lock()
	cs := []*keeper.Client{a.zk}
	for _, c := range a.others {
		cs = append(cs, c)
	}
	a.zk, a.others = nil, map[string]*keeper.Client{}
	a.mu.Unlock()
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// interruptible returns a context that Ctrl-C (SIGINT) cancels, with
// errInterrupted as its cause. A signal received before the call is ignored.
func (a *app) interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	for len(a.sigint) > 0 {
		<-a.sigint
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-a.sigint:
			cancel(errInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		cancel(context.Canceled)
	}
}

// op returns a context for one request: it ends after --timeout.
func (a *app) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.conn.timeout)
}

// connFlags are the connection settings.
type connFlags struct {
	server                 string
	timeout                time.Duration
	sessionTimeout         time.Duration
	maxRequest             int
	auth                   stringList
	tlsCert, tlsKey, tlsCA string
	readOnly               bool
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", f.server, "the `servers` to connect to: host:port[,host:port...][/chroot], or dns-srv://name[/chroot] (default $ZK_SERVERS, else "+defaultServer+")")
	fs.DurationVar(&f.timeout, "timeout", f.timeout, "connect and request timeout")
	fs.IntVar(&f.maxRequest, "max-request-size", f.maxRequest, "the largest request in `bytes` to send (default the servers' default jute.maxbuffer, 1 MiB less 1 byte); raise it with the servers' jute.maxbuffer")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", f.sessionTimeout, "the session timeout to ask the server for (default the library's 10s; the server bounds it)")
	fs.Var(&f.auth, "auth", "add credentials `scheme:cred`, such as digest:user:password (repeatable)")
	fs.StringVar(&f.tlsCert, "tls-cert", f.tlsCert, "client certificate `file` (PEM) for TLS")
	fs.StringVar(&f.tlsKey, "tls-key", f.tlsKey, "client key `file` (PEM) for TLS")
	fs.StringVar(&f.tlsCA, "tls-ca", f.tlsCA, "CA certificates `file` (PEM) to verify the servers with")
	fs.BoolVar(&f.readOnly, "readonly", f.readOnly, "accept read-only servers")
}

// servers returns the connect string: --server, $ZK_SERVERS or the default.
func (f *connFlags) servers() string {
	if f.server != "" {
		return f.server
	}
	if s := os.Getenv("ZK_SERVERS"); s != "" {
		return s
	}
	return defaultServer
}

// options returns the client options the flags ask for.
func (f *connFlags) options() ([]keeper.Option, error) {
	if f.timeout <= 0 {
		return nil, usageErr(nil, "--timeout must be positive, not %v", f.timeout)
	}
	if f.sessionTimeout < 0 || (f.sessionTimeout > 0 && f.sessionTimeout < 100*time.Millisecond) {
		return nil, usageErr(nil, "--session-timeout must be at least 100ms, not %v", f.sessionTimeout)
	}
	// A third of --timeout per connection attempt, so that the error of a
	// timed-out connect can say why the attempts before failed.
	opts := []keeper.Option{keeper.WithConnectTimeout(max(min(f.timeout/3, 10*time.Second), min(f.timeout, time.Second)))}
	for _, a := range f.auth {
		scheme, cred, ok := strings.Cut(a, ":")
		if !ok || scheme == "" {
			return nil, usageErr(nil, "--auth %q: want scheme:credentials, such as digest:user:password", a)
		}
		opts = append(opts, keeper.WithAuth(scheme, []byte(cred)))
	}
	if f.readOnly {
		opts = append(opts, keeper.WithReadOnly(true))
	}
	if f.sessionTimeout > 0 {
		opts = append(opts, keeper.WithSessionTimeout(f.sessionTimeout))
	}
	if f.maxRequest < 0 {
		return nil, usageErr(nil, "--max-request-size must not be negative")
	}
	if f.maxRequest > 0 {
		opts = append(opts, keeper.WithMaxRequestSize(f.maxRequest))
	}
	if f.tlsCert != "" || f.tlsKey != "" || f.tlsCA != "" {
		cfg, err := f.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, keeper.WithTLS(cfg))
	}
	return opts, nil
}

// tlsConfig builds the TLS configuration of the --tls-* flags.
func (f *connFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, usageErr(nil, "--tls-cert and --tls-key go together")
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("keeper: tls: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("keeper: tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("keeper: tls: no certificate found in %s", f.tlsCA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// client returns the client of --server, connecting on first use.
func (a *app) client(ctx context.Context) (*keeper.Client, error) {
	a.mu.Lock()
	c, off := a.zk, a.disconnected
	a.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if off {
		return nil, errDisconnected
	}
	c, err := a.connect(ctx, a.conn.servers())
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.zk != nil {
		c.Close()
		return a.zk, nil
	}
	a.zk = c
	return c, nil
}

// clientLater returns a client of --server that connects in the background,
// for a shell started while the servers are down: commands wait for the
// session (up to --timeout each) and the prompt shows the state.
func (a *app) clientLater() (*keeper.Client, error) {
	opts, err := a.conn.options()
	if err != nil {
		return nil, err
	}
	c, err := keeper.New(a.conn.servers(), opts...)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.zk != nil {
		c.Close()
		return a.zk, nil
	}
	a.zk = c
	return c, nil
}

// clientOf returns a client of another ensemble (a zk:// URL), connecting
// on first use; the connection flags other than --server apply.
func (a *app) clientOf(ctx context.Context, servers string) (*keeper.Client, error) {
	a.mu.Lock()
	c := a.others[servers]
	a.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := a.connect(ctx, servers)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if o := a.others[servers]; o != nil {
		c.Close()
		return o, nil
	}
	a.others[servers] = c
	return c, nil
}

// connect opens a session on servers, waiting at most --timeout. It fails
// at once when every server refuses the connection or has a name that does
// not resolve (the library would go on trying until the timeout), and says
// why the last attempt failed when no session came in time.
func (a *app) connect(ctx context.Context, servers string) (*keeper.Client, error) {
	opts, err := a.conn.options()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cctx, cancelTimeout := context.WithTimeout(cctx, a.conn.timeout)
	defer cancelTimeout()
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		if err := probeHosts(cctx, servers); err != nil {
			cancel(err)
		}
	}()
	c, err := keeper.Connect(cctx, servers, opts...)
	cancelTimeout()
	<-probed
	var unreachable *unreachableError
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, keeper.ErrBadConnectString), errors.Is(err, keeper.ErrAuthFailed):
		return nil, err
	case ctx.Err() != nil:
		return nil, contextErr(ctx)
	case errors.As(context.Cause(cctx), &unreachable):
		return nil, fmt.Errorf("keeper: connect %s: %w", servers, unreachable)
	case cctx.Err() != nil:
		msg := fmt.Sprintf("keeper: connect %s: no session within %s", servers, fmtDuration(a.conn.timeout))
		if last := lastAttempt(err); last != nil {
			return nil, fmt.Errorf("%s (last attempt: %w)", msg, last)
		}
		return nil, errors.New(msg + " (is the server up? see --timeout)")
	default:
		return nil, fmt.Errorf("keeper: connect %s: %w", servers, err)
	}
}

// lastAttempt returns the reason of the last connection attempt that the
// library's connect error carries after its context error, or nil.
func lastAttempt(err error) error {
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) {
		return nil
	}
	if errs := multi.Unwrap(); len(errs) > 1 {
		return errs[len(errs)-1]
	}
	return nil
}

// unreachableError says that no server of a connect string can be reached:
// each one refused the connection or has a name that does not resolve.
type unreachableError struct{ errs []error }

func (e *unreachableError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = strings.ReplaceAll(err.Error(), "keeper: ", "")
	}
	return "no server reachable: " + strings.Join(msgs, "; ")
}

func (e *unreachableError) Unwrap() []error { return e.errs }

// probeHosts dials every host of a connect string once, at the same time,
// and returns an *unreachableError when each one refused or did not resolve.
// Other outcomes (a connection, a timeout) return nil: the client's own
// attempts decide then. A dns-srv:// name that does not exist is unreachable
// too.
func probeHosts(ctx context.Context, servers string) error {
	hosts, err := serverAddrs(ctx, servers)
	if err != nil {
		if _, ok := srvName(servers); ok && isUnreachable(err) {
			return &unreachableError{errs: []error{err}}
		}
		return nil
	}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", h)
			if err != nil {
				errs[i] = err
				return
			}
			nc.Close()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if !isUnreachable(err) {
			return nil
		}
	}
	return &unreachableError{errs: errs}
}

// isUnreachable reports whether a dial error is final: the connection was
// refused, or the name does not exist.
func isUnreachable(err error) bool {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return false
	case errors.Is(err, syscall.ECONNREFUSED):
		return true
	case errors.As(err, &dnsErr):
		return dnsErr.IsNotFound
	}
	return false
}

// contextErr returns why ctx ended: errInterrupted after Ctrl-C.
func contextErr(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// opErr turns the error of a request cut short by its context into a clear
// one: interrupted, or timed out after --timeout.
func (a *app) opErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return contextErr(ctx)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (no reply within --timeout %s)", err, fmtDuration(a.conn.timeout))
	}
	return err
}

// command is one subcommand of the CLI and the shell.
type command struct {
	name      string
	aliases   []string
	args      string // synopsis of flags and arguments
	summary   string
	help      string // more text for "keeper help <command>"
	min       int    // least number of arguments
	max       int    // most number of arguments; -1 for no limit
	shellOnly bool   // cd, pwd, exit: only inside the shell
	noShell   bool   // shell, sandbox: not inside the shell
	// ownSignals commands handle Ctrl-C themselves (the shell): runCommand
	// does not make them interruptible.
	ownSignals bool
	// setup registers the command's flags and returns the function that runs
	// it with the positional arguments.
	setup func(a *app, fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

// commands is the command table, sorted by name; filled by init functions.
var commands []*command

// register adds commands to the table.
func register(cs ...*command) {
	commands = append(commands, cs...)
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
}

// lookupCommand returns the command named (or aliased) name, or nil.
func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
		for _, al := range c.aliases {
			if al == name {
				return c
			}
		}
	}
	return nil
}

// runCommand parses args for c and runs it.
func (a *app) runCommand(ctx context.Context, c *command, args []string) error {
	fs := newFlagSet(c.name)
	run := c.setup(a, fs)
	if !a.inShell {
		a.conn.register(fs)
	}
	help := fs.Bool("help", false, "show help")
	if fs.Lookup("h") == nil {
		fs.BoolVar(help, "h", false, "show help")
	}
	pos, err := parseFlags(fs, args, false)
	if err != nil {
		return usageErr(c, "%v", err)
	}
	if *help {
		hfs := newFlagSet(c.name)
		c.setup(a, hfs)
		a.printCommandHelp(a.stdout, c, hfs)
		return nil
	}
	if len(pos) < c.min {
		return usageErr(c, "missing argument")
	}
	if c.max >= 0 && len(pos) > c.max {
		return usageErr(c, "too many arguments")
	}
	if c.ownSignals {
		return run(ctx, pos)
	}
	ctx, cancel := a.interruptible(ctx)
	defer cancel()
	return run(ctx, pos)
}

// printHelp prints the list of commands.
func (a *app) printHelp(w io.Writer) {
	fmt.Fprintln(w, "keeper: a ZooKeeper command-line client")
	fmt.Fprintln(w)
	if !a.inShell {
		fmt.Fprintln(w, "usage: keeper [connection flags] <command> [flags] [arguments]")
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "commands:")
	tw := newTable(w)
	for _, c := range commands {
		if (a.inShell && c.noShell) || (!a.inShell && c.shellOnly) {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	if !a.inShell {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "connection flags (before or after the command):")
		fs := newFlagSet("keeper")
		cf := connFlags{timeout: 10 * time.Second}
		cf.register(fs)
		printFlags(w, fs)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Run keeper help <command> for the command's flags. Exit status: 0 ok, 1 operation error, 2 usage error.")
	}
}

// printCommandHelp prints one command's usage and flags.
func (a *app) printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	prefix := "keeper "
	if a.inShell {
		prefix = ""
	}
	fmt.Fprintf(w, "usage: %s%s %s\n\n%s\n", prefix, c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	if fs != nil {
		fmt.Fprintln(w)
		printFlags(w, fs)
	}
}

// printFlags lists the flags of fs, without the help flags.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := newTable(w)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "help" || (f.Name == "h" && f.Usage == "show help") {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s%s %s\t%s%s\n", dash, f.Name, name, usage, def)
	})
	tw.Flush()
}

func init() {
	register(&command{
		name:    "help",
		args:    "[command]",
		summary: "show the commands, or one command's usage",
		max:     1,
		setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				if len(args) == 0 {
					a.printHelp(a.stdout)
					return nil
				}
				c := lookupCommand(args[0])
				if c == nil {
					return usageErr(nil, "unknown command %q", args[0])
				}
				cfs := newFlagSet(c.name)
				c.setup(a, cfs)
				a.printCommandHelp(a.stdout, c, cfs)
				return nil
			}
		},
	}, &command{
		name:    "version",
		summary: "print keeper's version",
		setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				fmt.Fprintln(a.stdout, "keeper", buildVersion())
				return nil
			}
		},
	})
}
