// Command keeper is a command-line client for ZooKeeper: scripting commands
// with JSON output, an interactive shell, a live view of an ensemble and a
// throwaway local sandbox.
//
//	keeper [connection flags] <command> [flags] [arguments]
//
// Run "keeper help" for the list of commands and "keeper help <command>" for
// one command. The connect string comes from --server, else from the
// ZK_SERVERS environment variable, else 127.0.0.1:2181.
//
// Exit status: 0 on success, 1 when an operation failed (the message names
// ZooKeeper's error, such as "(NoNode)"), 2 for a usage error: an unknown
// command or flag, a missing argument, a malformed path or connect string.
// Errors are printed on stderr, one line each.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/keeper-go/keeper"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := newApp(stdin, stdout, stderr)
	defer a.close()
	// SIGTERM and SIGHUP end everything; SIGINT only interrupts the running
	// command (see app.interruptible), so that the shell survives Ctrl-C.
	ctx, stop := stopOnSignals(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	return a.report(a.main(ctx, args))
}

// stopOnSignals returns a context cancelled by the first of sigs, with
// "keeper: stopped by SIGTERM" (say) as its cause.
func stopOnSignals(ctx context.Context, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(fmt.Errorf("keeper: stopped by %s", signalName(s)))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// signalName names a signal as kill(1) does: SIGTERM, SIGHUP.
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case os.Interrupt:
		return "SIGINT"
	}
	return s.String()
}

// main parses the leading connection flags and runs the command they are
// followed by.
func (a *app) main(ctx context.Context, args []string) error {
	fs := newFlagSet("keeper")
	a.conn.register(fs)
	help := fs.Bool("help", false, "show help")
	fs.BoolVar(help, "h", false, "show help")
	version := fs.Bool("version", false, "print the version")
	rest, err := parseFlags(fs, args, true)
	if err != nil {
		return usageErr(nil, "%v", err)
	}
	switch {
	case *version:
		fmt.Fprintln(a.stdout, "keeper", buildVersion())
		return nil
	case *help:
		a.printHelp(a.stdout)
		return nil
	case len(rest) == 0:
		a.printHelp(a.stderr)
		return &usageError{msg: "no command given", quiet: true}
	}
	c := lookupCommand(rest[0])
	if c == nil {
		return usageErr(nil, "unknown command %q (see keeper help)", rest[0])
	}
	if c.shellOnly {
		return usageErr(nil, "%s only works inside the shell (keeper shell)", c.name)
	}
	return a.runCommand(ctx, c, rest[1:])
}

// buildVersion returns the module version the binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// usageError is a usage mistake: exit status 2.
type usageError struct {
	cmd   *command
	msg   string
	quiet bool // the usage has been printed already
}

func (e *usageError) Error() string {
	if e.cmd == nil {
		return "keeper: " + e.msg
	}
	return fmt.Sprintf("keeper: %s: %s (usage: keeper %s %s)", e.cmd.name, e.msg, e.cmd.name, e.cmd.args)
}

// usageErr returns a usage error for the command c (nil for none).
func usageErr(c *command, format string, args ...any) error {
	return &usageError{cmd: c, msg: fmt.Sprintf(format, args...)}
}

// exitError carries the exit status of a child process (keeper lock): it is
// passed on without a message.
type exitError struct{ code int }

func (e *exitError) Error() string {
	return fmt.Sprintf("keeper: command exited with status %d", e.code)
}

// statusError is an error reported with a given exit status (diff's 2).
type statusError struct {
	err  error
	code int
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// errInterrupted ends a command stopped by Ctrl-C.
var errInterrupted = errors.New("keeper: interrupted")

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	var ue *usageError
	var ee *exitError
	var se *statusError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &ue),
		errors.Is(err, keeper.ErrBadConnectString),
		errors.Is(err, keeper.ErrInvalidPath):
		return 2
	default:
		return 1
	}
}

// errorLine formats err as the one line printed on stderr: prefixed
// "keeper: " once, with ZooKeeper's name of the error code appended
// ("keeper: get /a: node does not exist (NoNode)").
func errorLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "keeper: ", "")
	msg = strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ") // errors.Join
	var ke *keeper.Error
	if errors.As(err, &ke) {
		if name := ke.Code.String(); !strings.Contains(msg, "("+name+")") {
			msg += " (" + name + ")"
		}
	}
	if errors.Is(err, keeper.ErrRequestTooLarge) {
		msg = strings.ReplaceAll(msg, "see WithMaxRequestSize", "see --max-request-size")
	}
	msg = strings.Join(strings.Fields(msg), " ")
	return "keeper: " + msg
}

// report prints err (if any) and returns the exit status.
func (a *app) report(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	var ue *usageError
	switch {
	case errors.As(err, &ee):
	case errors.As(err, &ue) && ue.quiet:
	default:
		fmt.Fprintln(a.stderr, errorLine(err))
	}
	return exitCode(err)
}
