package keeper_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
)

// TestCommandLive runs each four-letter word against the shared server and
// parses the reply.
func TestCommandLive(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := srv.Addr(0)
	c := srv.Client(t) // a session that cons must list
	sid := c.SessionID()

	run := func(t *testing.T, cmd string) string {
		t.Helper()
		out, err := keeper.Command(ctx, addr, cmd)
		if err != nil {
			t.Fatalf("Command(%s): %v", cmd, err)
		}
		return out
	}

	var version keeper.Version
	t.Run("srvr", func(t *testing.T) {
		st, err := keeper.ParseSrvr(run(t, "srvr"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode != "standalone" || st.NodeCount < 1 || st.Connections < 1 || st.Clients != nil {
			t.Errorf("unexpected srvr: %+v", st)
		}
		if want := srv.Version(); want != "" && st.Version.String() != want {
			t.Errorf("Version = %v, zktest says %s", st.Version, want)
		}
		if !st.Version.AtLeast(3, 5, 0) {
			t.Errorf("Version = %v, want 3.5 or later", st.Version)
		}
		version = st.Version
	})
	t.Run("stat", func(t *testing.T) {
		st, err := keeper.ParseStat(run(t, "stat"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode != "standalone" || len(st.Clients) < 2 {
			t.Errorf("unexpected stat (want our client and the asking connection): %+v", st)
		}
	})
	t.Run("mntr", func(t *testing.T) {
		m, err := keeper.ParseMntr(run(t, "mntr"))
		if err != nil {
			t.Fatal(err)
		}
		if m.ServerState != "standalone" || m.ZnodeCount < 1 || m.NumAliveConnections < 1 || len(m.Raw) < 10 {
			t.Errorf("unexpected mntr: state %q znodes %d alive %d keys %d", m.ServerState, m.ZnodeCount, m.NumAliveConnections, len(m.Raw))
		}
		if !version.IsZero() && m.Version != version {
			t.Errorf("mntr version %v, srvr %v", m.Version, version)
		}
	})
	t.Run("cons", func(t *testing.T) {
		conns, err := keeper.ParseCons(run(t, "cons"))
		if err != nil {
			t.Fatal(err)
		}
		var ours *keeper.Conn
		for i := range conns {
			if conns[i].SessionID == sid {
				ours = &conns[i]
			}
		}
		if ours == nil {
			t.Fatalf("cons does not list session %#x: %+v", sid, conns)
		}
		if ours.Timeout <= 0 || ours.Established.IsZero() || !strings.HasPrefix(ours.Addr, "127.0.0.1:") {
			t.Errorf("unexpected connection: %+v", *ours)
		}
	})
	t.Run("ruok", func(t *testing.T) {
		ok, err := keeper.ParseRuok(run(t, "ruok"))
		if err != nil || !ok {
			t.Errorf("ParseRuok = %v, %v", ok, err)
		}
	})
	t.Run("isro", func(t *testing.T) {
		ro, err := keeper.ParseIsro(run(t, "isro"))
		if err != nil || ro {
			t.Errorf("ParseIsro = %v, %v", ro, err)
		}
	})
	t.Run("conf", func(t *testing.T) {
		conf, err := keeper.ParseConf(run(t, "conf"))
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		if conf["clientPort"] != port || conf["tickTime"] == "" {
			t.Errorf("unexpected conf: %q", conf)
		}
	})
	t.Run("envi", func(t *testing.T) {
		env, err := keeper.ParseEnvi(run(t, "envi"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := keeper.ParseVersion(env["zookeeper.version"])
		if err != nil || (!version.IsZero() && v != version) || env["java.version"] == "" {
			t.Errorf("zookeeper.version %q (%v, %v), java.version %q", env["zookeeper.version"], v, err, env["java.version"])
		}
	})
	t.Run("unknown word", func(t *testing.T) {
		out, err := keeper.Command(ctx, addr, "xyzw")
		if err != nil || out != "" {
			t.Errorf("Command(xyzw) = %q, %v; want an empty reply", out, err)
		}
	})
}

func TestCommandLiveErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("bad word does not dial", func(t *testing.T) {
		for _, cmd := range []string{"xx", "SRVR", "srvrx"} {
			_, err := keeper.Command(ctx, srv.Addr(0), cmd)
			var opErr *net.OpError
			if err == nil || errors.As(err, &opErr) || !strings.Contains(err.Error(), "four lowercase letters") {
				t.Errorf("Command(%q) error = %v", cmd, err)
			}
		}
		// An address that cannot be dialed at all: the word is checked first.
		if _, err := keeper.Command(ctx, "no port here", "xx"); err == nil || !strings.Contains(err.Error(), "four lowercase letters") {
			t.Errorf("error = %v, want the bad word reported", err)
		}
	})

	t.Run("closed port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = keeper.Command(ctx, addr, "srvr")
		var opErr *net.OpError
		if !errors.As(err, &opErr) || !strings.HasPrefix(err.Error(), "keeper: ") || !strings.Contains(err.Error(), addr) {
			t.Errorf("error = %v, want a dial error naming %s", err, addr)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		_, err := keeper.Command(cctx, srv.Addr(0), "srvr")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})

	t.Run("cancelled while waiting", func(t *testing.T) {
		// A listener that accepts but never answers: only ctx can end the call.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			if nc, err := ln.Accept(); err == nil {
				accepted <- nc
			}
		}()
		cctx, ccancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := keeper.Command(cctx, ln.Addr().String(), "mntr")
			errc <- err
		}()
		select {
		case nc := <-accepted:
			defer nc.Close()
		case <-ctx.Done():
			t.Fatal("the command never connected")
		}
		ccancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}
