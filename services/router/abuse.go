package router

import "time"

// abuseMeter decides when a publisher's stream is garbage or a flood worth cutting off.
//
// Malformed packets are judged per second: a broken or hostile client sends them steadily.
// Packets over the layer's rate cap are dropped either way, but they only count as abuse when
// the excess lasts: a reader that stalled (GC, a busy host) catches up on its backlog in one
// burst, which is not the publisher's doing.
type abuseMeter struct {
	badStart, excessStart time.Time
	bad, excess           int
}

const (
	excessWindow = 5 * time.Second
	// excessLimit is the cap's own rate again, sustained over the window: a steady 2x flood.
	excessLimit = layerPacketRate * int(excessWindow/time.Second)
)

// malformed records a malformed packet; true means cut the publisher off.
func (m *abuseMeter) malformed(now time.Time) bool {
	if now.Sub(m.badStart) > time.Second {
		m.badStart, m.bad = now, 0
	}
	m.bad++
	return m.bad > malformedLimit
}

// overRate records a packet over the rate cap; true means cut the publisher off.
func (m *abuseMeter) overRate(now time.Time) bool {
	if now.Sub(m.excessStart) > excessWindow {
		m.excessStart, m.excess = now, 0
	}
	m.excess++
	return m.excess > excessLimit
}
