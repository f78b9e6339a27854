package keeper

import (
	"strings"
	"testing"
)

// FuzzParseConnectString feeds arbitrary text to the connect-string parsers
// (plain host lists and dns-srv:// names). Neither may panic; whatever they
// accept must be well formed: at least one host with a port in range, and a
// chroot that is empty or a valid path other than "/".
func FuzzParseConnectString(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:2181", "a:1,b:2,c/app", "[::1]:2181/x/y", "[fe80::1%eth0]:1", "h", "h:", ":1",
		"h:99999", "h:1/", "h:1//a", "dns-srv://zk.example/app", "dns-srv://", "a,,b", "\x00:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(hs []hostPort, root chroot, err error) {
			if err != nil {
				return
			}
			if len(hs) == 0 {
				t.Fatalf("%q: accepted with no host", s)
			}
			if root != "" {
				if root == "/" || validatePath(string(root), false) != nil {
					t.Fatalf("%q: accepted chroot %q", s, root)
				}
			}
		}
		if strings.HasPrefix(s, "dns-srv://") {
			hs, root, err := parseDNSSRV(s)
			check(hs, root, err)
			return
		}
		hs, root, err := parseConnectString(s)
		check(hs, root, err)
	})
}

// FuzzValidatePath checks the path validator against the rules it states:
// an accepted path starts with "/", has no empty, "." or ".." component and
// no trailing "/" (except "/" itself), and is valid UTF-8. It must never
// panic, and chroot handling must round-trip an accepted path.
func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"/", "/a", "/a/b", "//", "/a/", "/./a", "/a/..", "/\x00", "/\u00e9", "/\xff", "a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		seqErr := ValidateSequentialPath(p)
		if err := ValidatePath(p); err != nil {
			return
		} else if seqErr != nil {
			t.Fatalf("%q: valid, but not as a sequential prefix: %v", p, seqErr)
		}
		if p[0] != '/' || (len(p) > 1 && strings.HasSuffix(p, "/")) {
			t.Fatalf("%q accepted", p)
		}
		if p != "/" {
			for _, comp := range strings.Split(p[1:], "/") {
				if comp == "" || comp == "." || comp == ".." {
					t.Fatalf("%q accepted with component %q", p, comp)
				}
			}
		}
		root := chroot("/app")
		if got := root.strip(root.add(p)); got != p {
			t.Fatalf("chroot round trip of %q gave %q", p, got)
		}
	})
}
