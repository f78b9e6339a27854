package keeper

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// capturedReleases are the fixture directories that the capture tool
// recorded (`go run ./internal/wire/internal/capture -4lw testdata/4lw`
// with ZOOKEEPER_VERSION set). Its set-ups fix what each reply must say, so
// their expectations follow from the set-up, not from the bytes: counters
// that vary between runs (requests received, latencies) are only checked
// for consistency.
var capturedReleases = []string{"3.5.9", "3.5.10", "3.6.4", "3.7.0", "3.7.2", "3.8.6", "3.9.2", "3.9.5"}

func init() {
	for _, rel := range capturedReleases {
		for name, want := range capturedWants() {
			fixtureWants[rel+"/"+name] = want
		}
	}
}

// capturedWants maps each file of a capture to its expectation.
func capturedWants() map[string]any {
	return map[string]any{
		// A standalone server; one session (10s, the server's maximum) with
		// a data and a child watch on /fixture, which it created: two
		// transactions. The connection asking is the second one.
		"srvr.txt":         capturedStats{mode: "standalone", zxid: 2, conns: 2},
		"stat.txt":         capturedStats{mode: "standalone", zxid: 2, conns: 2},
		"mntr.txt":         capturedMntr{state: "standalone", alive: 2, watches: 2},
		"cons.txt":         capturedCons{n: 2},
		"conf.txt":         pairsWant{"tickTime": "500", "serverId": "0", "maxSessionTimeout": "10000", "dataDir": "/var/lib/zookeeper/server1/data/version-2"},
		"envi.txt":         pairsWant{"user.dir": "/var/lib/zookeeper/server1"},
		"ruok.txt":         ruokWant(true),
		"isro.txt":         isroWant(false),
		"dirs.txt":         rawWant{},
		"wchc.txt":         capturedWatches{"/fixture"},
		"wchp.txt":         capturedWatches{"/fixture"},
		"wchs.txt":         rawWant{},
		"unknown-xyzw.txt": errWant{errEmptyReply},
		// The default whitelist: srvr only.
		"not-whitelisted-cons.txt": errWant{ErrNotWhitelisted},
		"not-whitelisted-isro.txt": errWant{ErrNotWhitelisted},
		"not-whitelisted-mntr.txt": errWant{ErrNotWhitelisted},
		"not-whitelisted-ruok.txt": errWant{ErrNotWhitelisted},
		// A three-server ensemble after a session created /fixture.
		"srvr-leader.txt":   capturedStats{mode: "leader", zxid: -1, conns: 1, proposals: true},
		"srvr-follower.txt": capturedStats{mode: "follower", zxid: -1, conns: 1},
		"mntr-leader.txt":   capturedMntr{state: "leader", alive: 1, synced: 2},
		"mntr-follower.txt": capturedMntr{state: "follower", alive: 1},
		"conf-leader.txt":   pairsWant{"tickTime": "500", "peerType": "0"},
	}
}

// fixtureChecker is an expectation that checks a fixture itself.
type fixtureChecker interface {
	check(t *testing.T, out string, v Version)
}

// capturedStats is a srvr or stat reply of a capture. zxid -1: an
// ensemble's, whose epoch is not fixed; it must be past epoch 0.
type capturedStats struct {
	mode      string
	zxid      int64
	conns     int64
	proposals bool
}

func (w capturedStats) check(t *testing.T, out string, v Version) {
	stat := strings.Contains(out, "Clients:")
	parse := ParseSrvr
	if stat {
		parse = ParseStat
	}
	st, err := parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != v || st.Mode != w.mode || st.Connections != w.conns || st.ReadOnly || st.Outstanding != 0 {
		t.Errorf("version %v mode %q conns %d readOnly %v outstanding %d, want %v and %+v",
			st.Version, st.Mode, st.Connections, st.ReadOnly, st.Outstanding, v, w)
	}
	if w.zxid >= 0 && st.Zxid != w.zxid || w.zxid < 0 && st.Zxid>>32 < 1 {
		t.Errorf("zxid %#x, want %#x (-1: any past epoch 0)", st.Zxid, w.zxid)
	}
	if !(st.LatencyMin <= st.LatencyAvg && st.LatencyAvg <= st.LatencyMax) || st.Received < 1 {
		t.Errorf("latency %v/%v/%v, received %d", st.LatencyMin, st.LatencyAvg, st.LatencyMax, st.Received)
	}
	if st.HasProposals != w.proposals || w.proposals && !(st.ProposalMin <= st.ProposalMax && st.ProposalMax > 0) {
		t.Errorf("proposals %v: %d/%d/%d, want %v", st.HasProposals, st.ProposalLast, st.ProposalMin, st.ProposalMax, w.proposals)
	}
	if stat != (st.Clients != nil) || stat && int64(len(st.Clients)) != w.conns {
		t.Errorf("Clients %q for %d connections", st.Clients, w.conns)
	}
	for _, c := range st.Clients {
		if _, err := ParseCons(c); err != nil {
			t.Errorf("client line does not parse as cons: %v", err)
		}
	}
	// The same server state as mntr's, captured beside it.
	mntrFile := "mntr.txt"
	if w.mode != "standalone" {
		mntrFile = "mntr-" + w.mode + ".txt"
	}
	if m := siblingMntr(t, v, mntrFile); m != nil && m.ZnodeCount != st.NodeCount {
		t.Errorf("node count %d, but %s says %d", st.NodeCount, mntrFile, m.ZnodeCount)
	}
}

// siblingMntr parses another mntr fixture of release v.
func siblingMntr(t *testing.T, v Version, file string) *Monitor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "4lw", v.String(), file))
	if err != nil {
		t.Errorf("no %s beside this fixture: %v", file, err)
		return nil
	}
	m, err := ParseMntr(string(b))
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return nil
	}
	return m
}

// capturedMntr is a mntr reply of a capture.
type capturedMntr struct {
	state          string
	alive, watches int64
	synced         int64
}

func (w capturedMntr) check(t *testing.T, out string, v Version) {
	m, err := ParseMntr(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != v || m.ServerState != w.state || m.NumAliveConnections != w.alive || m.WatchCount != w.watches ||
		m.SyncedFollowers != w.synced || m.ZnodeCount < 4 {
		t.Errorf("version %v state %q alive %d watches %d synced %d znodes %d, want %v and %+v",
			m.Version, m.ServerState, m.NumAliveConnections, m.WatchCount, m.SyncedFollowers, m.ZnodeCount, v, w)
	}
	// 3.5 prints zk_followers itself; later releases leave it to the
	// metrics, which name it otherwise.
	if w.state == "leader" && v.Minor == 5 && m.Followers != 2 {
		t.Errorf("followers %d, want 2", m.Followers)
	}
	if n := strings.Count(strings.TrimSpace(out), "\n") + 1; len(m.Raw) != n {
		t.Errorf("Raw has %d keys for %d lines", len(m.Raw), n)
	}
}

// capturedCons is a cons reply of a capture: n connections, one of them
// the session (10s timeout, its last op a watch-setting read).
type capturedCons struct{ n int }

func (w capturedCons) check(t *testing.T, out string, _ Version) {
	conns, err := ParseCons(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != w.n {
		t.Fatalf("%d connections, want %d", len(conns), w.n)
	}
	sessions := 0
	for _, c := range conns {
		if c.SessionID == 0 {
			continue
		}
		sessions++
		if c.Timeout != 10*time.Second || c.Established.IsZero() || c.Received < 3 || !strings.HasPrefix(c.Addr, "127.0.0.1:") {
			t.Errorf("session connection %+v", c)
		}
	}
	if sessions != 1 {
		t.Errorf("%d connections with a session, want 1", sessions)
	}
}

// capturedWatches is a wchc or wchp reply: the watched paths it names.
type capturedWatches []string

func (w capturedWatches) check(t *testing.T, out string, _ Version) {
	for _, p := range w {
		if !strings.Contains(out, "\t"+p+"\n") && !strings.HasPrefix(out, p+"\n") {
			t.Errorf("no watch on %s in %q", p, out)
		}
	}
	if strings.TrimSpace(out) == "" {
		t.Error("empty reply")
	}
}
