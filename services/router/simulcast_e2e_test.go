package router

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
)

// drivenEstimator is a cc.BandwidthEstimator whose estimate the test sets: it stands in for
// GCC's output so the test drives the router's layer selection end to end deterministically.
type drivenEstimator struct{ bps *atomic.Int64 }

func (d drivenEstimator) AddStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return w
}
func (d drivenEstimator) WriteRTCP([]rtcp.Packet, interceptor.Attributes) error { return nil }
func (d drivenEstimator) GetTargetBitrate() int                                 { return int(d.bps.Load()) }
func (d drivenEstimator) OnTargetBitrateChange(func(int))                       {}
func (d drivenEstimator) GetStats() map[string]any                              { return nil }
func (d drivenEstimator) Close() error                                          { return nil }

// A subscriber receives the low simulcast layer while its bandwidth estimate is low and the
// high one once it is high (and back), each switch preceded by a PLI to the publisher for the
// new layer and completed on its key frame.
func TestSimulcastFollowsBandwidthEstimate(t *testing.T) {
	bps := new(atomic.Int64)
	bps.Store(60_000)
	e := newTestEnv(t, func(o *Options) {
		o.NewEstimator = func() (cc.BandwidthEstimator, error) { return drivenEstimator{bps: bps}, nil }
		o.ControlInterval = 100 * time.Millisecond
	})
	pub := dialClient(t, e, "sim", "pub", clientOpts{video: true, simulcast: true})
	sub := dialClient(t, e, "sim", "sub", clientOpts{})
	r := sub.track("pub", "video-pub")
	waitFor(t, 15*time.Second, "sub receives the q layer", func() bool {
		r = sub.track("pub", "video-pub")
		return r.packets.Load() > 10 && r.layer.Load() == 1
	})
	if pub.pliCount("q") == 0 {
		t.Errorf("no PLI for layer q on subscribe")
	}
	// Wait until all three layers' rates are measured, so the choice is by bitrate.
	waitFor(t, 10*time.Second, "three layers measured", func() bool {
		for _, p := range e.sfu.Stats().Participants {
			if p.ID == "pub" && len(p.Published) == 1 {
				n := 0
				for _, l := range p.Published[0].Layers {
					if l.Bitrate > 0 {
						n++
					}
				}
				return n == 3
			}
		}
		return false
	})
	steps := []struct {
		name  string
		bps   int64
		rid   string
		layer int32
	}{
		{"high estimate → f", 5_000_000, "f", 3},
		{"low estimate → q", 60_000, "q", 1},
		{"medium estimate → h", 300_000, "h", 2},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			plis := pub.pliCount(st.rid)
			bps.Store(st.bps)
			waitFor(t, 10*time.Second, "layer "+st.rid+" arrives", func() bool {
				n := r.packets.Load()
				return r.layer.Load() == st.layer && r.packets.Load() >= n
			})
			if pub.pliCount(st.rid) <= plis {
				t.Errorf("no PLI for layer %s on switch (%d before, %d after)", st.rid, plis, pub.pliCount(st.rid))
			}
			n := r.packets.Load()
			waitFor(t, 5*time.Second, "layer "+st.rid+" keeps flowing", func() bool { return r.packets.Load() > n+5 && r.layer.Load() == st.layer })
			if bad := r.bad.Load(); bad != 0 {
				t.Errorf("%d corrupted packets", bad)
			}
		})
	}
}
