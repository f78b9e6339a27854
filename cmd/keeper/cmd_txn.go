package main

import (
	"bufio"
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
)

func init() { register(txnCommand) }

var txnCommand = &command{
	name:    "txn",
	args:    "[--json] [file | 'operation' 'operation'...]",
	summary: "apply operations from a file, standard input or the arguments in one transaction",
	help: `One operation per line; blank lines and lines starting with # are skipped.
Words are split as in a shell, so quote data that has spaces:

  create [-e] [-s] [-c] [--ttl d] path [data]
  set path data [version]
  delete path [version]
  check path version

A missing version is -1 (any). Either every operation is applied or none;
when one fails, the error names its line. On success each result is printed:
the path created (with a sequential node's suffix), and the new version of
each set.

The operations may also be given as arguments, one quoted operation each
(in the shell, too): txn 'create /a 1' 'set /b 2 0' 'delete /c'.`,
	max: -1,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		asJSON := fs.Bool("json", false, "print the results as JSON")
		return func(ctx context.Context, args []string) error {
			cmd := lookupCommand("txn")
			name := "-"
			if len(args) > 0 {
				name = args[0]
			}
			var r io.Reader = a.stdin
			if len(args) > 1 || (len(args) == 1 && strings.ContainsAny(args[0], " \t")) {
				r = strings.NewReader(strings.Join(args, "\n"))
			} else if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return fmt.Errorf("keeper: txn: %w", err)
				}
				defer f.Close()
				r = f
			} else if a.inShell {
				return usageErr(cmd, "give a file: inside the shell, standard input is the terminal")
			}
			ops, err := parseTxn(r, a.cwd)
			if err != nil {
				return err
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			txn := c.Txn()
			for _, op := range ops {
				switch op.op {
				case "create":
					txn.Create(op.path, op.data, op.opts...)
				case "set":
					txn.Set(op.path, op.data, op.version)
				case "delete":
					txn.Delete(op.path, op.version)
				case "check":
					txn.Check(op.path, op.version)
				}
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			res, err := txn.Commit(octx)
			if err != nil {
				var te *keeper.TxnError
				if errors.As(err, &te) && te.Index >= 0 && te.Index < len(ops) {
					op := ops[te.Index]
					return fmt.Errorf("keeper: txn: nothing applied: line %d (%s %s) failed: %w", op.line, op.op, op.path, te.Unwrap())
				}
				return a.opErr(octx, err)
			}
			type resultJSON struct {
				Op      string `json:"op"`
				Path    string `json:"path"`
				Version *int32 `json:"version,omitempty"`
			}
			out := make([]resultJSON, len(res))
			for i, r := range res {
				out[i] = resultJSON{Op: r.Op, Path: r.Path}
				if r.Op == "set" && r.Stat != nil {
					v := r.Stat.Version
					out[i].Version = &v
				}
			}
			if *asJSON {
				return writeJSON(a.stdout, out)
			}
			for _, r := range out {
				line := r.Op + " " + r.Path
				if r.Version != nil {
					line += " version " + strconv.Itoa(int(*r.Version))
				}
				fmt.Fprintln(a.stdout, line)
			}
			return nil
		}
	},
}

// txnOp is one parsed line of a txn file.
type txnOp struct {
	line    int
	op      string
	path    string
	data    []byte
	version int32
	opts    []keeper.CreateOption
}

// parseTxn parses a txn file; paths are relative to cwd.
func parseTxn(r io.Reader, cwd string) ([]txnOp, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ops []txnOp
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, err := parseTxnLine(line, cwd)
		if err != nil {
			if errors.Is(err, keeper.ErrInvalidPath) {
				return nil, fmt.Errorf("keeper: txn: line %d: %w", n, err)
			}
			return nil, usageErr(lookupCommand("txn"), "line %d: %v", n, err)
		}
		op.line = n
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keeper: txn: reading: %w", err)
	}
	if len(ops) == 0 {
		return nil, usageErr(lookupCommand("txn"), "no operations")
	}
	return ops, nil
}

// parseTxnLine parses one operation.
func parseTxnLine(line, cwd string) (txnOp, error) {
	words, err := splitWords(line)
	if err != nil {
		return txnOp{}, err
	}
	if len(words) == 0 {
		return txnOp{}, errors.New("no operation")
	}
	op := txnOp{op: words[0], version: -1}
	args := words[1:]
	version := func(s string) error {
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return fmt.Errorf("bad version %q", s)
		}
		op.version = int32(v)
		return nil
	}
	switch op.op {
	case "create":
		fs := newFlagSet("create")
		e := fs.Bool("e", false, "")
		s := fs.Bool("s", false, "")
		c := fs.Bool("c", false, "")
		ttl := fs.Duration("ttl", 0, "")
		if args, err = parseFlags(fs, args, false); err != nil {
			return op, err
		}
		if len(args) < 1 || len(args) > 2 {
			return op, errors.New("want: create [-e] [-s] [-c] [--ttl d] path [data]")
		}
		if *e {
			op.opts = append(op.opts, keeper.Ephemeral())
		}
		if *s {
			op.opts = append(op.opts, keeper.Sequential())
		}
		if *c {
			op.opts = append(op.opts, keeper.Container())
		}
		if *ttl != 0 {
			if *ttl < time.Millisecond {
				return op, errors.New("--ttl must be at least 1ms")
			}
			op.opts = append(op.opts, keeper.TTL(*ttl))
		}
		if len(args) == 2 {
			op.data = []byte(args[1])
		}
	case "set":
		if len(args) < 2 || len(args) > 3 {
			return op, errors.New("want: set path data [version]")
		}
		op.data = []byte(args[1])
		if len(args) == 3 {
			if err := version(args[2]); err != nil {
				return op, err
			}
		}
	case "delete", "rm":
		op.op = "delete"
		if len(args) < 1 || len(args) > 2 {
			return op, errors.New("want: delete path [version]")
		}
		if len(args) == 2 {
			if err := version(args[1]); err != nil {
				return op, err
			}
		}
	case "check":
		if len(args) != 2 {
			return op, errors.New("want: check path version")
		}
		if err := version(args[1]); err != nil {
			return op, err
		}
	default:
		return op, fmt.Errorf("unknown operation %q (create, set, delete or check)", op.op)
	}
	op.path, err = resolve(cwd, args[0])
	if op.op == "create" && strings.HasSuffix(args[0], "/") && op.path != "/" && err == nil {
		op.path += "/" // a sequential node named by its counter only
	}
	return op, err
}
