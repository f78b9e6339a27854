package keeper

import (
	"errors"
	"testing"
)

func TestParseConnectString(t *testing.T) {
	tests := []struct {
		in     string
		hosts  []string
		chroot string
	}{
		{"127.0.0.1:2181", []string{"127.0.0.1:2181"}, ""},
		{"zk1,zk2:2182", []string{"zk1:2181", "zk2:2182"}, ""},
		{"zk1:1,zk2:2/app", []string{"zk1:1", "zk2:2"}, "/app"},
		{"zk1/a/b", []string{"zk1:2181"}, "/a/b"},
		{"zk1/", []string{"zk1:2181"}, ""},
		{"[::1]:2181,[fe80::1]", []string{"[::1]:2181", "[fe80::1]:2181"}, ""},
		{"[::1]:3000/chroot", []string{"[::1]:3000"}, "/chroot"},
		{"::1", []string{"[::1]:2181"}, ""},
		{" h1:5 , h2:6 ", []string{"h1:5", "h2:6"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			hosts, root, err := parseConnectString(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(hosts) != len(tt.hosts) {
				t.Fatalf("hosts = %v, want %v", hosts, tt.hosts)
			}
			for i := range hosts {
				if hosts[i].String() != tt.hosts[i] {
					t.Errorf("host %d = %s, want %s", i, hosts[i], tt.hosts[i])
				}
			}
			if string(root) != tt.chroot {
				t.Errorf("chroot = %q, want %q", root, tt.chroot)
			}
		})
	}
}

func TestParseConnectStringDNSSRV(t *testing.T) {
	for _, tt := range []struct{ in, name, chroot string }{
		{"dns-srv://_zookeeper._tcp.example.com", "_zookeeper._tcp.example.com", ""},
		{"dns-srv://zk.example.com/", "zk.example.com", ""},
		{"dns-srv://zk.example.com/app/a", "zk.example.com", "/app/a"},
	} {
		hosts, root, err := parseConnectString(tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if len(hosts) != 1 || !hosts[0].srv || hosts[0].host != tt.name || string(root) != tt.chroot {
			t.Errorf("%s: hosts %+v, chroot %q; want SRV name %q, chroot %q", tt.in, hosts, root, tt.name, tt.chroot)
		}
	}
}

func TestParseConnectStringErrors(t *testing.T) {
	for _, in := range []string{
		"", " ", ",", "h1,,h2", "h1:", "h1:0", "h1:65536", "h1:abc", ":2181",
		"[::1", "[::1]x", "[zz]:1", "h1/app/", "h1/a//b", "h1/a/./b", "h1 h2", "[::1]:",
		"dns-srv://", "dns-srv:///app", "dns-srv://a,b", "dns-srv://a:2181", "dns-srv://a/app/", "dns-srv://a/a//b",
	} {
		t.Run(in, func(t *testing.T) {
			_, _, err := parseConnectString(in)
			if !errors.Is(err, ErrBadConnectString) {
				t.Fatalf("parseConnectString(%q) = %v, want ErrBadConnectString", in, err)
			}
		})
	}
}

func TestValidatePath(t *testing.T) {
	good := []string{"/", "/a", "/a/b", "/a-b_c.d", "/é", "/a..b", "/.a"}
	for _, p := range good {
		if err := validatePath(p, false); err != nil {
			t.Errorf("validatePath(%q) = %v", p, err)
		}
	}
	if err := validatePath("/a/", true); err != nil {
		t.Errorf("sequential with trailing slash: %v", err)
	}
	bad := []string{"", "a", "/a/", "//", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/a\x00b", "/a\x01", "/\u0080", "/\ud7ff\ue000", "/\ufff5", "/\xff"}
	for _, p := range bad {
		if err := validatePath(p, false); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("validatePath(%q) = %v, want ErrInvalidPath", p, err)
		}
	}
}

func TestChrootAddStrip(t *testing.T) {
	c := chroot("/a")
	for _, tt := range []struct{ in, add, strip string }{
		{"/", "/a", "/"},
		{"/b", "/a/b", "/b"},
	} {
		if got := c.add(tt.in); got != tt.add {
			t.Errorf("add(%q) = %q, want %q", tt.in, got, tt.add)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"/a", "/"}, {"/a/b", "/b"}, {"/ab/c", "/ab/c"}, {"/zookeeper/config", "/zookeeper/config"}, {"/b", "/b"},
	} {
		if got := c.strip(tt.in); got != tt.want {
			t.Errorf("strip(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := chroot("").strip("/x"); got != "/x" {
		t.Errorf("empty chroot strip = %q", got)
	}
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"/a", "/", true}, {"/a/b", "/b", true}, {"/ab/c", "", false}, {"/application/z", "", false},
		{"/b", "", false}, {"", "", false}, {"/", "", false},
	} {
		if got, ok := c.within(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("within(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := chroot("").within("/x"); got != "/x" || !ok {
		t.Errorf("empty chroot within = %q, %v", got, ok)
	}
}

func TestErrorsIs(t *testing.T) {
	err := opError("get", "/a", CodeNoNode)
	if !errors.Is(err, ErrNoNode) || errors.Is(err, ErrNodeExists) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	if got := err.Error(); got != "keeper: get /a: node does not exist" {
		t.Errorf("message %q", got)
	}
	unknown := opError("get", "/a", Code(-999))
	if !errors.Is(unknown, &Error{Code: -999}) || unknown.(*Error).Code.String() != "Code(-999)" {
		t.Errorf("unknown code not kept: %v", unknown)
	}
	if !errors.Is(errPresumedExpired, ErrSessionExpired) || !errors.Is(errPresumedExpired, ErrSessionPresumedExpired) {
		t.Error("presumed expiry must match both sentinels")
	}
}
