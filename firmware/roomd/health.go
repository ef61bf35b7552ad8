package roomd

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Heartbeats records when each of roomd's loops last showed it is alive. The watchdog pings
// systemd only while every loop beat recently, so a hung loop gets roomd restarted.
type Heartbeats struct {
	now   func() time.Time
	stall time.Duration

	mu    sync.Mutex
	last  map[string]time.Time
	stale map[string]string // a problem a part reported itself (camera without frames)
}

// NewHeartbeats returns heartbeats where a loop that has not beaten for stall is hung.
func NewHeartbeats(now func() time.Time, stall time.Duration) *Heartbeats {
	return &Heartbeats{now: now, stall: stall, last: map[string]time.Time{}, stale: map[string]string{}}
}

// Beat records that loop name is alive.
func (h *Heartbeats) Beat(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[name] = h.now()
}

// Stop forgets loop name (it ended on purpose).
func (h *Heartbeats) Stop(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.last, name)
	delete(h.stale, name)
}

// SetProblem records (or with "" clears) a problem part name reports about itself.
func (h *Heartbeats) SetProblem(name, problem string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if problem == "" {
		delete(h.stale, name)
		return
	}
	h.stale[name] = problem
}

// Problems lists what is unhealthy now, sorted; empty when everything is.
func (h *Heartbeats) Problems() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	var out []string
	for name, t := range h.last {
		if age := now.Sub(t); age > h.stall {
			out = append(out, fmt.Sprintf("%s loop silent for %s", name, age.Round(100*time.Millisecond)))
		}
	}
	for name, p := range h.stale {
		out = append(out, name+": "+p)
	}
	slices.Sort(out)
	return out
}
