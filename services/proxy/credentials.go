package proxy

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are defined with HMAC-SHA1
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of a TURN REST username. STUN caps USERNAME at 513 bytes (RFC 8489 §14.3); the user
// part is a participant ID, far shorter.
const (
	maxUsernameLen = 513
	maxUserLen     = 256
)

// Credential is a parsed TURN REST username "<expiry-unix>:<user>"
// (draft-uberti-behave-turn-rest-00 §2.2, https://datatracker.ietf.org/doc/html/draft-uberti-behave-turn-rest-00).
type Credential struct {
	Expires time.Time
	User    string
}

// ParseUsername parses a TURN REST username. It is strict: a decimal expiry without sign or
// leading zeros, one colon, a non-empty user of printable ASCII without colons.
func ParseUsername(username string) (Credential, error) {
	if len(username) > maxUsernameLen {
		return Credential{}, fmt.Errorf("parse TURN username: longer than %d bytes", maxUsernameLen)
	}
	ts, user, ok := strings.Cut(username, ":")
	if !ok {
		return Credential{}, errors.New("parse TURN username: not \"<expiry>:<user>\"")
	}
	if ts == "" || len(ts) > 12 || (len(ts) > 1 && ts[0] == '0') {
		return Credential{}, fmt.Errorf("parse TURN username: expiry %q is not a unix time", ts)
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return Credential{}, fmt.Errorf("parse TURN username: expiry %q is not a unix time", ts)
		}
	}
	exp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Credential{}, fmt.Errorf("parse TURN username: expiry: %w", err)
	}
	if user == "" || len(user) > maxUserLen {
		return Credential{}, fmt.Errorf("parse TURN username: user must be 1..%d bytes", maxUserLen)
	}
	for i := 0; i < len(user); i++ {
		if c := user[i]; c < 0x21 || c > 0x7e || c == ':' {
			return Credential{}, fmt.Errorf("parse TURN username: user has a forbidden byte 0x%02x", c)
		}
	}
	return Credential{Expires: time.Unix(exp, 0), User: user}, nil
}

// Password is the TURN REST password for username: base64(HMAC-SHA1(secret, username)).
func Password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Username builds "<expiry-unix>:<user>"; with Password it mints credentials (used by tests and
// by anything that hands out ICE servers).
func Username(expires time.Time, user string) string {
	return strconv.FormatInt(expires.Unix(), 10) + ":" + user
}
