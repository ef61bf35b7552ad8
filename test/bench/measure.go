package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// Mode is how the participants reach each other.
type Mode string

const (
	// ModeRouter sends through the SFU.
	ModeRouter Mode = "router"
	// ModeDirect is the peer-to-peer mesh baseline.
	ModeDirect Mode = "direct"
)

// Result is one scenario measured in one mode over a window.
type Result struct {
	Scenario  string
	Mode      Mode
	Window    time.Duration
	CPU       time.Duration // process user+sys over the window
	Sent      int64         // packets the publishers wrote
	Delivered int64         // packets the subscribers received
	Forwarded int64         // packets the router forwarded (router mode)
	Latency   []time.Duration
	BadStamps int64
}

// P50 and P95 are one-way latency percentiles.
func (r Result) P50() time.Duration { return percentile(r.Latency, 0.50) }
func (r Result) P95() time.Duration { return percentile(r.Latency, 0.95) }

// Measure runs s in mode: connects everyone, waits until every subscriber receives every
// publisher, then measures over window.
func Measure(ctx context.Context, s Scenario, mode Mode, window time.Duration) (Result, error) {
	c := newCollector(time.Now())
	var sent atomic.Int64
	var m meeting
	var err error
	switch mode {
	case ModeRouter:
		m, err = startRouterMeeting(ctx, s, c, &sent)
	case ModeDirect:
		m, err = startDirectMeeting(ctx, s, c, &sent)
	default:
		return Result{}, fmt.Errorf("bench measure: unknown mode %q", mode)
	}
	if err != nil {
		return Result{}, err
	}
	defer m.close()
	deadline := time.Now().Add(30 * time.Second)
	for !c.flowing(m.ids(), 10) {
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("bench measure %s/%s: media not flowing between every pair after 30 s", s.Name, mode)
		}
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("bench measure %s/%s: %w", s.Name, mode, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	runtime.GC() // setup garbage is not the window's cost
	f0 := m.forwarded()
	cpu0, err := processCPU()
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	c.recording.Store(true)
	select {
	case <-ctx.Done():
		return Result{}, fmt.Errorf("bench measure %s/%s: %w", s.Name, mode, ctx.Err())
	case <-time.After(window):
	}
	c.recording.Store(false)
	cpu1, err := processCPU()
	if err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	f1 := m.forwarded()
	return Result{
		Scenario: s.Name, Mode: mode, Window: elapsed, CPU: cpu1 - cpu0,
		Sent: sent.Load(), Delivered: c.delivered.Load(), Forwarded: f1 - f0,
		Latency: c.latencies(), BadStamps: c.badStamps(),
	}, nil
}

// processCPU is this process's user+sys CPU time so far (getrusage(2)).
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("bench: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// Comparison is a scenario measured through the router and directly, in the same run.
type Comparison struct {
	Router, Direct Result
}

// Compare measures s directly, then through the router.
func Compare(ctx context.Context, s Scenario, window time.Duration) (Comparison, error) {
	d, err := Measure(ctx, s, ModeDirect, window)
	if err != nil {
		return Comparison{}, err
	}
	r, err := Measure(ctx, s, ModeRouter, window)
	if err != nil {
		return Comparison{}, err
	}
	return Comparison{Router: r, Direct: d}, nil
}

func perPacket(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(cpu.Nanoseconds()) / float64(n)
}

// TotalNsPerPacket is the router run's whole-process CPU per forwarded packet: clients and
// router together, an upper bound on the router's own cost.
func (c Comparison) TotalNsPerPacket() float64 { return perPacket(c.Router.CPU, c.Router.Forwarded) }

// DirectNsPerPacket is the baseline's CPU per delivered packet (send + receive, peer to peer).
func (c Comparison) DirectNsPerPacket() float64 { return perPacket(c.Direct.CPU, c.Direct.Delivered) }

// RouterNsPerPacket estimates the router's own CPU per forwarded packet: the router run's CPU
// minus the clients' share (baseline CPU per delivered packet × packets delivered), a lower
// bound (see the package comment).
func (c Comparison) RouterNsPerPacket() float64 {
	clients := c.DirectNsPerPacket() * float64(c.Router.Delivered)
	return (float64(c.Router.CPU.Nanoseconds()) - clients) / float64(max(c.Router.Forwarded, 1))
}

// CPURatio is total CPU per packet through the router over the baseline's.
func (c Comparison) CPURatio() float64 { return ratio(c.TotalNsPerPacket(), c.DirectNsPerPacket()) }

// AddedP50 and AddedP95 are the latency the router adds at those percentiles.
func (c Comparison) AddedP50() time.Duration { return c.Router.P50() - c.Direct.P50() }
func (c Comparison) AddedP95() time.Duration { return c.Router.P95() - c.Direct.P95() }

// LatencyRatioP50 is the router's median one-way latency over the baseline's.
func (c Comparison) LatencyRatioP50() float64 {
	return ratio(float64(c.Router.P50()), float64(c.Direct.P50()))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteTable prints the comparisons as a table.
func WriteTable(w io.Writer, cs []Comparison) {
	fmt.Fprintf(w, "%-12s %6s %9s %9s %8s %9s %9s %6s | %9s %9s %9s %9s %9s %9s %6s\n",
		"scenario", "window", "fwd pkts", "deliv", "direct", "total", "router", "cpu×",
		"p50 dir", "p50 rtr", "+p50", "p95 dir", "p95 rtr", "+p95", "lat×")
	fmt.Fprintf(w, "%-12s %6s %9s %9s %8s %9s %9s %6s | %9s %9s %9s %9s %9s %9s %6s\n",
		"", "s", "", "", "ns/pkt", "ns/pkt", "ns/pkt", "", "", "", "", "", "", "", "")
	for _, c := range cs {
		fmt.Fprintf(w, "%-12s %6.1f %9d %9d %8.0f %9.0f %9.0f %6.2f | %9s %9s %9s %9s %9s %9s %6.2f\n",
			c.Router.Scenario, c.Router.Window.Seconds(), c.Router.Forwarded, c.Router.Delivered,
			c.DirectNsPerPacket(), c.TotalNsPerPacket(), c.RouterNsPerPacket(), c.CPURatio(),
			us(c.Direct.P50()), us(c.Router.P50()), us(c.AddedP50()),
			us(c.Direct.P95()), us(c.Router.P95()), us(c.AddedP95()), c.LatencyRatioP50())
	}
}

func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }
