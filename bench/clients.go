package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/keeper-go/keeper"
)

// Client names, as the report prints them.
const (
	nameRaw    = "raw"
	nameGoZK   = "go-zookeeper"
	nameKeeper = "Keeper"
)

// subject is a real client under test (Keeper or go-zookeeper): one
// session, used from many goroutines.
type subject interface {
	get(path string) error
	// create makes a persistent sequential node under prefix.
	create(prefix string, data []byte) (string, error)
	delete(path string) error
	close()
}

// sessionTimeout is what every client asks for (the server's maximum with
// zktest's tickTime).
const sessionTimeout = 10 * time.Second

// keeperSubject adapts a Keeper client.
type keeperSubject struct {
	c   *keeper.Client
	ctx context.Context
}

func connectKeeper(servers string, opts ...keeper.Option) (*keeperSubject, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Keeper dials with its own dialer, as an application's client does:
	// a dialer of ours would hide the plain TCP connection it reads and
	// writes its own way (internal/sock, which counts the calls).
	opts = append([]keeper.Option{keeper.WithSessionTimeout(sessionTimeout)}, opts...)
	c, err := keeper.Connect(ctx, servers, opts...)
	if err != nil {
		return nil, err
	}
	return &keeperSubject{c: c, ctx: context.Background()}, nil
}

func (k *keeperSubject) get(path string) error {
	_, _, err := k.c.Get(k.ctx, path)
	return err
}

func (k *keeperSubject) create(prefix string, data []byte) (string, error) {
	return k.c.Create(k.ctx, prefix, data, keeper.Sequential())
}

func (k *keeperSubject) delete(path string) error { return k.c.Delete(k.ctx, path, -1) }

func (k *keeperSubject) close() { _ = k.c.Close() }

// gozkSubject adapts a go-zookeeper connection.
type gozkSubject struct {
	c      *zk.Conn
	events sync.WaitGroup
}

// nopLogger silences go-zookeeper, which logs to the standard logger by
// default.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

var gozkACL = zk.WorldACL(zk.PermAll)

// orderedHosts is a go-zookeeper HostProvider that tries the servers in
// its own order (Connect shuffles the list it passes to Init), so that a
// failover test knows which member the client starts on.
type orderedHosts struct {
	servers []string
	next    int
	tried   int
}

func (h *orderedHosts) Init(shuffled []string) error {
	if len(shuffled) != len(h.servers) {
		return fmt.Errorf("ordered hosts: got %d servers, want %d", len(shuffled), len(h.servers))
	}
	return nil
}

func (h *orderedHosts) Len() int { return len(h.servers) }

func (h *orderedHosts) Next() (string, bool) {
	s := h.servers[h.next%len(h.servers)]
	h.next++
	h.tried++
	retryStart := h.tried > len(h.servers)
	if retryStart {
		h.tried = 1
	}
	return s, retryStart
}

func (h *orderedHosts) Connected() { h.tried = 0 }

func connectGoZK(servers []string, timeout time.Duration, ordered bool) (*gozkSubject, error) {
	// go-zookeeper's option type is unexported: let inference name it.
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		nc, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		return countingConn{nc}, nil
	}
	opts := sliceOf(zk.WithLogger(nopLogger{}), zk.WithLogInfo(false), zk.WithDialer(dial))
	if ordered {
		opts = append(opts, zk.WithHostProvider(&orderedHosts{servers: servers}))
	}
	c, events, err := zk.Connect(servers, timeout, opts...)
	if err != nil {
		return nil, err
	}
	s := &gozkSubject{c: c}
	connected := make(chan struct{})
	var once sync.Once
	s.events.Add(1)
	go func() {
		defer s.events.Done()
		for ev := range events {
			if ev.State == zk.StateHasSession {
				once.Do(func() { close(connected) })
			}
		}
	}()
	select {
	case <-connected:
		return s, nil
	case <-time.After(20 * time.Second):
		c.Close()
		s.events.Wait()
		return nil, errors.New("go-zookeeper: no session after 20s")
	}
}

func (g *gozkSubject) get(path string) error {
	_, _, err := g.c.Get(path)
	return err
}

func (g *gozkSubject) create(prefix string, data []byte) (string, error) {
	return g.c.Create(prefix, data, zk.FlagSequence, gozkACL)
}

func (g *gozkSubject) delete(path string) error { return g.c.Delete(path, -1) }

func (g *gozkSubject) close() {
	g.c.Close()
	g.events.Wait()
}

// parallel runs op(i) for i in [0, n) from g goroutines, each taking the
// next index, and returns the first error.
func parallel(g, n int, op func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var first error
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					errOnce.Do(func() { first = fmt.Errorf("op %d: %w", i, err) })
					next.Store(int64(n)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func sliceOf[T any](xs ...T) []T { return xs }
