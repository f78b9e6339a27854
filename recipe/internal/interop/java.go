package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Java compiles source, a Java program whose public class is class, with
// javac into a temporary directory against jars (file names in JavaDir,
// such as "curator-recipes.jar"; their manifests pull in what they need),
// and starts it with args. The program must print "ready" once it obeys
// commands on its stdin, and quit on "quit" or at the end of stdin. A
// missing javac or jar fails the test with an install hint.
func Java(t testing.TB, class, source string, jars []string, args ...string) *Proc {
	t.Helper()
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("interop: javac not found: %v; %s", err, installHint)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("interop: java not found: %v; %s", err, installHint)
	}
	var cp []string
	for _, j := range jars {
		p := filepath.Join(JavaDir, j)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("interop: %s is missing: %v; %s (and libcurator-discovery-java for discovery)", p, err, installHint)
		}
		cp = append(cp, p)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, class+".java")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	classpath := strings.Join(cp, string(os.PathListSeparator))
	if out, err := exec.Command(javac, "-nowarn", "-cp", classpath, "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("interop: javac %s: %v\n%s", class, err, out)
	}
	cmdArgs := append([]string{"-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", dir + string(os.PathListSeparator) + classpath, class}, args...)
	return start(t, strings.ToLower(class), exec.Command(java, cmdArgs...))
}

// SplitChroot splits a connect string with a chroot ("h:1,h:2/app") into
// the servers and Curator's namespace ("app"; "" without a chroot).
func SplitChroot(hosts string) (servers, namespace string) {
	if i := strings.IndexByte(hosts, '/'); i >= 0 {
		return hosts[:i], strings.TrimPrefix(hosts[i:], "/")
	}
	return hosts, ""
}
