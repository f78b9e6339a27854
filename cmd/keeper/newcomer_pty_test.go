//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestGetOnTerminal: on a terminal get ends data without a newline with one,
// so that the prompt does not follow it on the same line; piped output stays
// byte for byte.
func TestGetOnTerminal(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	k.ok("create", "/n", "no newline")
	tm := k.startTerminal("get", "/n")
	if code := tm.wait(); code != 0 {
		t.Fatalf("get exited with %d", code)
	}
	if out := tm.output(); !strings.HasSuffix(out, "no newline\r\n") {
		t.Fatalf("get on a terminal showed %q", out)
	}
	if out := k.ok("get", "/n"); out != "no newline" {
		t.Fatalf("piped get printed %q", out)
	}
}
