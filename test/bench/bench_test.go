package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Each scenario runs once, briefly, in both modes: the pipeline (joining, publishing,
// forwarding, counting, stamping, CPU accounting) must produce consistent numbers. Nothing
// here judges speed; the benchmark reports that.
func TestComparePipeline(t *testing.T) {
	quietPion(t)
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			c, err := Compare(ctx, s, 500*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			fanout := int64(s.Participants - 1)
			for _, r := range []Result{c.Router, c.Direct} {
				if r.Sent == 0 || r.Delivered == 0 || r.CPU <= 0 || len(r.Latency) == 0 {
					t.Fatalf("%s: empty measurement: sent %d delivered %d cpu %s samples %d", r.Mode, r.Sent, r.Delivered, r.CPU, len(r.Latency))
				}
				if r.BadStamps != 0 {
					t.Errorf("%s: %d payloads arrived without their send stamp", r.Mode, r.BadStamps)
				}
				if r.P50() <= 0 || r.P95() < r.P50() {
					t.Errorf("%s: latency percentiles p50 %s p95 %s", r.Mode, r.P50(), r.P95())
				}
				// Every sent packet reaches N-1 subscribers; the window's edges cut a few.
				if want := r.Sent * fanout; r.Delivered < want/2 || r.Delivered > want*2 {
					t.Errorf("%s: delivered %d packets for %d sent to %d subscribers each", r.Mode, r.Delivered, r.Sent, fanout)
				}
			}
			if c.Direct.Forwarded != 0 {
				t.Errorf("direct mode reports %d forwarded packets", c.Direct.Forwarded)
			}
			if f, d := c.Router.Forwarded, c.Router.Delivered; f < d/2 || f > d*2 {
				t.Errorf("router forwarded %d packets but subscribers received %d", f, d)
			}
			if c.TotalNsPerPacket() <= 0 || c.DirectNsPerPacket() <= 0 || c.CPURatio() <= 0 || c.LatencyRatioP50() <= 0 {
				t.Errorf("derived figures not positive: total %.0f direct %.0f cpu× %.2f lat× %.2f", c.TotalNsPerPacket(), c.DirectNsPerPacket(), c.CPURatio(), c.LatencyRatioP50())
			}
			var b strings.Builder
			WriteTable(&b, []Comparison{c})
			if !strings.Contains(b.String(), s.Name) {
				t.Errorf("table lacks the scenario row:\n%s", b.String())
			}
			t.Logf("\n%s", b.String())
		})
	}
}

func TestStampAndPercentile(t *testing.T) {
	for _, s := range Scenarios() {
		t.Run("frame "+s.Name, func(t *testing.T) {
			f := s.makeFrame(0)
			total := 0
			for _, p := range f.payloads {
				stamp(p, 1234*time.Microsecond)
				got, ok := readStamp(p)
				if !ok || got != 1234*time.Microsecond {
					t.Errorf("stamp round trip: %s %v", got, ok)
				}
				if len(p) > mtuPayload+stampLen {
					t.Errorf("payload %d bytes exceeds %d", len(p), mtuPayload+stampLen)
				}
				total += len(p) - stampLen
			}
			if s.Video {
				if want := s.Bitrate / 8 / s.FPS; total != want {
					t.Errorf("video frame carries %d bytes, want %d", total, want)
				}
				if f.payloads[0][0] != 0x10 || f.payloads[0][4] != 0x9d {
					t.Errorf("frame 0 is not a VP8 key frame: % x", f.payloads[0][:6])
				}
			}
		})
	}
	if _, ok := readStamp([]byte{1, 2, 3}); ok {
		t.Error("short payload yields a stamp")
	}
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 5}, {0.95, 9}, {1, 10}} {
		if got := percentile(ds, tc.q); got != tc.want {
			t.Errorf("percentile %.2f = %d, want %d", tc.q, got, tc.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}
