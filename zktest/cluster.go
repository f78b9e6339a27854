package zktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds New's wait for every server to serve, and Restart's.
	startTimeout = 60 * time.Second
	// startAttempts is how often New tries fresh ports after a port was taken.
	startAttempts = 4
	// pollInterval is the pause between two readiness probes.
	pollInterval = 50 * time.Millisecond
	// probeTimeout bounds one readiness probe.
	probeTimeout = time.Second
	// errorLogLines is how much of a server's log an error quotes.
	errorLogLines = 30
	// failureLogLines is how much of each server's log Start prints when a
	// test fails.
	failureLogLines = 200
)

// pickPort is FreePort; tests replace it to force a port clash.
var pickPort = FreePort

// errPortTaken marks a start that failed because a port was in use.
var errPortTaken = errors.New("a port was already in use")

// errClosed is returned by the methods that start servers after Close.
var errClosed = errors.New("zktest: cluster is closed")

// Cluster is a set of real ZooKeeper servers on free loopback ports, each
// with its own temporary directory, started by [New] or [Start]. Its methods
// are safe for concurrent use; operations on the same member run one at a
// time. Members are numbered from 0; member i has server id (myid) i+1.
type Cluster struct {
	cfg     *config
	inst    *installation
	root    string
	members []*member
	version string // set by New, read-only afterwards

	mu     sync.Mutex
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// New starts the servers the options describe and returns once each one
// answers srvr with a Mode line (standalone, leader, follower or observer),
// or after 60s with an error that quotes the server's log. A server that
// exits at once because a port was taken is started again, with the whole
// cluster, on new ports (a few times). The caller must call [Cluster.Close].
func New(opts ...Option) (*Cluster, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	inst, err := findInstallation()
	if err != nil {
		return nil, err
	}
	inst.classpath = append(inst.classpath, cfg.classpath...)
	staleOnce.Do(removeStaleDirs)
	root, err := os.MkdirTemp("", "zktest-")
	if err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	owner := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := os.WriteFile(filepath.Join(root, ownerFile), owner, 0o644); err != nil {
		_ = os.RemoveAll(root)
		return nil, fmt.Errorf("zktest: %w", err)
	}
	c := &Cluster{cfg: cfg, inst: inst, root: root}
	for attempt := 1; ; attempt++ {
		err = c.startAll()
		if err == nil {
			return c, nil
		}
		c.killAll()
		if !errors.Is(err, errPortTaken) || attempt == startAttempts || cfg.port > 0 {
			break
		}
	}
	_ = c.Close()
	return nil, err
}

// Start is [New] for a test: it stops the test with t.Fatal when the servers
// do not start, and registers [Cluster.Close] with t.Cleanup. When the test
// has failed by then, the cleanup first logs the last 200 lines of each
// server's log with t.Log.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("zktest: the servers ran ZooKeeper %s, from %s", c.version, c.inst.where)
			for i, m := range c.members {
				t.Logf("zktest: last %d lines of the log of server %d (%s):\n%s",
					failureLogLines, i, c.Addr(i), tail(m.log(), failureLogLines))
			}
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// startAll lays out fresh directories and ports for every member, starts
// them all and waits until they serve.
func (c *Cluster) startAll() error {
	members := make([]*member, c.cfg.nodes)
	for i := range members {
		m, err := c.newMember(i)
		if err != nil {
			return err
		}
		members[i] = m
	}
	c.members = members
	for _, m := range c.members {
		if err := c.writeConfig(m); err != nil {
			return err
		}
	}
	for _, m := range c.members {
		if err := m.start(c.inst, c.cfg); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var (
		wg   sync.WaitGroup
		errs = make([]error, len(c.members))
	)
	for i, m := range c.members {
		wg.Go(func() {
			info, err := m.waitMode(ctx, notReadOnly)
			errs[i] = err
			if err != nil {
				cancel() // one failure fails the attempt: stop the other waits
				return
			}
			if i == 0 {
				c.version = info.version
			}
		})
	}
	wg.Wait()
	if errors.Join(errs...) == nil && c.inst.want != "" && c.version != "" && c.version != c.inst.want {
		return fmt.Errorf("zktest: the server of %s reports release %s, not %s", c.inst.where, c.version, c.inst.want)
	}
	// Report the root cause: a port clash or an exit beats the cancellation
	// it caused in the other waits.
	for _, err := range errs {
		if errors.Is(err, errPortTaken) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// newMember makes member i's directories (replacing those of an earlier
// attempt) and picks its ports.
func (c *Cluster) newMember(i int) (*member, error) {
	dir := filepath.Join(c.root, "server"+strconv.Itoa(i+1))
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	m := &member{
		index:   i,
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		cfgPath: filepath.Join(dir, "zoo.cfg"),
		logPath: filepath.Join(dir, "zookeeper.log"),
	}
	if err := os.MkdirAll(m.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	var ports []*int
	if c.cfg.port > 0 {
		// Checked first: a server already there would answer srvr for ours.
		m.clientPort = c.cfg.port + i
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(m.clientPort))
		if err != nil {
			return nil, fmt.Errorf("zktest: client port %d: %w", m.clientPort, err)
		}
		ln.Close()
	} else {
		ports = append(ports, &m.clientPort)
	}
	if c.cfg.quorum() {
		ports = append(ports, &m.quorumPort, &m.electionPort)
	}
	if c.cfg.adminEnabled() && c.cfg.get("admin.serverPort") == "" {
		ports = append(ports, &m.adminPort)
	}
	for _, p := range ports {
		port, err := pickPort()
		if err != nil {
			return nil, err
		}
		*p = port
	}
	return m, nil
}

// writeConfig writes m's zoo.cfg and, in a quorum, its myid file.
func (c *Cluster) writeConfig(m *member) error {
	var b strings.Builder
	b.WriteString("# Written by zktest.\n")
	for _, s := range c.cfg.settings {
		fmt.Fprintf(&b, "%s=%s\n", s.key, s.value)
	}
	fmt.Fprintf(&b, "dataDir=%s\n", m.dataDir)
	fmt.Fprintf(&b, "clientPort=%d\n", m.clientPort)
	b.WriteString("clientPortAddress=127.0.0.1\n")
	if m.adminPort != 0 {
		fmt.Fprintf(&b, "admin.serverPort=%d\n", m.adminPort)
		if c.cfg.get("admin.serverAddress") == "" {
			b.WriteString("admin.serverAddress=127.0.0.1\n")
		}
	}
	if c.cfg.quorum() {
		for _, o := range c.members {
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", o.index+1, o.quorumPort, o.electionPort, o.clientPort)
		}
		myid := filepath.Join(m.dataDir, "myid")
		if err := os.WriteFile(myid, []byte(strconv.Itoa(m.index+1)+"\n"), 0o644); err != nil {
			return fmt.Errorf("zktest: %w", err)
		}
	}
	if err := os.WriteFile(m.cfgPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}

// member returns member i, or an error naming the bad index.
func (c *Cluster) member(i int) (*member, error) {
	if i < 0 || i >= len(c.members) {
		return nil, fmt.Errorf("zktest: no server %d (the cluster has %d)", i, len(c.members))
	}
	return c.members[i], nil
}

// isClosed reports whether Close has begun.
func (c *Cluster) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Servers returns the connect string of all members:
// "127.0.0.1:p1,127.0.0.1:p2,...", in member order.
func (c *Cluster) Servers() string {
	addrs := make([]string, len(c.members))
	for i := range c.members {
		addrs[i] = c.Addr(i)
	}
	return strings.Join(addrs, ",")
}

// Addr returns "127.0.0.1:port", the client address of member i, or "" when
// there is no member i. A member keeps its address across restarts.
func (c *Cluster) Addr(i int) string {
	m, err := c.member(i)
	if err != nil {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(m.clientPort)
}

// AdminAddr returns "127.0.0.1:port", the AdminServer address of member i,
// or "" when the AdminServer is off (the default; see [Config]) or there is
// no member i. Its commands answer at http://AdminAddr/commands/<name>.
func (c *Cluster) AdminAddr(i int) string {
	m, err := c.member(i)
	if err != nil || !c.cfg.adminEnabled() {
		return ""
	}
	port := strconv.Itoa(m.adminPort)
	if m.adminPort == 0 {
		port = c.cfg.get("admin.serverPort")
	}
	return "127.0.0.1:" + port
}

// Len returns the number of members.
func (c *Cluster) Len() int { return len(c.members) }

// Version returns the servers' release as srvr reports it when they start,
// such as "3.9.5", or "" when it could not be read. The release is the one
// [SelectedVersion] names unless ZOOKEEPER_HOME chose the installation.
func (c *Cluster) Version() string { return c.version }

// PID returns the process id of member i, or 0 when it is not running.
func (c *Cluster) PID(i int) int {
	m, err := c.member(i)
	if err != nil {
		return 0
	}
	if p := m.running(); p != nil {
		return p.pid
	}
	return 0
}

// Log returns what member i has written to its log (stdout and stderr) so
// far, over all its runs; "" after Close or when there is no member i.
func (c *Cluster) Log(i int) string {
	m, err := c.member(i)
	if err != nil {
		return ""
	}
	return m.log()
}

// DataDir returns member i's dataDir (snapshots, transaction logs and myid),
// or "" when there is no member i. Close removes it.
func (c *Cluster) DataDir(i int) string {
	m, err := c.member(i)
	if err != nil {
		return ""
	}
	return m.dataDir
}

// Kill stops member i with SIGKILL, as a crash would, and waits until it has
// exited. Its data stays for [Cluster.Restart].
func (c *Cluster) Kill(i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	m.op.Lock()
	defer m.op.Unlock()
	return m.kill()
}

// Stop stops member i with SIGTERM and waits until it has exited, sending
// SIGKILL when it has not exited after 5s. Its data stays for
// [Cluster.Restart].
func (c *Cluster) Stop(i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	m.op.Lock()
	defer m.op.Unlock()
	return m.stop()
}

// StartMember starts member i again, on its old ports and with its data,
// without waiting for it to serve; see [Cluster.WaitServing] and
// [Cluster.WaitMode]. It fails when the member is running.
func (c *Cluster) StartMember(i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	m.op.Lock()
	defer m.op.Unlock()
	if c.isClosed() {
		return errClosed
	}
	if m.running() != nil {
		return fmt.Errorf("zktest: server %d is running", i)
	}
	return m.start(c.inst, c.cfg)
}

// Restart stops member i as [Cluster.Stop] does if it is running, starts it
// again on its old ports with its data, and waits up to 60s until it serves
// (as [Cluster.WaitServing]).
func (c *Cluster) Restart(i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	m.op.Lock()
	if c.isClosed() {
		m.op.Unlock()
		return errClosed
	}
	err = m.stop()
	if err == nil {
		err = m.start(c.inst, c.cfg)
	}
	m.op.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return c.WaitServing(ctx, i)
}

// WaitServing waits until member i answers srvr with a Mode line other than
// read-only: standalone, leader, follower or observer. It fails at once when
// the member is not running or exits, quoting its log, and returns ctx's
// error when ctx ends first.
func (c *Cluster) WaitServing(ctx context.Context, i int) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	_, err = m.waitMode(ctx, notReadOnly)
	return err
}

// WaitMode waits until member i's srvr reply says Mode: m for one of modes
// ("standalone", "leader", "follower", "observer" or "read-only"; with no
// modes, any of them). Waiting for "read-only" needs
// JVMFlag("-Dreadonlymode.enabled=true") and Config("localSessionsEnabled",
// "true"). It fails as [Cluster.WaitServing] does.
func (c *Cluster) WaitMode(ctx context.Context, i int, modes ...string) error {
	m, err := c.member(i)
	if err != nil {
		return err
	}
	_, err = m.waitMode(ctx, func(mode string) bool {
		return len(modes) == 0 || slices.Contains(modes, mode)
	})
	return err
}

// Mode asks member i for its srvr Mode line: "standalone", "leader",
// "follower", "observer", "read-only", or "" while it is up but not serving.
func (c *Cluster) Mode(ctx context.Context, i int) (string, error) {
	m, err := c.member(i)
	if err != nil {
		return "", err
	}
	reply, err := FourLetterWord(ctx, c.Addr(m.index), "srvr")
	if err != nil {
		return "", err
	}
	return parseSrvr(reply).mode, nil
}

// FourLetterWord sends a four-letter command to member i; see the
// package-level [FourLetterWord].
func (c *Cluster) FourLetterWord(ctx context.Context, i int, cmd string) (string, error) {
	if _, err := c.member(i); err != nil {
		return "", err
	}
	return FourLetterWord(ctx, c.Addr(i), cmd)
}

// Leader returns the index of the member whose srvr reply says
// Mode: leader, or -1 when no running member does (for instance during an
// election). A standalone server counts as its own leader: 0. Each member
// gets up to 1s to answer.
func (c *Cluster) Leader() int {
	if !c.cfg.quorum() {
		return 0
	}
	for i, m := range c.members {
		if m.running() == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		mode, err := c.Mode(ctx, i)
		cancel()
		if err == nil && mode == "leader" {
			return i
		}
	}
	return -1
}

// Close stops every member (SIGTERM, then SIGKILL after 5s), waits until
// they have exited and removes all their files. It is idempotent; later
// calls return the first call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		var (
			wg   sync.WaitGroup
			errs = make([]error, len(c.members))
		)
		for i, m := range c.members {
			wg.Go(func() {
				m.op.Lock()
				defer m.op.Unlock()
				errs[i] = m.stop()
			})
		}
		wg.Wait()
		if err := os.RemoveAll(c.root); err != nil {
			errs = append(errs, fmt.Errorf("zktest: %w", err))
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// killAll kills every member of a failed start attempt.
func (c *Cluster) killAll() {
	for _, m := range c.members {
		m.op.Lock()
		_ = m.kill()
		m.op.Unlock()
	}
}

func notReadOnly(mode string) bool { return mode != "read-only" }

// ownerFile, in a cluster's directory, holds the id of the process that
// made it.
const ownerFile = "owner.pid"

var staleOnce sync.Once

// removeStaleDirs removes the directories that clusters of test binaries
// which died without cleaning up (killed, or a timeout's panic) left in the
// temp dir: those whose owner process is gone. Their servers died with them
// (Pdeathsig).
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "zktest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or being made
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
