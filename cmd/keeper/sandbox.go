package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

func init() { register(sandboxCommand) }

// sandboxCluster is a running sandbox (a *zktest.Cluster on Linux).
type sandboxCluster interface {
	Servers() string
	Version() string
	Close() error
}

var sandboxCommand = &command{
	name:    "sandbox",
	args:    "[--servers n] [--port p] [--no-history]",
	summary: "start a throwaway local ZooKeeper and open the shell on it",
	help: `The servers run on free loopback ports, each in a temporary directory,
and are removed when the command ends (also on Ctrl-C or SIGTERM); --port
puts the first server on a fixed port (the others on the ports after it).
Other terminals reach them with the printed export ZK_SERVERS=... line. They need
Java and ZooKeeper: make deps installs them (or set ZOOKEEPER_HOME).
On a terminal the shell opens; otherwise the commands on standard input run,
and when there are none a short demo shows create, get, a watch event and
delete.`,
	noShell:    true,
	ownSignals: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		servers := fs.Int("servers", 1, "number of servers: 1 runs standalone, more an ensemble (at most 15)")
		port := fs.Int("port", 0, "client `port` of the first server (0: a free port)")
		noHistory := fs.Bool("no-history", false, "do not read or write ~/"+historyName)
		return func(ctx context.Context, args []string) error {
			if *servers < 1 || *servers > 15 {
				return usageErr(lookupCommand("sandbox"), "--servers must be between 1 and 15")
			}
			if *port < 0 || *port+*servers-1 > 65535 {
				return usageErr(lookupCommand("sandbox"), "--port must leave room for %d ports below 65536", *servers)
			}
			what := "a standalone server"
			if *servers > 1 {
				what = fmt.Sprintf("an ensemble of %d servers", *servers)
			}
			fmt.Fprintf(a.stderr, "starting %s...\n", what)
			cl, err := startSandbox(*servers, *port)
			if err != nil {
				return fmt.Errorf("keeper: sandbox: %w", err)
			}
			defer func() {
				cl.Close()
				fmt.Fprintln(a.stderr, "sandbox stopped and removed")
			}()
			select {
			case <-ctx.Done():
				return contextErr(ctx)
			case <-a.sigint: // Ctrl-C while the servers started
				return errInterrupted
			default:
			}
			fmt.Fprintf(a.stdout, "ZooKeeper %s sandbox at %s\n", cl.Version(), cl.Servers())
			fmt.Fprintf(a.stdout, "From another terminal:\n  export ZK_SERVERS=%s\n  keeper shell\n", cl.Servers())
			fmt.Fprintln(a.stdout, "(in a checkout, go install ./cmd/keeper puts keeper in $(go env GOPATH)/bin; or use go run ./cmd/keeper)")
			if url, stop, err := a.startWeb(cl.Servers()); err != nil {
				fmt.Fprintf(a.stderr, "keeper: sandbox: web: %v\n", err)
			} else {
				defer stop()
				fmt.Fprintf(a.stdout, "keeper web: open %s\n", url)
			}
			a.conn.server = cl.Servers()
			if terminalFile(a.stdin) != nil {
				return a.runShell(ctx, !*noHistory)
			}
			br := bufio.NewReader(a.stdin)
			if _, err := br.Peek(1); errors.Is(err, io.EOF) {
				ictx, cancel := a.interruptible(ctx)
				defer cancel()
				return a.demo(ictx)
			}
			a.stdin = br
			return a.runShell(ctx, false)
		}
	},
}

// demo shows Keeper at work on the sandbox: create, get, a watch event, set
// and delete, each step printed as the command that does it.
func (a *app) demo(ctx context.Context) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	step := func(line string) error {
		fmt.Fprintf(a.stdout, "\n$ keeper %s\n", line)
		words, err := splitWords(line)
		if err != nil {
			return err
		}
		return a.runCommand(ctx, lookupCommand(words[0]), words[1:])
	}
	if err := step("create /demo 'hello, keeper'"); err != nil {
		return err
	}
	if err := step("get /demo"); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	fmt.Fprintln(a.stdout, "\n# keeper watch /demo, in the background: events appear below")
	wctx, cancel := a.op(ctx)
	w, err := c.Watch(wctx, "/demo", false)
	cancel()
	if err != nil {
		return a.opErr(wctx, err)
	}
	defer w.Close()
	event := func() error {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return fmt.Errorf("keeper: watch /demo ended: %w", w.Err())
			}
			fmt.Fprintf(a.stdout, "watch event: %s %s\n", ev.Type, ev.Path)
			return nil
		case <-time.After(a.conn.timeout):
			return fmt.Errorf("keeper: no watch event within %s", fmtDuration(a.conn.timeout))
		case <-ctx.Done():
			return contextErr(ctx)
		}
	}
	for _, line := range []string{"set /demo 'hello again'", "rm /demo"} {
		if err := step(line); err != nil {
			return err
		}
		if err := event(); err != nil {
			return err
		}
	}
	if err := step("create -p /demo/app/config v1"); err != nil {
		return err
	}
	if err := step("tree /demo"); err != nil {
		return err
	}
	if err := step("rm -r /demo"); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "\nThat was Keeper. Run make sandbox in a terminal for an interactive shell.")
	return nil
}
