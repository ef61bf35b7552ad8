// Package password hashes and verifies passwords with argon2id (RFC 9106), in the PHC string
// format shared with other tools: $argon2id$v=19$m=...,t=...,p=...$salt$hash.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. Default follows OWASP's minimum (m=19 MiB, t=2, p=1).
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// Default is the cost used for new hashes.
var Default = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const saltLen, keyLen = 16, 32

var b64 = base64.RawStdEncoding

// Hash returns the PHC string for pw with the Default parameters.
func Hash(pw string) (string, error) { return HashWith(pw, Default) }

// HashWith returns the PHC string for pw with p.
func HashWith(pw string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformed means the stored hash is not an argon2id PHC string.
var ErrMalformed = errors.New("password hash is not an argon2id PHC string")

// Verify reports whether pw matches the PHC string encoded, in constant time.
func Verify(pw, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformed
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, ErrMalformed
	}
	if p.MemoryKiB < 8*1024 || p.MemoryKiB > 1<<18 || p.Time < 1 || p.Time > 16 || p.Threads < 1 {
		return false, ErrMalformed // bound the work a stored string can ask for
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformed
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, ErrMalformed
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Generate returns a random password of n characters from an unambiguous alphabet.
func Generate(n int) (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		// rand.Int-free rejection sampling keeps the distribution uniform.
		for {
			var x [1]byte
			if _, err := rand.Read(x[:]); err != nil {
				return "", fmt.Errorf("generate password: %w", err)
			}
			if int(x[0]) < 256-256%len(alphabet) {
				b[i] = alphabet[int(x[0])%len(alphabet)]
				break
			}
		}
	}
	return string(b), nil
}
