package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/keeper-go/keeper/recipe/lock"
)

func init() { register(lockCommand) }

var lockCommand = &command{
	name:    "lock",
	args:    "[--id identifier] [--wait d] path -- command [args...]",
	summary: "run a command while holding a lock (Kazoo-compatible)",
	help: `Waits for the lock on path (a Kazoo Lock: an ephemeral sequential child
"<uuid>__lock__<seq>" holding the identifier), runs the command with the same
standard streams, releases the lock when it exits, and exits with the
command's status. If the lock is lost meanwhile (the session expired, or the
node was deleted), the command is sent SIGTERM (SIGKILL 10s later) and keeper
exits with status 1. Ctrl-C while waiting gives up; while the command runs it
reaches the command too, and the lock is released once it exits.`,
	min: 2,
	max: -1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		host, _ := os.Hostname()
		id := fs.String("id", fmt.Sprintf("%s:%d", host, os.Getpid()), "the `identifier` stored in the lock node")
		wait := fs.Duration("wait", 0, "give up after waiting `d` for the lock (0: wait forever)")
		return func(ctx context.Context, args []string) error {
			p, err := resolve(a.cwd, args[0])
			if err != nil {
				return err
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			l := lock.New(c, p, *id)
			actx, cancel := ctx, context.CancelFunc(func() {})
			if *wait > 0 {
				actx, cancel = context.WithTimeout(ctx, *wait)
			}
			err = l.Acquire(actx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return contextErr(ctx)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("keeper: lock %s: not acquired within %s", p, fmtDuration(*wait))
				}
				return fmt.Errorf("keeper: lock %s: %w", p, err)
			}
			lost := l.Lost()
			defer func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.conn.timeout)
				defer cancel()
				l.Release(rctx)
			}()
			cmd := exec.Command(args[1], args[2:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.stdout, a.stderr
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("keeper: lock %s: %w", p, err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var lostErr error
			var kill <-chan time.Time
			interrupt := ctx.Done()
			for {
				select {
				case err := <-done:
					if lostErr != nil {
						return lostErr
					}
					return childStatus(err)
				case <-lost:
					lost = nil
					lostErr = fmt.Errorf("keeper: lock %s lost while the command ran: %w", p, l.Err())
					cmd.Process.Signal(syscall.SIGTERM)
					t := time.NewTimer(10 * time.Second)
					defer t.Stop()
					kill = t.C
				case <-kill:
					cmd.Process.Kill()
				case <-interrupt:
					// Ctrl-C reached the command as well when it runs in the
					// terminal's process group; pass it on in case it did not.
					interrupt = nil
					cmd.Process.Signal(os.Interrupt)
				}
			}
		}
	},
}

// childStatus turns a child's exit into keeper's: its status, or 128 plus
// the signal that killed it.
func childStatus(err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("keeper: lock: %w", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &exitError{128 + int(ws.Signal())}
	}
	return &exitError{ee.ExitCode()}
}
