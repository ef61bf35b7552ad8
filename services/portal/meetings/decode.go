package meetings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

const (
	maxName = 100
	minPIN  = 4
	maxPIN  = 12
)

func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("request body is larger than %d bytes", maxBody)
	}
	return b, nil
}

// NormalizeID accepts a meeting ID as people type it ("123 456 7890", "123-456-7890") and
// returns its ten digits.
func NormalizeID(s string) (string, error) {
	if len(s) > 32 {
		return "", errors.New("meeting ID is too long")
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-':
		default:
			return "", fmt.Errorf("meeting ID contains %q: only digits, spaces and dashes", c)
		}
	}
	if b.Len() != 10 {
		return "", errors.New("meeting ID must have ten digits")
	}
	return b.String(), nil
}

// FormatID groups a meeting ID for people: "123 456 7890".
func FormatID(id string) string {
	if len(id) != 10 {
		return id
	}
	return id[:3] + " " + id[3:6] + " " + id[6:]
}

// cleanName trims a display or meeting name and checks it: 1 to maxName characters, no
// control characters.
func cleanName(what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%s is empty", what)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s is not valid UTF-8", what)
	}
	if utf8.RuneCountInString(s) > maxName {
		return "", fmt.Errorf("%s is longer than %d characters", what, maxName)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return "", fmt.Errorf("%s contains a control character", what)
		}
	}
	return s, nil
}

// checkPIN accepts "" (no PIN) or minPIN to maxPIN digits.
func checkPIN(pin string) error {
	if pin == "" {
		return nil
	}
	if len(pin) < minPIN || len(pin) > maxPIN {
		return fmt.Errorf("PIN must have %d to %d digits", minPIN, maxPIN)
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return errors.New("PIN must be digits only")
		}
	}
	return nil
}

// DecodeNewMeeting strictly decodes and checks POST/PUT /api/v1/meetings bodies.
func DecodeNewMeeting(b []byte) (api.NewMeeting, error) {
	var m api.NewMeeting
	if err := api.DecodeStrict(bytes.TrimSpace(b), &m); err != nil {
		return api.NewMeeting{}, fmt.Errorf("invalid JSON body: %w", err)
	}
	name, err := cleanName("name", m.Name)
	if err != nil {
		return api.NewMeeting{}, err
	}
	if err := checkPIN(m.PIN); err != nil {
		return api.NewMeeting{}, err
	}
	return api.NewMeeting{Name: name, PIN: m.PIN}, nil
}

// DecodeJoin strictly decodes POST /api/v1/meetings/{id}/join. An empty body is an empty
// request; Name, when given, is checked.
func DecodeJoin(b []byte) (api.MeetingJoinRequest, error) {
	var j api.MeetingJoinRequest
	if len(bytes.TrimSpace(b)) == 0 {
		return j, nil
	}
	if err := api.DecodeStrict(bytes.TrimSpace(b), &j); err != nil {
		return api.MeetingJoinRequest{}, fmt.Errorf("invalid JSON body: %w", err)
	}
	if len(j.PIN) > maxPIN {
		return api.MeetingJoinRequest{}, fmt.Errorf("PIN is longer than %d digits", maxPIN)
	}
	if j.Name != "" {
		name, err := cleanName("name", j.Name)
		if err != nil {
			return api.MeetingJoinRequest{}, err
		}
		j.Name = name
	}
	if j.E2EEKey != "" {
		if _, err := e2ee.ParsePublicKey(j.E2EEKey); err != nil {
			return api.MeetingJoinRequest{}, fmt.Errorf("e2ee_key: %w", err)
		}
	}
	return j, nil
}

// DecodeRoomMeeting strictly decodes PUT /api/v1/rooms/{id}/meeting.
func DecodeRoomMeeting(b []byte) (api.RoomMeeting, error) {
	var m api.RoomMeeting
	if err := api.DecodeStrict(bytes.TrimSpace(b), &m); err != nil {
		return api.RoomMeeting{}, fmt.Errorf("invalid JSON body: %w", err)
	}
	if m.MeetingID != "" {
		id, err := NormalizeID(m.MeetingID)
		if err != nil {
			return api.RoomMeeting{}, err
		}
		m.MeetingID = id
	}
	return m, nil
}
