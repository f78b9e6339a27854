package keeperotel_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	keeperotel "github.com/keeper-go/keeper/metrics/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// New hooks a client to a MeterProvider: here the SDK's, read by hand; a
// program would give it its exporter's reader instead.
func ExampleNew() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	hooks, err := keeperotel.New(mp)
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"), keeper.WithMetrics(hooks))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, _, _ = c.Get(ctx, "/example-otel-missing")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "keeper.client.operation.duration" {
				for _, p := range h.DataPoints {
					op, _ := p.Attributes.Value("keeper.operation")
					outcome, _ := p.Attributes.Value("keeper.outcome")
					fmt.Println(m.Name, m.Unit, op.AsString(), outcome.AsString(), p.Count)
				}
			}
		}
	}
	// Output: keeper.client.operation.duration s get NoNode 1
}
