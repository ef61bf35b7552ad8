package control

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes (RFC 9106's second recommended option scaled to a
// small board: 19 MiB, 2 passes, 1 lane, as OWASP suggests).
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Credentials guard the line protocol: User and an argon2id PasswordHash in PHC form
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>", base64 without padding).
type Credentials struct {
	User         string `json:"user"`
	PasswordHash string `json:"password_hash"`
}

// HashPassword returns the PHC string of password with a fresh salt from rnd.
func HashPassword(password string, rnd io.Reader) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime,
		argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// argonHash is a parsed PHC string.
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseHash reads a PHC argon2id string, bounding the parameters so a hostile config cannot
// make a login take minutes or gigabytes.
func parseHash(s string) (argonHash, error) {
	var h argonHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, errors.New("parse password hash: not a $argon2id$ PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version || parts[2] != fmt.Sprintf("v=%d", v) {
		return h, fmt.Errorf("parse password hash: version %q is not v=%d", parts[2], argon2.Version)
	}
	var m, t, p uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return h, fmt.Errorf("parse password hash: parameters %q are not m=..,t=..,p=..", parts[3])
	}
	if m < 8 || m > 256*1024 || t < 1 || t > 10 || p < 1 || p > 16 {
		return h, fmt.Errorf("parse password hash: parameters m=%d,t=%d,p=%d out of range", m, t, p)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return h, errors.New("parse password hash: bad salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return h, errors.New("parse password hash: bad key")
	}
	return argonHash{memory: m, time: t, threads: uint8(p), salt: salt, key: key}, nil
}

// CheckHash reports whether s is a usable password hash (for config validation).
func CheckHash(s string) error {
	_, err := parseHash(s)
	return err
}

// Check reports whether user and password match, in time independent of where they differ.
func (c Credentials) Check(user, password string) (bool, error) {
	h, err := parseHash(c.PasswordHash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(c.User))
	keyOK := subtle.ConstantTimeCompare(got, h.key)
	return userOK&keyOK == 1, nil
}
