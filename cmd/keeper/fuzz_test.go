package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzInput feeds arbitrary text to everything that parses user input: the
// shell's word splitter, paths, txn lines, ACL entries, connect strings,
// locations and the line editor's key handling. None may panic, and a
// resolved path must resolve to itself.
func FuzzInput(f *testing.F) {
	for _, s := range []string{
		"create -e -s /a/b- 'x y'", `set /a "q\"" 3`, "../..//x", "zk://h:1,h2/a", "file:~/x",
		"digest:u:h:cdrwa", "[::1]:2181/c", "abc\x1b[D\x1b[3~\x7f\t\r", "\x1b[1;5C\x1bOH\x10\x0e\x17\x15\x0b\x04",
		"héllo\xff\xfe\t\x03",
	} {
		f.Add(s)
	}
	a := newApp(nil, io.Discard, io.Discard)
	f.Cleanup(a.close)
	f.Fuzz(func(t *testing.T, s string) {
		splitWords(s)
		if p, err := resolve("/cwd", s); err == nil {
			if q, err := resolve("/", p); err != nil || q != p {
				t.Fatalf("resolve(%q) = %q, which resolves to %q, %v", s, p, q, err)
			}
		}
		parseTxnLine(s, "/")
		parseACL(s)
		hostsOf(s)
		a.parseLocation(s)
		var out bytes.Buffer
		e := editorFor(s, &out, []string{"one", "two"})
		defer e.keys.close()
		for i := 0; i < 100; i++ {
			line, err := e.readLine(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err == nil && strings.ContainsAny(line, "\r\n") {
				t.Fatalf("line %q holds a line break", line)
			}
		}
	})
}
