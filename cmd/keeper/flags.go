package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// newFlagSet returns a flag set used only as a registry of flags: parseFlags
// does the parsing.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// isBool reports whether f is a boolean flag, which takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseFlags sets the flags of fs found in args and returns the other
// arguments. Flags may come before, between and after the arguments
// ("ls / -l"); "--" ends the flags. A flag is written -name or --name, its
// value as the next argument or after "=". One-letter boolean flags combine:
// -lR is -l -R. A lone "-" and negative numbers are arguments.
// With stopAtArg, parsing stops at the first argument, which is returned with
// everything after it.
func parseFlags(fs *flag.FlagSet, args []string, stopAtArg bool) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(arg) < 2 || arg[0] != '-' || isNumber(arg) {
			if stopAtArg {
				return append(pos, args[i:]...), nil
			}
			pos = append(pos, arg)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		name, value, hasValue := strings.Cut(name, "=")
		f := fs.Lookup(name)
		if f == nil {
			if !hasValue && combinedBools(fs, name) {
				for _, r := range name {
					fs.Set(string(r), "true")
				}
				continue
			}
			return nil, fmt.Errorf("unknown flag %s", arg)
		}
		switch {
		case hasValue:
		case isBool(f):
			value = "true"
		case i+1 < len(args):
			i++
			value = args[i]
		default:
			return nil, fmt.Errorf("flag %s needs a value", arg)
		}
		if err := fs.Set(name, value); err != nil {
			return nil, fmt.Errorf("flag %s: bad value %q", arg, value)
		}
	}
	return pos, nil
}

// combinedBools reports whether name is a run of one-letter boolean flags.
func combinedBools(fs *flag.FlagSet, name string) bool {
	if len(name) < 2 {
		return false
	}
	for _, r := range name {
		f := fs.Lookup(string(r))
		if f == nil || !isBool(f) {
			return false
		}
	}
	return true
}

// isNumber reports whether s is a (possibly negative) number, such as the
// version -1.
func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// newTable returns a writer that aligns tab-separated columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}
