package keeperotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/internal/testutil"
	keeperotel "github.com/keeper-go/keeper/metrics/otel"
	"github.com/keeper-go/keeper/zktest"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

var srv *zktest.Cluster

func TestMain(m *testing.M) { testutil.Main(m, &srv) }

// collect reads every metric of the scope from reader, by name.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != keeperotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// sum returns the counter's value for the points whose attributes include kv.
func sum(data metricdata.Aggregation, kv ...attribute.KeyValue) int64 {
	s, ok := data.(metricdata.Sum[int64])
	if !ok {
		return -1
	}
	var n int64
	for _, p := range s.DataPoints {
		if has(p.Attributes, kv) {
			n += p.Value
		}
	}
	return n
}

// histCount returns the histogram's count and max for the points whose
// attributes include kv.
func histCount[N int64 | float64](data metricdata.Aggregation, kv ...attribute.KeyValue) (count uint64, maxV N) {
	h, ok := data.(metricdata.Histogram[N])
	if !ok {
		return 0, 0
	}
	for _, p := range h.DataPoints {
		if has(p.Attributes, kv) {
			count += p.Count
			if v, ok := p.Max.Value(); ok {
				maxV = max(maxV, v)
			}
		}
	}
	return count, maxV
}

func has(set attribute.Set, kv []attribute.KeyValue) bool {
	for _, want := range kv {
		if v, ok := set.Value(want.Key); !ok || v != want.Value {
			return false
		}
	}
	return true
}

func TestOpenTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	hooks, err := keeperotel.New(mp, attribute.String("client", "test"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := zktest.NewProxy(srv.Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := srv.Client(t, testutil.ProxyDialer(p), keeper.WithMetrics(hooks), keeper.WithMaxQueued(5),
		keeper.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	ctx := testutil.Ctx(t, 0)
	client := attribute.String("client", "test")

	// Operations, with their outcomes.
	if _, err := c.Create(ctx, "/n", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "/missing"); !errors.Is(err, keeper.ErrNoNode) {
		t.Fatal(err)
	}
	m := collect(t, reader)
	dur := m["keeper.client.operation.duration"]
	if n, mx := histCount[float64](dur, client, attribute.String("keeper.operation", "create"), attribute.String("keeper.outcome", "ok")); n != 1 || mx <= 0 {
		t.Errorf("create ok: %d recorded, max %vs", n, mx)
	}
	if n, _ := histCount[float64](dur, attribute.String("keeper.operation", "get"), attribute.String("keeper.outcome", "NoNode")); n != 1 {
		t.Errorf("get NoNode: %d recorded", n)
	}
	if n := sum(m["keeper.client.requests.in_flight"], client); n != 0 {
		t.Errorf("in flight after the calls: %d", n)
	}

	// A reconnect storm.
	const drops = 4
	for i := range drops {
		p.Drop()
		testutil.WaitFor(t, 30*time.Second, "reconnected", func() bool {
			m := collect(t, reader)
			return c.State() == keeper.Connected && sum(m["keeper.client.connect.attempts"], attribute.String("keeper.result", "ok")) >= int64(2+i)
		})
	}
	m = collect(t, reader)
	if n := sum(m["keeper.client.state.changes"], attribute.String("keeper.state.from", "Connected"), attribute.String("keeper.state", "Suspended")); n < drops {
		t.Errorf("Connected->Suspended %d times, want %d", n, drops)
	}
	if n, _ := histCount[float64](m["keeper.client.connect.duration"], attribute.String("keeper.result", "ok")); n < drops+1 {
		t.Errorf("connect durations: %d, want %d", n, drops+1)
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
	m = collect(t, reader)
	watcher := attribute.String("keeper.consumer", "watcher")
	if n := sum(m["keeper.client.consumer.slow"], watcher); n != 1 {
		t.Errorf("slow watchers: %d", n)
	}
	if n, mx := histCount[int64](m["keeper.client.consumer.backlog"], watcher); n < 6 || mx != 6 {
		t.Errorf("watcher backlog: %d recorded, deepest %d; want the deepest 6", n, mx)
	}
}

// TestNoAllocs: recording a call, the calls in
// flight and a backlog allocates nothing once their attributes were seen.
func TestNoAllocs(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	hooks, err := keeperotel.New(mp)
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		hooks.Op("get", "ok", time.Millisecond)
		hooks.InFlight(1)
		hooks.InFlight(-1)
		hooks.Backlog(keeper.ConsumerWatcher, 3)
	})
	t.Logf("%v allocations for 4 measurements", n)
	if n != 0 {
		t.Fatalf("%v allocations for 4 measurements", n)
	}
}
