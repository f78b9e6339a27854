package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/zktest"
)

// The four-letter-word capture (-4lw DIR) writes DIR/<version>/<file>.txt,
// each one reply byte for byte, from three set-ups:
//
//   - a standalone server with every word allowed, while one session holds
//     a data watch and a child watch on /fixture: conf, cons, dirs, envi,
//     isro, mntr, ruok, srvr, stat, wchc, wchp, wchs, and unknown-xyzw;
//   - a standalone server with the default whitelist (srvr only):
//     not-whitelisted-{cons,isro,mntr,ruok};
//   - a three-server ensemble after one session created /fixture:
//     srvr-leader, mntr-leader, conf-leader, srvr-follower, mntr-follower.
//
// The servers' temporary directory is rewritten to /var/lib/zookeeper and
// the install location of the jars to /opt/zookeeper, so no path of the
// capturing machine is kept.

var standaloneWords = []string{"conf", "cons", "dirs", "envi", "isro", "mntr", "ruok", "srvr", "stat", "wchc", "wchp", "wchs"}

func capture4lw(out string) error {
	files := map[string]string{}
	var version string
	if err := withCluster(nil, func(cl *zktest.Cluster, fix func(string) string) error {
		version = cl.Version()
		c, err := session(cl.Servers())
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, _, _, err := c.GetW(ctx, "/fixture"); err != nil {
			return err
		}
		if _, _, _, err := c.ChildrenW(ctx, "/fixture"); err != nil {
			return err
		}
		for _, w := range append(standaloneWords, "xyzw") {
			reply, err := word(cl.Addr(0), w)
			if err != nil {
				return err
			}
			name := w
			if w == "xyzw" {
				name = "unknown-xyzw"
			}
			files[name] = fix(reply)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("standalone: %w", err)
	}
	if err := withCluster([]zktest.Option{zktest.Config("4lw.commands.whitelist", "srvr")}, func(cl *zktest.Cluster, fix func(string) string) error {
		for _, w := range []string{"cons", "isro", "mntr", "ruok"} {
			reply, err := word(cl.Addr(0), w)
			if err != nil {
				return err
			}
			files["not-whitelisted-"+w] = fix(reply)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("default whitelist: %w", err)
	}
	if err := withCluster([]zktest.Option{zktest.Nodes(3)}, func(cl *zktest.Cluster, fix func(string) string) error {
		leader := cl.Leader()
		if leader < 0 {
			return errors.New("no leader")
		}
		follower := (leader + 1) % cl.Len()
		c, err := session(cl.Addr(leader))
		if err != nil {
			return err
		}
		c.Close()
		for _, f := range []struct {
			member int
			word   string
			name   string
		}{
			{leader, "srvr", "srvr-leader"}, {leader, "mntr", "mntr-leader"}, {leader, "conf", "conf-leader"},
			{follower, "srvr", "srvr-follower"}, {follower, "mntr", "mntr-follower"},
		} {
			reply, err := word(cl.Addr(f.member), f.word)
			if err != nil {
				return err
			}
			files[f.name] = fix(reply)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("ensemble: %w", err)
	}
	dir := filepath.Join(out, version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, reply := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(reply), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d replies to %s\n", len(files), dir)
	return nil
}

// withCluster starts servers, runs f with a function that rewrites the
// machine's paths out of a reply, and stops them.
func withCluster(opts []zktest.Option, f func(*zktest.Cluster, func(string) string) error) (err error) {
	cl, err := zktest.New(opts...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cl.Close()) }()
	root := filepath.Dir(filepath.Dir(cl.DataDir(0)))
	var rewrites []string
	rewrites = append(rewrites, root, "/var/lib/zookeeper")
	if cache, err := zktest.CacheDir(); err == nil {
		rewrites = append(rewrites, filepath.Join(cache, "zookeeper", cl.Version()), "/opt/zookeeper")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "/" {
		rewrites = append(rewrites, home, "/home/zookeeper")
	}
	if tmp := os.TempDir(); tmp != "/tmp" {
		rewrites = append(rewrites, tmp, "/tmp")
	}
	r := strings.NewReplacer(rewrites...)
	return f(cl, r.Replace)
}

// session connects a client and creates /fixture.
func session(servers string) (*keeper.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, servers, keeper.WithSessionTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	if _, err := c.Create(ctx, "/fixture", []byte("x")); err != nil && !errors.Is(err, keeper.ErrNodeExists) {
		c.Close()
		return nil, err
	}
	return c, nil
}

// word sends a four-letter word on a fresh connection and reads the reply
// until the server closes the connection.
func word(addr, w string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(w)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "connection reset") {
		return "", fmt.Errorf("%s: %w", w, err)
	}
	return string(b), nil
}
