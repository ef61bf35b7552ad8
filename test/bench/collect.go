package bench

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// collector counts what subscribers receive and, while recording, the one-way latency of each
// packet.
type collector struct {
	epoch     time.Time
	recording atomic.Bool
	delivered atomic.Int64

	mu      sync.Mutex
	flows   map[[2]string]int64 // (subscriber, publisher) → packets received
	samples []time.Duration
	bad     int64 // payloads without a plausible stamp
}

func newCollector(epoch time.Time) *collector {
	return &collector{epoch: epoch, flows: map[[2]string]int64{}}
}

// receive reads one remote track until it ends.
func (c *collector) receive(tr *webrtc.TrackRemote, sub, pub string) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	key := [2]string{sub, pub}
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		now := time.Since(c.epoch)
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		sent, ok := readStamp(p.Payload)
		c.mu.Lock()
		c.flows[key]++
		if !ok || sent <= 0 || sent > now {
			c.bad++
		} else if c.recording.Load() {
			c.samples = append(c.samples, now-sent)
		}
		c.mu.Unlock()
		if c.recording.Load() {
			c.delivered.Add(1)
		}
	}
}

// flowing reports whether every subscriber receives every other participant.
func (c *collector) flowing(ids []string, atLeast int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range ids {
		for _, p := range ids {
			if s != p && c.flows[[2]string{s, p}] < atLeast {
				return false
			}
		}
	}
	return true
}

// latencies returns the recorded samples, sorted.
func (c *collector) latencies() []time.Duration {
	c.mu.Lock()
	out := append([]time.Duration(nil), c.samples...)
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (c *collector) badStamps() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bad
}

// publish paces s's frames to w until ctx ends, stamping each payload and counting packets sent
// while the collector records.
func publish(ctx context.Context, s Scenario, w packetWriter, c *collector, sent *atomic.Int64) {
	tick := time.NewTicker(s.interval())
	defer tick.Stop()
	var seq uint16
	var ts uint32
	pt := uint8(111)
	if s.Video {
		pt = 96
	}
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f := s.makeFrame(n)
		for k, payload := range f.payloads {
			stamp(payload, time.Since(c.epoch))
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, Marker: f.marker && k == len(f.payloads)-1}, Payload: payload}
			seq++
			if w.WriteRTP(pkt) == nil && c.recording.Load() {
				sent.Add(1)
			}
		}
		ts += f.tsStep
	}
}

// percentile of sorted samples (q in [0,1]).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}
