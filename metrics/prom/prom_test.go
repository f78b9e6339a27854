package keeperprom_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	keeperprom "github.com/keeper-go/keeper/metrics/prom"
	"github.com/keeper-go/keeper/zktest"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

var srv *zktest.Cluster

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

// value gathers reg and returns, for the family name, the sum over the
// series whose labels include want (name=value pairs) of the counter's or
// gauge's value, or of the histogram's sample count.
func value(t *testing.T, reg *prometheus.Registry, name string, want ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				v += m.Counter.GetValue()
			case m.Gauge != nil:
				v += m.Gauge.GetValue()
			case m.Histogram != nil:
				v += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return v
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	hooks, err := keeperprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keeperprom.New(reg); err == nil {
		t.Fatal("registering twice on one registry: no error")
	}
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := srv.Client(t, testutil.ProxyDialer(p), keeper.WithMetrics(hooks), keeper.WithMaxQueued(5),
		keeper.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	ctx := testutil.Ctx(t, 0)

	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "/missing"); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatal(err)
	}
	const dur = "keeper_client_operation_duration_seconds"
	if n := value(t, reg, dur, "operation", "create", "outcome", "ok"); n != 1 {
		t.Errorf("create ok: %v", n)
	}
	if n := value(t, reg, dur, "operation", "get", "outcome", "NoNode"); n != 1 {
		t.Errorf("get NoNode: %v", n)
	}
	if n := value(t, reg, "keeper_client_requests_in_flight"); n != 0 {
		t.Errorf("in flight after the calls: %v", n)
	}

	// A reconnect storm.
	const drops = 4
	for i := range drops {
		p.Drop()
		testutil.WaitFor(t, 30*time.Second, "reconnected", func() bool {
			return c.State() == keeper.Connected && value(t, reg, "keeper_client_connect_attempts_total", "result", "ok") >= float64(2+i)
		})
	}
	if n := value(t, reg, "keeper_client_state_changes_total", "from", "Connected", "to", "Suspended"); n < drops {
		t.Errorf("Connected->Suspended %v times, want %d", n, drops)
	}
	if n := value(t, reg, "keeper_client_connect_duration_seconds", "result", "ok"); n < drops+1 {
		t.Errorf("connect durations: %v", n)
	}

	// A slow consumer.
	w, err := c.Watch(ctx, "/n", false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; w.Err() == nil && i < 100; i++ {
		if _, err := c.Set(ctx, "/n", nil, keeper.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 30*time.Second, "the watcher ended", func() bool { return w.Err() != nil })
	if n := value(t, reg, "keeper_client_slow_consumers_total", "consumer", "watcher"); n != 1 {
		t.Errorf("slow watchers: %v", n)
	}
	// The watcher's backlog reached 6 (past WithMaxQueued(5)): one sample
	// above the bucket of 4, none above 8.
	exp := `
# HELP keeper_client_slow_consumers_total Watchers and state listeners ended with ErrSlowConsumer.
# TYPE keeper_client_slow_consumers_total counter
keeper_client_slow_consumers_total{consumer="watcher"} 1
`
	if err := promtest.GatherAndCompare(reg, strings.NewReader(exp), "keeper_client_slow_consumers_total"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "keeper_client_consumer_backlog_events" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		var le4, le8 uint64
		for _, b := range h.GetBucket() {
			switch b.GetUpperBound() {
			case 4:
				le4 = b.GetCumulativeCount()
			case 8:
				le8 = b.GetCumulativeCount()
			}
		}
		if h.GetSampleCount() < 6 || le8 != h.GetSampleCount() || le4 >= le8 {
			t.Errorf("watcher backlog: %d samples, %d up to 4, %d up to 8: want some past 4, none past 8", h.GetSampleCount(), le4, le8)
		}
	}
	if n := promtest.CollectAndCount(prometheus.Collector(reg), "keeper_client_consumer_backlog_events"); n != 1 {
		t.Errorf("backlog series: %d", n)
	}
}

// TestNoAllocs: recording a call or a backlog allocates nothing once its
// labels were seen.
func TestNoAllocs(t *testing.T) {
	hooks, err := keeperprom.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		hooks.Op("get", "ok", time.Millisecond)
		hooks.InFlight(1)
		hooks.InFlight(-1)
		hooks.Backlog(keeper.ConsumerWatcher, 3)
	}); n != 0 {
		t.Fatalf("%v allocations per measurement", n)
	}
}
