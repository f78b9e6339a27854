package main

import (
	"net"
	"strings"
	"testing"
)

// TestConnectErrorsShowCause: a failed connection says why (the last
// attempt's error), and a server that refuses connections fails at once
// instead of after --timeout (2m here: the run would be killed after 60s).
func TestConnectErrorsShowCause(t *testing.T) {
	t.Parallel()
	k := newCLI(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	r := k.exec("", "--server", refused, "--timeout", "2m", "ls", "/")
	k.checkFail(r, 1, []string{"connect " + refused, "no server reachable", "connection refused"}, []string{"ls"})

	// One refusing server among live ones is no reason to give up.
	k.ok("create", "/n")
	r = k.exec("", "--server", refused+","+k.servers, "--timeout", "2m", "ls", "/")
	if r.code != 0 || r.stdout != "n\n" {
		t.Fatalf("a refusing server beside a live one: %v", r)
	}

	// A server that accepts and never answers: the timeout, with the last
	// attempt's failure.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r = k.exec("", "--server", silent.Addr().String(), "--timeout", "2s", "ls", "/")
	k.checkFail(r, 1, []string{"no session within 2s (last attempt: "}, []string{"ls"})

	// A dns-srv:// name that does not resolve names the lookup.
	r = k.exec("", "--server", "dns-srv://_zookeeper._tcp.keeper-test.invalid/app", "--timeout", "5s", "ls", "/")
	k.checkFail(r, 1, []string{"dns-srv lookup of _zookeeper._tcp.keeper-test.invalid"}, []string{"ls"})
}

// TestRejectedAuthAtConnect: a mistyped scheme is an error at connect time,
// not a silent NoAuth later.
func TestRejectedAuthAtConnect(t *testing.T) {
	t.Parallel()
	k := newCLI(t)
	r := k.run("--auth", "digset:bob:secret", "ls", "/")
	k.checkFail(r, 1, []string{"rejected the credentials", "digset", "(AuthFailed)"}, []string{"ls"})
	if !strings.Contains(k.ok("--auth", "digest:bob:secret", "whoami"), "bob") {
		t.Fatal("whoami does not show the digest user")
	}
}
