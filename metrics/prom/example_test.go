package keeperprom_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keeper-go/keeper"
	keeperprom "github.com/keeper-go/keeper/metrics/prom"
	"github.com/prometheus/client_golang/prometheus"
)

// New registers the client's metrics; serve the registry with promhttp as
// usual. Here it is gathered by hand.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	hooks, err := keeperprom.New(reg)
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
	_, _, _ = c.Get(ctx, "/example-prom-missing")

	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "keeper_client_operation_duration_seconds" {
			for _, m := range mf.GetMetric() {
				fmt.Println(mf.GetName(), m.GetLabel()[0].GetValue(), m.GetLabel()[1].GetValue(), m.GetHistogram().GetSampleCount())
			}
		}
	}
	// Output: keeper_client_operation_duration_seconds get NoNode 1
}
