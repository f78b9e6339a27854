package zktest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Error codes of the replies the tests expect.
const (
	codeOK     = 0
	codeNoNode = -101
)

func TestStandalone(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if c.Len() != 1 || c.Servers() != c.Addr(0) || c.Leader() != 0 {
		t.Fatalf("Len %d, Servers %q, Addr(0) %q, Leader %d: want one standalone member", c.Len(), c.Servers(), c.Addr(0), c.Leader())
	}
	if info := srvr(t, c.Addr(0)); info.mode != "standalone" {
		t.Fatalf("srvr mode %q, want standalone", info.mode)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(c.Version()) {
		t.Fatalf("Version() = %q, want a release number", c.Version())
	}
	want := SelectedVersion()
	if want == Debian {
		want = "3.8.0"
	}
	if want != "" && c.Version() != want {
		t.Errorf("Version() = %q; the environment selects %s", c.Version(), want)
	}
	t.Logf("ZooKeeper %s", c.Version())
	if !strings.Contains(c.Log(0), "binding to port") {
		t.Errorf("the log does not show the server starting:\n%s", tail(c.Log(0), 20))
	}

	// Data survives a restart.
	s := dialSession(t, c.Addr(0))
	if _, code := s.call(t, createRequest(1, "/marker", []byte("x"))); code != codeOK {
		t.Fatalf("create /marker: error %d", code)
	}
	pid := c.PID(0)
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	if c.PID(0) == pid || c.PID(0) == 0 {
		t.Fatalf("PID %d after Restart, was %d: want a new process", c.PID(0), pid)
	}
	s = dialSession(t, c.Addr(0))
	if _, code := s.call(t, existsRequest(1, "/marker")); code != codeOK {
		t.Fatalf("exists /marker after restart: error %d", code)
	}

	pid = c.PID(0)
	dir := c.DataDir(0)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d after Close: kill(0) = %v, want ESRCH", pid, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir after Close: %v, want it gone", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Restart(0); err == nil {
		t.Error("Restart after Close succeeded")
	}
}

func TestEnsemble(t *testing.T) {
	c := Start(t, Nodes(3))
	if c.Len() != 3 || len(strings.Split(c.Servers(), ",")) != 3 {
		t.Fatalf("Len %d, Servers %q: want 3 members", c.Len(), c.Servers())
	}
	for i := range c.Len() {
		if mode := srvr(t, c.Addr(i)).mode; mode != "leader" && mode != "follower" {
			t.Fatalf("server %d: mode %q", i, mode)
		}
	}
	leader := c.Leader()
	if leader < 0 || leader >= 3 {
		t.Fatalf("Leader() = %d", leader)
	}
	s := dialSession(t, c.Addr(leader))
	if _, code := s.call(t, createRequest(1, "/marker", nil)); code != codeOK {
		t.Fatalf("create /marker: error %d", code)
	}
	zxid := srvr(t, c.Addr(leader)).zxid
	s.Close()

	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	if c.PID(leader) != 0 {
		t.Fatalf("PID(%d) = %d after Kill", leader, c.PID(leader))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitServing(ctx, leader); err == nil {
		t.Fatal("WaitServing on a killed server succeeded")
	}
	waitFor(t, 30*time.Second, "a new leader", func() bool {
		l := c.Leader()
		return l >= 0 && l != leader
	})

	if err := c.Restart(leader); err != nil {
		t.Fatal(err)
	}
	info := srvr(t, c.Addr(leader))
	if info.mode != "follower" && info.mode != "leader" {
		t.Fatalf("restarted server: mode %q", info.mode)
	}
	if info.zxid < zxid {
		t.Errorf("restarted server: zxid %#x, before the kill %#x", info.zxid, zxid)
	}
	s = dialSession(t, c.Addr(leader))
	if _, code := s.call(t, existsRequest(1, "/marker")); code != codeOK {
		t.Fatalf("exists /marker on the restarted server: error %d", code)
	}

	// Stop, then StartMember and WaitMode, on a follower.
	follower := (c.Leader() + 1) % 3
	if err := c.Stop(follower); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMember(follower); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMember(follower); err == nil {
		t.Fatal("StartMember on a running server succeeded")
	}
	if err := c.WaitMode(ctx, follower, "follower", "leader"); err != nil {
		t.Fatal(err)
	}
}

func TestPortClashRetried(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	clash := taken.Addr().(*net.TCPAddr).Port
	first := true
	pickPort = func() (int, error) {
		if first {
			first = false
			return clash, nil
		}
		return FreePort()
	}
	defer func() { pickPort = FreePort }()

	c := Start(t)
	if c.Addr(0) == taken.Addr().String() {
		t.Fatalf("server on the taken port %s", c.Addr(0))
	}
	if mode := srvr(t, c.Addr(0)).mode; mode != "standalone" {
		t.Fatalf("mode %q", mode)
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"no nodes", Nodes(0), "Nodes(0)"},
		{"too many nodes", Nodes(16), "Nodes(16)"},
		{"reserved key", Config("clientPort", "2181"), `"clientPort"`},
		{"server line", Config("server.1", "x"), `"server.1"`},
		{"key with =", Config("a=b", "c"), "bad key"},
		{"value with newline", Config("tickTime", "1\n2"), "line break"},
		{"flag without dash", JVMFlag("Xmx1g"), "JVMFlag"},
		{"empty classpath", Classpath(""), "Classpath"},
		{"classpath list", Classpath("a.jar:b.jar"), "Classpath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opt)
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
			if !strings.HasPrefix(err.Error(), "zktest: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestConfigOverrides(t *testing.T) {
	cfg := defaultConfig()
	for _, o := range []Option{Config("tickTime", "200"), Config("reconfigEnabled", "true")} {
		o(cfg)
	}
	if cfg.get("tickTime") != "200" || cfg.get("reconfigEnabled") != "true" {
		t.Fatalf("settings %v", cfg.settings)
	}
	if n := len(slices.DeleteFunc(slices.Clone(cfg.settings), func(s setting) bool { return s.key != "tickTime" })); n != 1 {
		t.Fatalf("%d tickTime lines", n)
	}
}

func TestMissingInstallation(t *testing.T) {
	t.Setenv("ZOOKEEPER_HOME", t.TempDir())
	_, err := New()
	if err == nil || !strings.Contains(err.Error(), "scripts/install-zookeeper") {
		t.Fatalf("error %v, want a hint to run scripts/install-zookeeper", err)
	}
	t.Setenv("ZKTEST_JAVA", "")
	t.Setenv("PATH", t.TempDir())
	_, err = New()
	if err == nil || !strings.Contains(err.Error(), "ZKTEST_JAVA") {
		t.Fatalf("error %v, want a hint about ZKTEST_JAVA", err)
	}
}

func TestBadIndex(t *testing.T) {
	for _, i := range []int{-1, 1} {
		if srv.Addr(i) != "" || srv.PID(i) != 0 || srv.Log(i) != "" || srv.DataDir(i) != "" {
			t.Errorf("index %d: want zero values", i)
		}
		if srv.Kill(i) == nil || srv.Stop(i) == nil || srv.Restart(i) == nil || srv.StartMember(i) == nil {
			t.Errorf("index %d: want errors", i)
		}
		if srv.WaitServing(context.Background(), i) == nil {
			t.Errorf("index %d: WaitServing succeeded", i)
		}
	}
}

func TestParseSrvr(t *testing.T) {
	tests := []struct {
		name, reply string
		want        srvrInfo
	}{
		{
			name: "3.8 standalone",
			reply: "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n" +
				"Latency min/avg/max: 0/0.0/0\nReceived: 6\nSent: 5\nConnections: 1\nOutstanding: 0\n" +
				"Zxid: 0x10000002a\nMode: standalone\nNode count: 5\n",
			want: srvrInfo{version: "3.8.0", mode: "standalone", zxid: 0x10000002a},
		},
		{
			name:  "3.9 follower",
			reply: "Zookeeper version: 3.9.2-e454e8c7283100c7caec6dcae2bc82aaecb63023, built on 2024-02-12 20:59 UTC\nZxid: 0x0\nMode: follower\n",
			want:  srvrInfo{version: "3.9.2", mode: "follower", zxid: 0},
		},
		{
			name:  "3.4 style",
			reply: "Zookeeper version: 3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf, built on 03/06/2019 16:18 GMT\nMode: leader\n",
			want:  srvrInfo{version: "3.4.14", mode: "leader", zxid: -1},
		},
		{
			name:  "not serving",
			reply: "This ZooKeeper instance is not currently serving requests\n",
			want:  srvrInfo{zxid: -1},
		},
		{
			name:  "read-only",
			reply: "Zookeeper version: 3.8.0-x, built on y\nMode: read-only\n",
			want:  srvrInfo{version: "3.8.0", mode: "read-only", zxid: -1},
		},
		{
			name:  "odd version",
			reply: "Zookeeper version: unknown\nZxid: zz\n",
			want:  srvrInfo{zxid: -1},
		},
		{name: "empty", want: srvrInfo{zxid: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseSrvr(tt.reply); got != tt.want {
				t.Fatalf("parseSrvr = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFourLetterWord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := FourLetterWord(ctx, srv.Addr(0), "mntr")
	if err != nil || !strings.Contains(reply, "zk_server_state\tstandalone") {
		t.Fatalf("mntr: %q, %v", reply, err)
	}
	if _, err := FourLetterWord(ctx, srv.Addr(0), "srv"); err == nil {
		t.Fatal("a three-letter command was sent")
	}
	mode, err := srv.Mode(ctx, 0)
	if err != nil || mode != "standalone" {
		t.Fatalf("Mode = %q, %v", mode, err)
	}
}

func TestRemoveStaleDirs(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(pid int) string {
		dir, err := os.MkdirTemp("", "zktest-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	stale, live := mk(dead.Process.Pid), mk(os.Getpid())
	removeStaleDirs()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the directory of a dead process: %v, want it removed", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the directory of a live process: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	c := Start(t, Nodes(3), JVMFlag("-Dreadonlymode.enabled=true"), Config("localSessionsEnabled", "true"))
	for i := range c.Len() {
		if mode := srvr(t, c.Addr(i)).mode; mode == "read-only" {
			t.Fatalf("server %d is read-only after New", i)
		}
	}
	survivor := c.Leader()
	for i := range c.Len() {
		if i != survivor {
			if err := c.Kill(i); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitMode(ctx, survivor, "read-only"); err != nil {
		t.Fatal(err)
	}
}

func TestAdminServer(t *testing.T) {
	c := Start(t, Config("admin.enableServer", "true"))
	if srv.AdminAddr(0) != "" {
		t.Fatalf("AdminAddr = %q with the AdminServer off", srv.AdminAddr(0))
	}
	url := "http://" + c.AdminAddr(0) + "/commands/ruok"
	var body []byte
	waitFor(t, 30*time.Second, "the AdminServer to answer", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == http.StatusOK
	})
	if !strings.Contains(string(body), `"command" : "ruok"`) && !strings.Contains(string(body), `"command":"ruok"`) {
		t.Fatalf("%s: %s", url, body)
	}
}
