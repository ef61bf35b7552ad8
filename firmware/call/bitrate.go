package call

import (
	"sync"
	"time"
)

// bitrateControl turns the router's feedback into a video send rate: receiver reports'
// fraction lost drive a loss-based controller (as in GCC's loss-based part, RFC draft
// draft-ietf-rmcat-gcc section 6: above 10 % loss cut by half the loss, below 2 % grow 5 % at
// most once a second), and a REMB, when the router sends one, caps the result. The router
// sends TWCC feedback too, but a delay-based estimate needs send times only pion's GCC
// interceptor keeps, and rtcclient's API does not install it.
type bitrateControl struct {
	mu       sync.Mutex
	min, max int // kbps
	loss     int // loss-based estimate, kbps
	remb     int // 0: no REMB seen
	lastUp   time.Time
}

func newBitrateControl(start, minKbps, maxKbps int) *bitrateControl {
	return &bitrateControl{min: minKbps, max: maxKbps, loss: min(max(start, minKbps), maxKbps)}
}

// onLoss feeds one receiver report's fraction lost (0–255 as in RFC 3550).
func (b *bitrateControl) onLoss(fraction uint8, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	loss := float64(fraction) / 256
	switch {
	case loss > 0.10:
		b.loss = int(float64(b.loss) * (1 - 0.5*loss))
	case loss < 0.02 && now.Sub(b.lastUp) >= time.Second:
		b.loss = int(float64(b.loss)*1.05) + 1
		b.lastUp = now
	}
	b.loss = min(max(b.loss, b.min), b.max)
}

// onREMB feeds a REMB estimate in bits per second.
func (b *bitrateControl) onREMB(bps float32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.remb = max(int(bps/1000), b.min)
}

// target is the rate to send at, kbps.
func (b *bitrateControl) target() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.loss
	if b.remb > 0 {
		t = min(t, b.remb)
	}
	return t
}

// splitBitrate shares total kbps between n simulcast layers (index 0 the full size), each
// getting a quarter of the one above (a quarter of the pixels), at least minLayerKbps.
func splitBitrate(total, n int) []int {
	out := make([]int, n)
	if n == 0 {
		return out
	}
	weight, sum := 1, 0
	for i := n - 1; i >= 0; i-- {
		sum += weight
		weight *= 4
	}
	weight = 1
	for i := n - 1; i >= 0; i-- {
		out[i] = max(total*weight/sum, minLayerKbps)
		weight *= 4
	}
	return out
}

// minLayerKbps keeps the smallest layer watchable.
const minLayerKbps = 40

// startKbps is a starting budget for a w×h picture at fps: about 0.1 bit per pixel.
func startKbps(w, h, fps int) int {
	return min(max(w*h*fps/10/1000, 150), 2500)
}
