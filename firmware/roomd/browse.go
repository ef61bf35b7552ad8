package roomd

import (
	"context"
	"errors"
	"fmt"

	"github.com/stoa-rooms/stoa/provisioning/discovery"
)

// browseDNSSD finds a portal announced as _stoa-portal._tcp on the LAN. Anyone on the LAN can
// answer, which is fine: pairing still needs the code the admin types on the real portal, so a
// fake announcement can only make pairing fail, never succeed. With several portals the first
// by instance name is taken; manual entry overrides it.
func browseDNSSD(ctx context.Context) (string, error) {
	ps, err := discovery.Browse(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("browse dns-sd: %w", err)
	}
	if len(ps) == 0 {
		return "", errors.New("browse dns-sd: no portal announced")
	}
	return ps[0].URL, nil
}
