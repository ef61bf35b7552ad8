package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// benchWindow is how long each mode is measured per iteration once media flows.
const benchWindow = 3 * time.Second

// BenchmarkRouter measures each scenario through the SFU and peer to peer in the same run and
// reports the router's CPU per forwarded packet and the latency it adds, as ratios against that
// baseline (see the package comment for the method). Run it with
//
//	go test -run XXX -bench . -benchtime 1x ./test/bench/
//
// One iteration is one comparison; -benchtime Nx repeats it and reports the last.
func BenchmarkRouter(b *testing.B) {
	quietPion(b)
	var table []Comparison
	for _, s := range Scenarios() {
		b.Run(s.Name, func(b *testing.B) {
			var c Comparison
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				var err error
				c, err = Compare(ctx, s, benchWindow)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(0, "ns/op") // an iteration's wall time says nothing here
			b.ReportMetric(c.RouterNsPerPacket(), "router-ns/pkt")
			b.ReportMetric(c.TotalNsPerPacket(), "total-ns/pkt")
			b.ReportMetric(c.DirectNsPerPacket(), "direct-ns/pkt")
			b.ReportMetric(c.CPURatio(), "cpu-ratio")
			b.ReportMetric(float64(c.AddedP50())/float64(time.Microsecond), "added-p50-µs")
			b.ReportMetric(float64(c.AddedP95())/float64(time.Microsecond), "added-p95-µs")
			b.ReportMetric(c.LatencyRatioP50(), "p50-latency-ratio")
			table = append(table, c)
		})
	}
	if len(table) > 0 {
		WriteTable(os.Stdout, table)
	}
}

// quietPion silences pion's own loggers (made with its default factory inside the interceptors,
// out of reach of the setting engine): tearing a meeting down makes the pacer report writes
// to closed transports, which would bury the table.
func quietPion(tb testing.TB) {
	tb.Setenv("PION_LOG_DISABLE", "all")
}
