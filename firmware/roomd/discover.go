package roomd

import (
	"context"
	"errors"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// browseInterval spaces DNS-SD browses while no portal is known.
const browseInterval = 5 * time.Second

// errNoPortal: no portal is configured, entered or announced.
var errNoPortal = errors.New("no portal found")

// findPortal returns the portal URL: entered by hand (the most explicit), else the image's
// configuration, else a DNS-SD announcement; with none it waits, browsing again now and then,
// until one turns up or the local API enters one (which restarts the phase).
func (a *Agent) findPortal(ctx context.Context) (string, error) {
	a.mu.Lock()
	manual := a.manualURL
	a.mu.Unlock()
	if manual != "" {
		return manual, nil
	}
	if a.o.Config.PortalURL != "" {
		return a.o.Config.PortalURL, nil
	}
	a.show(board.Screen{Title: "Pair this room", Lines: []string{
		"Looking for the portal on this network…",
		"Or enter it: roomctl pair --portal https://portal.example",
	}})
	for {
		if a.o.Config.Discover {
			bctx, cancel := context.WithTimeout(ctx, browseInterval)
			u, err := a.o.Browse(bctx)
			cancel()
			if err == nil && CheckPortalURL(u) == nil {
				a.o.Log.Info("portal found by DNS-SD", "portal_url", u)
				return u, nil
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			a.o.Log.Debug("no portal announced", "err", err)
		}
		a.setError(errNoPortal)
		if !sleepCtx(ctx, browseInterval) {
			return "", ctx.Err()
		}
	}
}
