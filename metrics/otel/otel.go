// Package keeperotel reports a keeper.Client's measurements as
// OpenTelemetry metrics (go.opentelemetry.io/otel/metric).
//
// New makes the instruments on a Meter of the given MeterProvider and
// returns a *keeper.Metrics to pass to keeper.WithMetrics; one may be
// shared by several clients. The instruments (units in braces are
// counts, as OpenTelemetry writes them):
//
//	keeper.client.operation.duration   histogram, s         keeper.operation, keeper.outcome
//	keeper.client.requests.in_flight   up-down counter, {request}
//	keeper.client.state.changes        counter, {change}    keeper.state.from, keeper.state
//	keeper.client.connect.attempts     counter, {attempt}   keeper.result
//	keeper.client.connect.duration     histogram, s         keeper.result
//	keeper.client.consumer.backlog     histogram, {event}   keeper.consumer
//	keeper.client.consumer.slow        counter, {consumer}  keeper.consumer
//
// keeper.operation is the call's name ("get", "create", ...), keeper.outcome
// what keeper.ErrorCode returns ("ok", "NoNode", "ConnectionLoss", ...),
// keeper.result what keeper.ConnectResult returns ("ok", "refused",
// "timeout", ...), keeper.consumer "watcher" or "listener".
package keeperotel

import (
	"context"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the Meter New uses.
const ScopeName = "github.com/keeper-go/keeper/metrics/otel"

// New makes the instruments on mp's Meter named ScopeName and returns the
// hooks that record into them. attrs, if any, are added to every
// measurement (a client's name, say, when several share a provider).
func New(mp metric.MeterProvider, attrs ...attribute.KeyValue) (*keeper.Metrics, error) {
	m := mp.Meter(ScopeName)
	r := &recorder{base: attrs}
	var err error
	if r.opDur, err = m.Float64Histogram("keeper.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of ZooKeeper calls, from the request queued to its reply or failure."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return nil, err
	}
	if r.inflight, err = m.Int64UpDownCounter("keeper.client.requests.in_flight", metric.WithUnit("{request}"),
		metric.WithDescription("Calls waiting for a reply.")); err != nil {
		return nil, err
	}
	if r.states, err = m.Int64Counter("keeper.client.state.changes", metric.WithUnit("{change}"),
		metric.WithDescription("Changes of the connection state, by the states before and after.")); err != nil {
		return nil, err
	}
	if r.connects, err = m.Int64Counter("keeper.client.connect.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Connection attempts (first connections and reconnects), by result.")); err != nil {
		return nil, err
	}
	if r.connDur, err = m.Float64Histogram("keeper.client.connect.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of connection attempts, by result."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10)); err != nil {
		return nil, err
	}
	if r.backlog, err = m.Int64Histogram("keeper.client.consumer.backlog", metric.WithUnit("{event}"),
		metric.WithDescription("Events queued for a watcher or state listener when one more is queued, the new one included."),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)); err != nil {
		return nil, err
	}
	if r.slow, err = m.Int64Counter("keeper.client.consumer.slow", metric.WithUnit("{consumer}"),
		metric.WithDescription("Watchers and state listeners ended with ErrSlowConsumer.")); err != nil {
		return nil, err
	}
	r.plain = newOpts(attrs...)
	return &keeper.Metrics{
		Op:           r.op,
		InFlight:     r.inFlight,
		State:        r.state,
		Connect:      r.connect,
		Backlog:      r.backlogged,
		SlowConsumer: r.slowConsumer,
	}, nil
}

type recorder struct {
	base                   []attribute.KeyValue
	plain                  opts
	opDur, connDur         metric.Float64Histogram
	inflight               metric.Int64UpDownCounter
	states, connects, slow metric.Int64Counter
	backlog                metric.Int64Histogram
	opAttrs, stateAttrs    options // by operation and outcome; by states
	resultAttrs, kindAttrs options // by connect result; by consumer
}

// opts is the options of a measurement with one attribute set, as slices
// passed on whole, so that a measurement allocates nothing.
type opts struct {
	rec []metric.RecordOption
	add []metric.AddOption
}

func newOpts(attrs ...attribute.KeyValue) opts {
	o := metric.WithAttributeSet(attribute.NewSet(attrs...))
	return opts{[]metric.RecordOption{o}, []metric.AddOption{o}}
}

// options caches the opts per pair of attribute values.
type options struct {
	mu sync.RWMutex
	m  map[string]map[string]opts
}

func (c *options) get(base []attribute.KeyValue, a, b string, kv ...attribute.KeyValue) opts {
	c.mu.RLock()
	o, ok := c.m[a][b]
	c.mu.RUnlock()
	if ok {
		return o
	}
	o = newOpts(append(append([]attribute.KeyValue(nil), base...), kv...)...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]map[string]opts{}
	}
	if c.m[a] == nil {
		c.m[a] = map[string]opts{}
	}
	c.m[a][b] = o
	return o
}

func (r *recorder) op(op, code string, d time.Duration) {
	o := r.opAttrs.get(r.base, op, code, attribute.String("keeper.operation", op), attribute.String("keeper.outcome", code))
	r.opDur.Record(context.Background(), d.Seconds(), o.rec...)
}

func (r *recorder) inFlight(delta int) {
	r.inflight.Add(context.Background(), int64(delta), r.plain.add...)
}

func (r *recorder) state(from, to keeper.State) {
	f, t := from.String(), to.String()
	o := r.stateAttrs.get(r.base, f, t, attribute.String("keeper.state.from", f), attribute.String("keeper.state", t))
	r.states.Add(context.Background(), 1, o.add...)
}

func (r *recorder) connect(_, result string, d time.Duration) {
	o := r.resultAttrs.get(r.base, result, "", attribute.String("keeper.result", result))
	r.connects.Add(context.Background(), 1, o.add...)
	r.connDur.Record(context.Background(), d.Seconds(), o.rec...)
}

func (r *recorder) backlogged(kind string, depth int) {
	o := r.kindAttrs.get(r.base, kind, "", attribute.String("keeper.consumer", kind))
	r.backlog.Record(context.Background(), int64(depth), o.rec...)
}

func (r *recorder) slowConsumer(kind string) {
	o := r.kindAttrs.get(r.base, kind, "", attribute.String("keeper.consumer", kind))
	r.slow.Add(context.Background(), 1, o.add...)
}
