package rooms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
)

// maxNameLen bounds a room name (bytes).
const maxNameLen = 64

// decodeStrict decodes exactly one JSON object from b into v: unknown fields and trailing data
// are errors, and so is a body larger than maxBody.
func decodeStrict(b []byte, v any) error {
	if len(b) > maxBody {
		return fmt.Errorf("body is larger than %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: trailing data after the object")
	}
	return nil
}

// CheckName accepts a room name: 1 to 64 bytes of valid UTF-8 without control or format
// characters (no bidi overrides), trimmed.
func CheckName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", errors.New("name is empty")
	}
	if len(n) > maxNameLen {
		return "", fmt.Errorf("name is longer than %d bytes", maxNameLen)
	}
	if !utf8.ValidString(n) {
		return "", errors.New("name is not valid UTF-8")
	}
	for _, r := range n {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return "", fmt.Errorf("name contains the character %U", r)
		}
	}
	return n, nil
}

// DecodePairRequest decodes POST /api/v1/rooms/pair: a valid code; a name, when given, that
// CheckName accepts (empty: the room's host name).
func DecodePairRequest(b []byte) (api.PairRequest, pairing.Code, error) {
	var req api.PairRequest
	if err := decodeStrict(b, &req); err != nil {
		return req, "", err
	}
	code, err := pairing.ParseCode(req.Code)
	if err != nil {
		return req, "", fmt.Errorf("code: %w", err)
	}
	if strings.TrimSpace(req.Name) != "" {
		if req.Name, err = CheckName(req.Name); err != nil {
			return req, "", err
		}
	} else {
		req.Name = ""
	}
	return req, code, nil
}

// DecodeRename decodes PUT /api/v1/rooms/{id}.
func DecodeRename(b []byte) (api.RenameRoom, error) {
	var req api.RenameRoom
	if err := decodeStrict(b, &req); err != nil {
		return req, err
	}
	n, err := CheckName(req.Name)
	req.Name = n
	return req, err
}

// DecodePushRequest decodes POST /api/v1/rooms/push; an empty body means every room.
func DecodePushRequest(b []byte) (api.PushRequest, error) {
	var req api.PushRequest
	if len(bytes.TrimSpace(b)) == 0 {
		return req, nil
	}
	if err := decodeStrict(b, &req); err != nil {
		return req, err
	}
	if req.RoomID != "" && !validID(req.RoomID) {
		return req, errors.New("room_id is not a room ID (32 lowercase hex digits)")
	}
	return req, nil
}

// DecodeActivateRequest decodes the optional body of POST /api/v1/security/activate: empty
// means the defaults (wait 60 s, no force); wait_seconds must be within 0 to 600.
func DecodeActivateRequest(b []byte) (api.ActivateRequest, error) {
	req := api.ActivateRequest{WaitSeconds: 60}
	if len(bytes.TrimSpace(b)) == 0 {
		return req, nil
	}
	if err := decodeStrict(b, &req); err != nil {
		return req, err
	}
	if req.WaitSeconds < 0 || req.WaitSeconds > 600 {
		return req, fmt.Errorf("wait_seconds %d is not within 0 to 600", req.WaitSeconds)
	}
	return req, nil
}

// DecodeRoomStatus decodes a management poll's body: bounded, printable texts.
func DecodeRoomStatus(b []byte) (api.RoomStatus, error) {
	var st api.RoomStatus
	if err := decodeStrict(b, &st); err != nil {
		return st, err
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"firmware", st.Firmware, 64}, {"portal_https_error", st.PortalHTTPSError, 512}} {
		if len(f.v) > f.max {
			return st, fmt.Errorf("%s is longer than %d bytes", f.name, f.max)
		}
		if !utf8.ValidString(f.v) || strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			return st, fmt.Errorf("%s is not printable UTF-8", f.name)
		}
	}
	if st.UptimeSeconds < 0 {
		return st, errors.New("uptime_seconds is negative")
	}
	if err := checkPanels(st.Panels); err != nil {
		return st, fmt.Errorf("panels: %w", err)
	}
	if err := checkSystemReport(st); err != nil {
		return st, err
	}
	return st, nil
}

// DecodeRenewRequest decodes POST /api/v1/room/renew.
func DecodeRenewRequest(b []byte) (api.RenewRequest, error) {
	var req api.RenewRequest
	if err := decodeStrict(b, &req); err != nil {
		return req, err
	}
	if req.CSRPEM == "" {
		return req, errors.New("csr_pem is empty")
	}
	if len(req.CSRPEM) > 16<<10 {
		return req, errors.New("csr_pem is larger than 16 KiB")
	}
	return req, nil
}
