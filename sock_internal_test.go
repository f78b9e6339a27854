package keeper

import (
	"context"
	"net"
	"runtime"
	"testing"
)

// TestDialWrapsPlainTCP checks which connection the client reads and
// writes: the default dialer's *net.TCPConn goes through internal/sock on
// Linux (its raw system calls), while a dialer's own connection type is
// used as it is, so that a wrapper's Read and Write (counting, logging)
// still see every call.
func TestDialWrapsPlainTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	addr := ln.Addr().String()
	hp := hostPort{host: "127.0.0.1"}
	c := &Client{cfg: defaultConfig()}
	nc, err := c.dial(context.Background(), hp, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, plain := nc.(*net.TCPConn)
	if runtime.GOOS == "linux" && plain {
		t.Fatalf("the default dialer's connection is a plain %T, not read through internal/sock", nc)
	}
	if _, ok := nc.(interface{ SetNoDelay(bool) error }); !ok {
		t.Fatalf("the dialed %T lost the methods of *net.TCPConn", nc)
	}

	type wrapped struct{ net.Conn }
	c.cfg.dialer = func(ctx context.Context, network, a string) (net.Conn, error) {
		var d net.Dialer
		inner, err := d.DialContext(ctx, network, a)
		return wrapped{inner}, err
	}
	own, err := c.dial(context.Background(), hp, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if _, ok := own.(wrapped); !ok {
		t.Fatalf("a dialer's own connection came back as %T", own)
	}
}
