package router

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// HeartbeatInterval is how often the router reports its load to the manager (the manager
// declares a router silent for 3 s dead).
const HeartbeatInterval = time.Second

// Load is the router's heartbeat body: who is connected, per meeting.
func (s *SFU) Load(url string) api.RouterHeartbeat {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	hb := api.RouterHeartbeat{RouterID: s.opts.ID, URL: url, Meetings: []api.MeetingLoad{}}
	for _, r := range rooms {
		ml := api.MeetingLoad{ID: r.id, Participants: []string{}}
		for _, p := range r.members() {
			ml.Participants = append(ml.Participants, p.id)
		}
		if len(ml.Participants) == 0 {
			continue
		}
		sort.Strings(ml.Participants)
		hb.Participants += len(ml.Participants)
		hb.Meetings = append(hb.Meetings, ml)
	}
	sort.Slice(hb.Meetings, func(i, j int) bool { return hb.Meetings[i].ID < hb.Meetings[j].ID })
	return hb
}

// heartbeater reports the SFU's load to the manager every interval once the manager's URL
// is known.
type heartbeater struct {
	sfu      *SFU
	selfURL  func() string
	manager  func() string
	client   *http.Client
	interval time.Duration
	log      *slog.Logger
}

func (h *heartbeater) loop(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m := h.manager()
		if m == "" {
			continue
		}
		err := h.beat(ctx, m)
		switch {
		case err != nil && !failing:
			h.log.Warn("router heartbeat to the manager failed", "manager", m, "err", err)
			failing = true
		case err == nil && failing:
			h.log.Info("router heartbeat to the manager works again", "manager", m)
			failing = false
		}
	}
}

// beat sends one heartbeat (POST {manager}/api/v1/manager/routers/heartbeat).
func (h *heartbeater) beat(ctx context.Context, manager string) error {
	body, err := json.Marshal(h.sfu.Load(h.selfURL()))
	if err != nil {
		return fmt.Errorf("heartbeat: encode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.interval*3)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, manager+"/api/v1/manager/routers/heartbeat", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heartbeat: manager answered %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var out api.RouterHeartbeatResponse
	if err := api.DecodeStrict(b, &out); err != nil {
		return fmt.Errorf("heartbeat: decode answer: %w", err)
	}
	return nil
}
