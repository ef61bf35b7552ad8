package components

import (
	"context"
	"errors"
	"fmt"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

// ErrOffline means the component asked for is unknown or has not sent a heartbeat within
// three intervals.
var ErrOffline = errors.New("component is not online")

// online reports whether c sent a heartbeat within three intervals and has an address.
func (s *Service) online(c store.Component) bool {
	return c.Address != "" && !c.LastHeartbeat.IsZero() && s.now().Sub(c.LastHeartbeat) <= 3*s.interval()
}

// OnlineURL returns https://host:port of the online component of kind that sent the most
// recent heartbeat, or "" when none is online.
func (s *Service) OnlineURL(ctx context.Context, kind string) (string, error) {
	all, err := s.Store.ListComponents(ctx)
	if err != nil {
		return "", fmt.Errorf("find online %s: %w", kind, err)
	}
	var best *store.Component
	for i := range all {
		c := &all[i]
		if c.Kind == kind && s.online(*c) && (best == nil || c.LastHeartbeat.After(best.LastHeartbeat)) {
			best = c
		}
	}
	if best == nil {
		return "", nil
	}
	return "https://" + best.Address, nil
}

// ComponentURL returns https://host:port of component id of kind when it is online, else an
// error wrapping ErrOffline.
func (s *Service) ComponentURL(ctx context.Context, kind, id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("component %q: %w", id, ErrOffline)
	}
	c, err := s.Store.ComponentByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("component %s: %w", id, ErrOffline)
	}
	if err != nil {
		return "", fmt.Errorf("look up component %s: %w", id, err)
	}
	if c.Kind != kind || !s.online(c) {
		return "", fmt.Errorf("%s %s: %w", kind, id, ErrOffline)
	}
	return "https://" + c.Address, nil
}
