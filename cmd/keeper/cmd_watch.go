package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"
)

func init() { register(watchCommand) }

var watchCommand = &command{
	name:    "watch",
	args:    "[--recursive] [--json] [--count n] [--for d] [path]",
	summary: "print a node's changes (--recursive: its subtree's) until Ctrl-C",
	help: `Uses a persistent watch (ZooKeeper 3.6+). Each event is printed as one line:
its time, type and path (with --json, one JSON object per line). After a
reconnect a Resync event says that changes made meanwhile were not reported.
Ctrl-C ends the command with status 0; so do --count n after n events and
--for d after d (keeper watch --count 1 /x waits for one change). When both
are given and d passes before n events, the status is 1.`,
	max: 1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		recursive := fs.Bool("recursive", false, "also watch every descendant")
		fs.BoolVar(recursive, "r", false, "same as --recursive")
		asJSON := fs.Bool("json", false, "print one JSON object per event")
		count := fs.Int("count", 0, "exit after `n` events (0: no limit)")
		duration := fs.Duration("for", 0, "exit after `d` (0: no limit)")
		return func(ctx context.Context, args []string) error {
			if *count < 0 || *duration < 0 {
				return usageErr(lookupCommand("watch"), "--count and --for must not be negative")
			}
			p, c, err := a.pathAndClient(ctx, args, 0)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			w, err := c.Watch(octx, p, *recursive)
			err = a.opErr(octx, err)
			cancel()
			if err != nil {
				return err
			}
			defer w.Close()
			what := "node"
			if *recursive {
				what = "subtree"
			}
			fmt.Fprintf(a.stderr, "watching %s %s; Ctrl-C to stop\n", what, p)
			var timeUp <-chan time.Time
			if *duration > 0 {
				t := time.NewTimer(*duration)
				defer t.Stop()
				timeUp = t.C
			}
			enc := json.NewEncoder(a.stdout)
			for seen := 0; *count == 0 || seen < *count; seen++ {
				select {
				case <-timeUp:
					if *count > 0 {
						return fmt.Errorf("keeper: watch %s: %d of %d events within %s", p, seen, *count, fmtDuration(*duration))
					}
					return nil
				case <-ctx.Done():
					if errors.Is(context.Cause(ctx), errInterrupted) {
						return nil
					}
					return contextErr(ctx)
				case ev, ok := <-w.Events():
					if !ok {
						return fmt.Errorf("keeper: watch %s ended: %w", p, w.Err())
					}
					now := time.Now()
					if *asJSON {
						out := struct {
							Time string `json:"time"`
							Type string `json:"type"`
							Path string `json:"path"`
							Zxid string `json:"zxid,omitempty"`
							Err  string `json:"error,omitempty"`
						}{Time: now.Format(time.RFC3339Nano), Type: ev.Type.String(), Path: ev.Path}
						if ev.Zxid > 0 {
							out.Zxid = hex64(ev.Zxid)
						}
						if ev.Err != nil {
							out.Err = ev.Err.Error()
						}
						if err := enc.Encode(out); err != nil {
							return err
						}
						continue
					}
					line := fmt.Sprintf("%s %s %s", now.Format("15:04:05.000"), ev.Type.String(), ev.Path)
					if ev.Err != nil {
						line += " (" + errorLine(ev.Err) + ")"
					}
					if _, err := fmt.Fprintln(a.stdout, line); err != nil {
						return err
					}
				}
			}
			return nil
		}
	},
}
