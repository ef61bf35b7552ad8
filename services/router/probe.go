package router

import (
	"sync"
	"time"
)

// Upward probing. pion's GCC never lets its estimate run far ahead of what it sees
// acknowledged: it clamps an increase to 1.5× the received rate, and near a past congestion
// point it adds only about a packet per response time (pion/interceptor gcc rate_controller).
// An SFU forwarding a low layer sends no padding probes, so once congestion has pushed a
// subscriber down to a layer whose rate ×1.5 is below the next layer's need, the estimate
// stays pinned there after the network recovers. So when the estimate has stayed clear of
// the current layer's rate, and within reach of the next one, for probeSteady, the router forwards the next layer up for a
// while: its own media is the probe. If GCC's estimate comes to admit that layer, it stays;
// a drop of the estimate (congestion) or the time limit ends the probe, and the next one
// waits exponentially longer.
const (
	probeSteady     = 3 * time.Second  // estimate clear of the current layer this long first
	probeMaxHold    = 8 * time.Second  // a probe ends unless the estimate admits the layer by then
	probeBackoff    = 4 * time.Second  // wait after a failed probe, doubling
	probeMaxBackoff = 32 * time.Second // up to this
	probeClear      = 1.3              // estimate ≥ this × the current layer's rate: not congested (GCC's ceiling is 1.5×)
	probeDrop       = 0.9              // estimate below this × its probe peak: the probe congests the link
	probeReach      = 0.5              // probe only a layer needing at most 1/probeReach × the estimate
)

// layerProbe is one simulcast forwarder's probing state.
type layerProbe struct {
	clearSince time.Time // since when the budget has been clear of the current layer (zero: it is not)
	trial      string    // layer being probed, "" when none
	from       string    // layer before the probe
	started    time.Time
	peak       int // highest budget seen during the probe
	notBefore  time.Time
	backoff    time.Duration
}

// choose returns the layer to forward given the budget: ChooseLayer's pick, or a higher layer
// while probing.
func (pr *layerProbe) choose(budget int, layers []Layer, current string, now time.Time) string {
	choice := ChooseLayer(budget, layers, current)
	if pr.trial != "" {
		return pr.continueTrial(budget, layers, choice, now)
	}
	up := nextLayerUp(layers, choice)
	if up == "" || float64(budget) < probeClear*float64(rateOf(layers, choice)) || float64(budget) < probeReach*float64(rateOf(layers, up)) {
		pr.clearSince = time.Time{}
		return choice
	}
	if pr.clearSince.IsZero() {
		pr.clearSince = now
	}
	if now.Sub(pr.clearSince) < probeSteady || now.Before(pr.notBefore) {
		return choice
	}
	pr.trial, pr.from, pr.started, pr.peak = up, choice, now, budget
	return up
}

func (pr *layerProbe) continueTrial(budget int, layers []Layer, choice string, now time.Time) string {
	trialRate := rateOf(layers, pr.trial)
	if trialRate == 0 {
		pr.end(false, now) // the layer stopped arriving
		return choice
	}
	if rateOf(layers, choice) >= trialRate {
		pr.end(true, now) // the estimate admits the probed layer (or more)
		return choice
	}
	pr.peak = max(pr.peak, budget)
	if float64(budget) < probeDrop*float64(pr.peak) || now.Sub(pr.started) >= probeMaxHold {
		pr.end(false, now)
		return choice
	}
	return pr.trial
}

func (pr *layerProbe) end(ok bool, now time.Time) {
	pr.trial, pr.from, pr.clearSince = "", "", time.Time{}
	if ok {
		pr.backoff, pr.notBefore = 0, time.Time{}
		return
	}
	pr.backoff = min(max(2*pr.backoff, probeBackoff), probeMaxBackoff)
	pr.notBefore = now.Add(pr.backoff)
}

// nextLayerUp is the arriving layer with the lowest bitrate above rid's ("" if none).
func nextLayerUp(layers []Layer, rid string) string {
	cur := rateOf(layers, rid)
	best, bestRate := "", 0
	for _, l := range layers {
		if l.Bitrate > cur && (best == "" || l.Bitrate < bestRate) {
			best, bestRate = l.RID, l.Bitrate
		}
	}
	return best
}

func rateOf(layers []Layer, rid string) int {
	for _, l := range layers {
		if l.RID == rid {
			return l.Bitrate
		}
	}
	return 0
}

// layerProbes holds the probe state of one subscriber's forwarders.
type layerProbes struct {
	mu sync.Mutex
	m  map[*forwarder]*layerProbe
}

// choose runs f's probe; see layerProbe.choose.
func (ps *layerProbes) choose(f *forwarder, budget int, layers []Layer, current string, now time.Time) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[*forwarder]*layerProbe{}
	}
	pr := ps.m[f]
	if pr == nil {
		pr = &layerProbe{}
		ps.m[f] = pr
	}
	return pr.choose(budget, layers, current, now)
}

// keep forgets the state of forwarders not in live.
func (ps *layerProbes) keep(live []*forwarder) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.m) == 0 {
		return
	}
	set := make(map[*forwarder]bool, len(live))
	for _, f := range live {
		set[f] = true
	}
	for f := range ps.m {
		if !set[f] {
			delete(ps.m, f)
		}
	}
}
