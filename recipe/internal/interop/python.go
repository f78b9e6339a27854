package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Script runs source, a Python program of a test's own, with the Kazoo
// peer's interpreter and args (as [Peer.Java] does for Curator). The
// program must print "ready" once it obeys commands on its stdin, and quit
// on "quit" or at the end of stdin.
func (p Peer) Script(t testing.TB, name, source string, args ...string) *Proc {
	t.Helper()
	p.Check(t)
	script := filepath.Join(t.TempDir(), name+".py")
	if err := os.WriteFile(script, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, name+"-"+p.Version, exec.Command(p.Python, append([]string{"-u", script}, args...)...))
}
