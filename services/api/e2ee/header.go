package e2ee

import (
	"errors"
	"fmt"
)

// Header is an SFrame header (RFC 9605 section 4.3): the key ID and the counter.
type Header struct {
	KID uint64
	CTR uint64
}

// MaxHeaderSize is the longest encoded header: the config byte and two 8-byte values.
const MaxHeaderSize = 17

// ErrHeader marks a malformed SFrame header.
var ErrHeader = errors.New("malformed sframe header")

// Append encodes h after b in the minimal form the RFC requires.
func (h Header) Append(b []byte) []byte {
	cfg := byte(0)
	kidLen, ctrLen := valueLen(h.KID), valueLen(h.CTR)
	if kidLen == 0 {
		cfg |= byte(h.KID) << 4
	} else {
		cfg |= 0x80 | byte(kidLen-1)<<4
	}
	if ctrLen == 0 {
		cfg |= byte(h.CTR)
	} else {
		cfg |= 0x08 | byte(ctrLen-1)
	}
	b = append(b, cfg)
	b = appendBE(b, h.KID, kidLen)
	return appendBE(b, h.CTR, ctrLen)
}

// Len is the encoded length of h.
func (h Header) Len() int { return 1 + valueLen(h.KID) + valueLen(h.CTR) }

// ParseHeader decodes the header at the start of b and returns it with its encoded length.
// Non-minimal encodings are refused: each (KID, CTR) has exactly one header, so the AAD a
// receiver authenticates is the one the sender meant.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) < 1 {
		return Header{}, 0, fmt.Errorf("parse sframe header: %w: empty", ErrHeader)
	}
	cfg := b[0]
	n := 1
	var h Header
	var err error
	if h.KID, n, err = readValue(b, n, cfg>>7 == 1, (cfg>>4)&7, "KID"); err != nil {
		return Header{}, 0, err
	}
	if h.CTR, n, err = readValue(b, n, cfg&0x08 != 0, cfg&7, "CTR"); err != nil {
		return Header{}, 0, err
	}
	return h, n, nil
}

func readValue(b []byte, n int, extended bool, field byte, name string) (uint64, int, error) {
	if !extended {
		return uint64(field), n, nil
	}
	l := int(field) + 1
	if len(b) < n+l {
		return 0, 0, fmt.Errorf("parse sframe header: %w: %s needs %d bytes, %d left", ErrHeader, name, l, len(b)-n)
	}
	var v uint64
	for _, c := range b[n : n+l] {
		v = v<<8 | uint64(c)
	}
	if valueLen(v) != l {
		return 0, 0, fmt.Errorf("parse sframe header: %w: %s %#x not minimally encoded in %d bytes", ErrHeader, name, v, l)
	}
	return v, n + l, nil
}

// valueLen is how many bytes follow the config byte for v: 0 when it fits the 3-bit field.
func valueLen(v uint64) int {
	if v < 8 {
		return 0
	}
	n := 0
	for ; v != 0; v >>= 8 {
		n++
	}
	return n
}

func appendBE(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}
