package router

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

// Simulcast layer bitrates the synthetic publisher sends (bits/s of VP8 payload). The middle
// layer is above the capped link so the low layer is the only one that fits under the cap.
var capLayerRates = []struct {
	rid  string
	id   byte
	rate int
}{{"q", 1, 100_000}, {"h", 2, 400_000}, {"f", 3, 800_000}}

const (
	capFPS       = 15
	capLimitBps  = 300_000     // the subscriber's capped downlink
	capLiftedBps = 100_000_000 // "no cap"
)

// capNet is a pion virtual network: the SFU and the publisher sit directly on a WAN router,
// the subscriber behind a token-bucket queue (its downlink) whose rate the test changes.
type capNet struct {
	wan                 *vnet.Router
	sfu, pub, sub       *vnet.Net
	downlink            *vnet.TBFQueue
	downlinkQueue       *vnet.Queue
	sfuIP, pubIP, subIP string
}

func newCapNet(t *testing.T) *capNet {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.77.0.0/24", MinDelay: 10 * time.Millisecond, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	n := &capNet{wan: wan, sfuIP: "10.77.0.1", pubIP: "10.77.0.2", subIP: "10.77.0.3"}
	mk := func(ip string) *vnet.Net {
		v, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	n.sfu, n.pub, n.sub = mk(n.sfuIP), mk(n.pubIP), mk(n.subIP)
	for _, v := range []*vnet.Net{n.sfu, n.pub} {
		if err := wan.AddNet(v); err != nil {
			t.Fatal(err)
		}
	}
	// A bottleneck link: 300 kbit/s, bursts of a few packets, ~0.5 s of queue before drops.
	n.downlink = vnet.NewTBFQueue(capLimitBps, 5*1500, 20_000)
	if n.downlinkQueue, err = vnet.NewQueue(n.sub, n.downlink); err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(n.downlinkQueue); err != nil {
		t.Fatal(err)
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = wan.Stop()
		_ = n.downlinkQueue.Close()
	})
	return n
}

// vnetOnly makes an ICE agent gather on the virtual interface only (UDP; vnet has no TCP).
func vnetOnly(v *vnet.Net) func(*webrtc.SettingEngine) {
	return func(se *webrtc.SettingEngine) {
		se.SetNet(v)
		se.SetInterfaceFilter(func(name string) bool { return name == "eth0" })
		se.SetIncludeLoopbackCandidate(false)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
}

// capFrame is a synthetic VP8 frame: a key or inter frame header (RFC 6386 §9.1) followed by
// filler bytes that all equal the layer's ID, so any forwarded packet's last byte names its
// layer.
func capFrame(id byte, size int, key bool) []byte {
	f := make([]byte, size)
	for i := range f {
		f[i] = id
	}
	if key {
		copy(f, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}) // P=0, start code, 320x240
	} else {
		copy(f, []byte{0x11, 0x02, 0x00})
	}
	return f
}

// publishCapLayers sends the three layers at capLayerRates, a key frame every 5 frames so a
// layer switch completes within a third of a second (the synthetic source ignores PLIs).
func publishCapLayers(ctx context.Context, layers []*rtcclient.SimulcastLayer) {
	tick := time.NewTicker(time.Second / capFPS)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, l := range layers {
			lr := capLayerRates[i]
			_ = l.WriteSample(media.Sample{Data: capFrame(lr.id, lr.rate/8/capFPS, n%5 == 0), Duration: time.Second / capFPS})
		}
	}
}

// layerWatch records which simulcast layer the subscriber is receiving.
type layerWatch struct {
	packets atomic.Int64
	layer   atomic.Int32 // ID of the layer of the newest packet
	mu      sync.Mutex
	since   time.Time // when layer last changed
	history []string
}

func (w *layerWatch) observe(id byte, now time.Time) {
	w.packets.Add(1)
	if old := w.layer.Swap(int32(id)); old != int32(id) {
		w.mu.Lock()
		w.since = now
		w.history = append(w.history, fmt.Sprintf("%s@%s", ridOf(id), now.Format("15:04:05.000")))
		w.mu.Unlock()
	}
}

// steady reports whether layer id has been arriving for at least d.
func (w *layerWatch) steady(id byte, d time.Duration, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.layer.Load() == int32(id) && now.Sub(w.since) >= d
}

func (w *layerWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.history, " ")
}

func ridOf(id byte) string {
	for _, l := range capLayerRates {
		if l.id == id {
			return l.rid
		}
	}
	return fmt.Sprintf("?%d", id)
}

// estimateOf is the SFU's send-side bandwidth estimate towards participant id.
func estimateOf(s *SFU, id string) int {
	for _, p := range s.Stats().Participants {
		if p.ID == id {
			return p.EstimateBps
		}
	}
	return 0
}

// A subscriber behind a 300 kbit/s link receives the low simulcast layer, and the high one
// once the cap is lifted. Nothing drives the estimate: pion's GCC in the router reads the
// subscriber's TWCC feedback over a pion vnet whose token-bucket queue is the bottleneck.
func TestSimulcastFollowsCappedLink(t *testing.T) {
	n := newCapNet(t)
	e := newTestEnv(t, func(o *Options) { o.SettingEngine = vnetOnly(n.sfu) })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	dial := func(id string, v *vnet.Net, onTrack func(*webrtc.TrackRemote, string)) *rtcclient.Client {
		c, err := rtcclient.Dial(ctx, rtcclient.Options{
			SignalURL: e.url, Token: e.token(t, "cap", id, testRouterID),
			SettingEngine: vnetOnly(v), OnTrack: onTrack,
		})
		if err != nil {
			t.Fatalf("dial %s: %v", id, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	pub := dial("pub", n.pub, nil)
	layers := make([]*rtcclient.SimulcastLayer, len(capLayerRates))
	for i, lr := range capLayerRates {
		l, err := rtcclient.NewSimulcastLayer("video-pub", "pub", lr.rid)
		if err != nil {
			t.Fatal(err)
		}
		layers[i] = l
	}
	if _, err := pub.PublishSimulcast(layers...); err != nil {
		t.Fatal(err)
	}
	go publishCapLayers(ctx, layers)

	watch := &layerWatch{}
	sub := dial("sub", n.sub, func(tr *webrtc.TrackRemote, _ string) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if len(p.Payload) > 0 {
				watch.observe(p.Payload[len(p.Payload)-1], time.Now())
			}
		}
	})
	if _, err := sub.Publish(); err != nil {
		t.Fatal(err)
	}

	// Log the estimate and the layer once a second: the timeline explains any failure.
	logCtx, stopLog := context.WithCancel(ctx)
	defer stopLog()
	start := time.Now()
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-logCtx.Done():
				return
			case <-tk.C:
				t.Logf("t=%4.1fs estimate=%d bps layer=%s packets=%d gcc=%v", time.Since(start).Seconds(), estimateOf(e.sfu, "sub"), ridOf(byte(watch.layer.Load())), watch.packets.Load(), gccStats(e.sfu))
			}
		}
	}()

	q, f := capLayerRates[0], capLayerRates[2]

	// Capped: GCC starts at 1 Mbit/s, so it must learn the cap from the subscriber's
	// feedback (delay growth and loss at the bottleneck) before the choice means anything.
	waitFor(t, 30*time.Second, "the estimate to fall under the 300 kbit/s cap", func() bool {
		est := estimateOf(e.sfu, "sub")
		return est > 0 && est < capLimitBps
	})
	waitFor(t, 15*time.Second, "the q layer to arrive steadily under the cap", func() bool {
		return watch.steady(q.id, 2*time.Second, time.Now())
	})
	t.Logf("capped: receiving q at t=%.1fs (estimate %d bps); layers so far: %s", time.Since(start).Seconds(), estimateOf(e.sfu, "sub"), watch)

	// Lifted: the estimate has to grow on its own until f fits.
	n.downlink.SetRate(capLiftedBps)
	lifted := time.Now()
	// f must arrive and the estimate must admit it (not just a probe of it).
	var took time.Duration
	waitFor(t, 30*time.Second, "the f layer, admitted by the estimate, after the cap is lifted", func() bool {
		if !watch.steady(f.id, 500*time.Millisecond, time.Now()) {
			return false
		}
		if took == 0 {
			took = time.Since(lifted) - 500*time.Millisecond
		}
		return estimateOf(e.sfu, "sub") >= layerRateOf(e.sfu, "pub", f.rid)
	})
	t.Logf("uncapped: f arrived %.1fs after lifting the cap (estimate %d bps); layers: %s", took.Seconds(), estimateOf(e.sfu, "sub"), watch)
	n0 := watch.packets.Load()
	waitFor(t, 5*time.Second, "f keeps flowing", func() bool { return watch.packets.Load() > n0+20 && watch.layer.Load() == int32(f.id) })
}

// gccStats is the subscriber's estimator state (GCC's delay and loss targets, usage, state).
func gccStats(s *SFU) any {
	for _, p := range s.room("cap").members() {
		if p.id == "sub" {
			p.estMu.Lock()
			defer p.estMu.Unlock()
			if p.estimator != nil {
				return p.estimator.GetStats()
			}
		}
	}
	return nil
}

// layerRateOf is the arriving bitrate of a publisher's simulcast layer rid.
func layerRateOf(s *SFU, publisher, rid string) int {
	for _, p := range s.Stats().Participants {
		if p.ID == publisher && len(p.Published) == 1 {
			return rateOf(p.Published[0].Layers, rid)
		}
	}
	return 0
}
