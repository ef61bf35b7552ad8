package linux

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/stoa-rooms/stoa/board"
)

// openDisplay tries DRM/KMS, then fbdev.
func openDisplay(d board.DisplayDef, log *slog.Logger) (board.Display, io.Closer, error) {
	var errs []error
	if d.DRM != "" {
		disp, err := OpenDRM(d.DRM, d.Width, d.Height, log)
		if err == nil {
			return disp, disp, nil
		}
		errs = append(errs, err)
		log.Warn("drm display unusable, trying fbdev", "err", err)
	}
	if d.FBDev != "" {
		disp, err := OpenFBDev(d.FBDev)
		if err == nil {
			return disp, disp, nil
		}
		errs = append(errs, err)
	}
	return nil, nil, fmt.Errorf("open display: %w", errors.Join(errs...))
}

// alsaCardPresent checks the card an ALSA PCM name refers to ("hw:Loopback,1,0",
// "plughw:CARD=Device,DEV=0", "hw:1,0") is registered under asound (/proc/asound). Names it
// cannot resolve to a card ("default", plugin names from asoundrc) pass: ALSA judges them on open.
func alsaCardPresent(name, asound string) error {
	if name == "" {
		return nil
	}
	_, args, ok := strings.Cut(name, ":")
	if !ok {
		return nil
	}
	card, _, _ := strings.Cut(args, ",")
	card = strings.TrimPrefix(card, "CARD=")
	if card == "" || strings.Contains(card, "=") || strings.ContainsAny(card, "/.") {
		return nil
	}
	p := asound + "/" + card
	if card[0] >= '0' && card[0] <= '9' {
		p = asound + "/card" + card
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("alsa device %q: sound card %q is not there (%s missing)", name, card, p)
	}
	return nil
}
