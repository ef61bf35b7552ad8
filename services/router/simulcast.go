package router

import (
	"slices"
	"sync"
	"time"
)

// Layer is one simulcast encoding as the router sees it: its RID and the bitrate it
// currently arrives at (bits/s, 0 when it is not arriving).
type Layer struct {
	RID     string
	Bitrate int
}

// upgradeHeadroom is how much more budget than a layer's bitrate a subscriber needs before
// the router moves it up to that layer, so an estimate hovering at a layer's rate does not
// make it flap (each switch costs a key frame).
const upgradeHeadroom = 1.15

// ChooseLayer picks the simulcast layer for a subscriber whose video budget is budget bits/s:
// the highest arriving layer whose bitrate fits the budget (with headroom when that means
// moving up from current), else the lowest arriving layer. With no layer arriving it keeps
// current.
func ChooseLayer(budget int, layers []Layer, current string) string {
	active := make([]Layer, 0, len(layers))
	for _, l := range layers {
		if l.Bitrate > 0 {
			active = append(active, l)
		}
	}
	if len(active) == 0 {
		return current
	}
	slices.SortStableFunc(active, func(a, b Layer) int { return a.Bitrate - b.Bitrate })
	curRate := -1
	for _, l := range active {
		if l.RID == current {
			curRate = l.Bitrate
		}
	}
	choice := active[0].RID
	for _, l := range active {
		need := float64(l.Bitrate)
		if l.Bitrate > curRate {
			need *= upgradeHeadroom
		}
		if need <= float64(budget) {
			choice = l.RID
		}
	}
	return choice
}

// VideoBudget splits a subscriber's estimate between its video tracks after reserving what
// its audio tracks need.
func VideoBudget(estimate, audioTracks, videoTracks int) int {
	const audioRate = 64_000
	left := estimate - audioTracks*audioRate
	if videoTracks <= 0 {
		return left
	}
	if left < 0 {
		return 0
	}
	return left / videoTracks
}

// rateMeter measures a bitrate over a sliding window of one-second buckets.
type rateMeter struct {
	mu      sync.Mutex
	buckets [3]int64 // bytes per second, ring
	second  int64    // unix second of buckets[second%3]
}

// add counts n bytes at t.
func (m *rateMeter) add(n int, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.Unix())
	m.buckets[m.second%3] += int64(n)
}

func (m *rateMeter) advance(s int64) {
	if s <= m.second {
		return
	}
	for i := m.second + 1; i <= s && i <= m.second+3; i++ {
		m.buckets[i%3] = 0
	}
	m.second = s
}

// bitrate is the bits/s over the last two complete seconds (0 when nothing arrived).
func (m *rateMeter) bitrate(t time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t.Unix())
	prev := m.buckets[(m.second+2)%3] + m.buckets[(m.second+1)%3]
	return int(prev * 8 / 2)
}
