// Package keeperprom reports a keeper.Client's measurements as Prometheus
// metrics (github.com/prometheus/client_golang).
//
// New registers the collectors and returns a *keeper.Metrics to pass to
// keeper.WithMetrics; one may be shared by several clients (to tell them
// apart, register through prometheus.WrapRegistererWith with a label of
// your own, one New per client). The metrics:
//
//	keeper_client_operation_duration_seconds  histogram  operation, outcome
//	keeper_client_requests_in_flight          gauge
//	keeper_client_state_changes_total         counter    from, to
//	keeper_client_connect_attempts_total      counter    result
//	keeper_client_connect_duration_seconds    histogram  result
//	keeper_client_consumer_backlog_events     histogram  consumer
//	keeper_client_slow_consumers_total        counter    consumer
//
// operation is the call's name ("get", "create", ...), outcome what
// keeper.ErrorCode returns ("ok", "NoNode", "ConnectionLoss", ...), result
// what keeper.ConnectResult returns ("ok", "refused", "timeout", ...),
// consumer "watcher" or "listener", from and to connection states
// ("Connected", "Suspended", ...).
package keeperprom

import (
	"sync"
	"time"

	"github.com/keeper-go/keeper"
	"github.com/prometheus/client_golang/prometheus"
)

// New registers the collectors on reg and returns the hooks that feed
// them. It fails if reg already has collectors of these names.
func New(reg prometheus.Registerer) (*keeper.Metrics, error) {
	r := &recorder{
		opDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keeper_client_operation_duration_seconds",
			Help:    "Duration of ZooKeeper calls, from the request queued to its reply or failure, by operation and outcome.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"operation", "outcome"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keeper_client_requests_in_flight",
			Help: "Calls waiting for a reply.",
		}),
		states: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keeper_client_state_changes_total",
			Help: "Changes of the connection state, by the states before and after.",
		}, []string{"from", "to"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keeper_client_connect_attempts_total",
			Help: "Connection attempts (first connections and reconnects), by result.",
		}, []string{"result"}),
		connDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keeper_client_connect_duration_seconds",
			Help:    "Duration of connection attempts, by result.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10},
		}, []string{"result"}),
		backlog: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keeper_client_consumer_backlog_events",
			Help:    "Events queued for a watcher or state listener when one more is queued, the new one included.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384},
		}, []string{"consumer"}),
		slow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keeper_client_slow_consumers_total",
			Help: "Watchers and state listeners ended with ErrSlowConsumer.",
		}, []string{"consumer"}),
	}
	for _, c := range []prometheus.Collector{r.opDur, r.inflight, r.states, r.connects, r.connDur, r.backlog, r.slow} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return &keeper.Metrics{
		Op:           r.op,
		InFlight:     func(delta int) { r.inflight.Add(float64(delta)) },
		State:        func(from, to keeper.State) { r.states.WithLabelValues(from.String(), to.String()).Inc() },
		Connect:      r.connect,
		Backlog:      r.backlogged,
		SlowConsumer: func(kind string) { r.slow.WithLabelValues(kind).Inc() },
	}, nil
}

type recorder struct {
	opDur, connDur, backlog *prometheus.HistogramVec
	inflight                prometheus.Gauge
	states, connects, slow  *prometheus.CounterVec
	ops, backlogs           observers
}

// observers caches a histogram's observer per pair of label values, so
// that a measurement costs no allocation (WithLabelValues allocates).
type observers struct {
	mu sync.RWMutex
	m  map[string]map[string]prometheus.Observer
}

func (c *observers) get(vec *prometheus.HistogramVec, a, b string, labels ...string) prometheus.Observer {
	c.mu.RLock()
	o, ok := c.m[a][b]
	c.mu.RUnlock()
	if ok {
		return o
	}
	o = vec.WithLabelValues(labels...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]map[string]prometheus.Observer{}
	}
	if c.m[a] == nil {
		c.m[a] = map[string]prometheus.Observer{}
	}
	c.m[a][b] = o
	return o
}

func (r *recorder) op(op, code string, d time.Duration) {
	r.ops.get(r.opDur, op, code, op, code).Observe(d.Seconds())
}

func (r *recorder) backlogged(kind string, depth int) {
	r.backlogs.get(r.backlog, kind, "", kind).Observe(float64(depth))
}

func (r *recorder) connect(_, result string, d time.Duration) {
	r.connects.WithLabelValues(result).Inc()
	r.connDur.WithLabelValues(result).Observe(d.Seconds())
}
