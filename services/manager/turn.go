package manager

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
)

// SecretFile holds the TURN REST shared secret (base64) in the manager's data directory, 0600.
const SecretFile = "turn-secret"

// secretSize is the length of a generated TURN secret: 256 bits.
const secretSize = 32

// LoadOrCreateSecret returns the TURN REST shared secret kept in dir, generating it on first
// use. Proxies receive it in their heartbeat answer and verify credentials with it.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		s, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(s) < 16 {
			return nil, fmt.Errorf("load TURN secret: %s is not a base64 secret of at least 16 bytes", path)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("load TURN secret: %w", err)
	}
	s := make([]byte, secretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("create TURN secret: %w", err)
	}
	if err := ca.WriteFileAtomic(path, []byte(base64.StdEncoding.EncodeToString(s)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("create TURN secret: %w", err)
	}
	return s, nil
}

// TURNCredential makes the time-limited TURN credential of the "TURN REST API" scheme
// (draft-uberti-behave-turn-rest-00, as implemented by coturn and pion/turn's
// GenerateLongTermCredentials): username "<expiry unix>:<user>", password
// base64(HMAC-SHA1(secret, username)).
func TURNCredential(secret []byte, user string, expires time.Time) (username, credential string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
