package rooms

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/updates"
)

// maxUpdateError bounds the reason a room gives for a failed update.
const maxUpdateError = 1024

// checkSystemReport validates what a poll says about the room's image and its update.
func checkSystemReport(st api.RoomStatus) error {
	if sys := st.System; sys != nil {
		if !updates.ValidName(sys.Board) {
			return fmt.Errorf("system.board %q is not a board name", sys.Board)
		}
		if !updates.ValidName(sys.Version) {
			return fmt.Errorf("system.version %q is not a version", sys.Version)
		}
		if sys.Slot != "a" && sys.Slot != "b" {
			return fmt.Errorf("system.slot %q is not a or b", sys.Slot)
		}
		if len(sys.UpdateKey) > 128 || strings.IndexFunc(sys.UpdateKey, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
			return errors.New("system.update_key is not a short printable key")
		}
	}
	if u := st.Update; u != nil {
		if !updates.ValidName(u.Version) {
			return fmt.Errorf("update.version %q is not a version", u.Version)
		}
		switch u.State {
		case api.UpdateDownloading, api.UpdateRebooting, api.UpdateDone, api.UpdateFailed:
		default:
			return fmt.Errorf("update.state %q is not downloading, rebooting, done or failed", u.State)
		}
		if u.Bytes < 0 || u.Total < 0 || (u.Total > 0 && u.Bytes > u.Total) {
			return fmt.Errorf("update bytes %d of %d out of range", u.Bytes, u.Total)
		}
		if len(u.Error) > maxUpdateError || !utf8.ValidString(u.Error) || strings.IndexFunc(u.Error, unicode.IsControl) >= 0 {
			return fmt.Errorf("update.error is not printable UTF-8 of at most %d bytes", maxUpdateError)
		}
	}
	return nil
}

// DecodeStartUpdate decodes POST /api/v1/rooms/{id}/update; version "" cancels.
func DecodeStartUpdate(b []byte) (api.StartUpdateRequest, error) {
	var req api.StartUpdateRequest
	if err := decodeStrict(b, &req); err != nil {
		return req, err
	}
	if req.Version != "" && !updates.ValidName(req.Version) {
		return req, fmt.Errorf("version %q is not a version", req.Version)
	}
	return req, nil
}
