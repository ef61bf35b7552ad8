// Package pairing is the room-to-portal pairing protocol: the short code shown on the room, the
// JSON wire messages with strict decoders, and the two session state machines that run CPace
// (package pake) keyed by the code, confirm the key both ways and seal the payloads.
package pairing

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Policy for codes (issue 3): a code lives 15 minutes and is burned after 20 failed attempts.
const (
	CodeLifetime      = 15 * time.Minute
	MaxFailedAttempts = 20
)

const (
	codeDigits    = 12
	locatorDigits = 4
)

// Code is a 12-digit pairing code. The first 4 digits are the locator, sent in clear so the
// portal can find the waiting room (like Matter's discriminator); all 12 are the PAKE password.
type Code string

// NewCode draws a code from r (crypto/rand in production) with uniform digits, redrawing
// trivial codes (all one digit, ascending or descending runs, short repeats) that a person
// might type by accident or an attacker would try first.
func NewCode(r io.Reader) (Code, error) {
	for range 100 {
		d, err := randomDigits(r, codeDigits)
		if err != nil {
			return "", fmt.Errorf("new pairing code: %w", err)
		}
		if !isTrivial(d) {
			return Code(d), nil
		}
	}
	return "", errors.New("new pairing code: random source yields only trivial codes")
}

// randomDigits returns n uniform decimal digits, rejecting bytes >= 250 to avoid modulo bias.
func randomDigits(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			if b < 250 && len(out) < n {
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}

// isTrivial reports whether the whole code or its 8-digit secret part (after the locator,
// which is public) is guessable: all one digit, a run of +1 or -1 steps (mod 10), or a
// pattern repeating with a period of at most 4 digits.
func isTrivial(digits string) bool {
	return trivialRun(digits) || trivialRun(digits[locatorDigits:])
}

func trivialRun(s string) bool {
	up, down := true, true
	for i := 1; i < len(s); i++ {
		step := (int(s[i]) - int(s[i-1]) + 10) % 10
		up = up && step == 1
		down = down && step == 9
	}
	if up || down {
		return true
	}
	for period := 1; period <= 4; period++ {
		repeats := true
		for i := period; i < len(s); i++ {
			if s[i] != s[i-period] {
				repeats = false
				break
			}
		}
		if repeats {
			return true
		}
	}
	return false
}

// ParseCode reads a code as a person types it: spaces and dashes are ignored, and exactly 12
// digits must remain. It does not refuse trivial codes: rooms never show them, and a typed
// one simply fails the PAKE like any other wrong code.
func ParseCode(s string) (Code, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "", fmt.Errorf("parse pairing code: %q is not a digit (enter the 12 digits shown on the room)", r)
		}
	}
	d := b.String()
	switch {
	case d == "":
		return "", errors.New("parse pairing code: empty (enter the 12 digits shown on the room)")
	case len(d) != codeDigits:
		return "", fmt.Errorf("parse pairing code: %d digits, want %d", len(d), codeDigits)
	}
	return Code(d), nil
}

// Locator returns the first 4 digits, or "" for a malformed code.
func (c Code) Locator() string {
	if len(c) < locatorDigits {
		return ""
	}
	return string(c[:locatorDigits])
}

// String formats the code for display as "1234 5678 9012".
func (c Code) String() string {
	if len(c) != codeDigits {
		return string(c)
	}
	return string(c[0:4]) + " " + string(c[4:8]) + " " + string(c[8:12])
}

// valid reports whether c holds exactly 12 ASCII digits (a Code made by conversion may not).
func (c Code) valid() error {
	_, err := ParseCode(string(c))
	if err == nil && strings.ContainsAny(string(c), " -") {
		return errors.New("pairing code: not normalized")
	}
	return err
}
