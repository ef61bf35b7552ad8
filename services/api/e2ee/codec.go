package e2ee

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Codec says how a frame is split into readable and encrypted parts.
type Codec uint8

// Codecs the frame layout knows.
const (
	CodecOpus Codec = iota + 1
	CodecVP8
	CodecH264
)

func (c Codec) String() string {
	switch c {
	case CodecOpus:
		return "opus"
	case CodecVP8:
		return "vp8"
	case CodecH264:
		return "h264"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// CodecFromMime maps a WebRTC MIME type ("video/VP8", "audio/opus", "video/H264") to a Codec.
func CodecFromMime(mime string) (Codec, error) {
	switch strings.ToLower(mime) {
	case "audio/opus":
		return CodecOpus, nil
	case "video/vp8":
		return CodecVP8, nil
	case "video/h264":
		return CodecH264, nil
	}
	return 0, fmt.Errorf("e2ee: codec %q has no SFrame layout", mime)
}

// ErrFrame marks a frame too short or malformed for its codec's layout.
var ErrFrame = errors.New("malformed frame")

// vp8Clear is how many leading bytes of a VP8 frame stay readable: the whole uncompressed
// header of a key frame (RFC 6386 section 9.1), the 3-byte frame tag of a delta frame.
func vp8Clear(frame []byte) int {
	if frame[0]&0x01 == 0 {
		return 10
	}
	return 3
}

type sealFunc func(dst, metadata, plaintext []byte) []byte
type openFunc func(dst, metadata, sframe []byte) ([]byte, error)

// sealFrame lays out one encrypted frame for codec c (see the package documentation).
func sealFrame(c Codec, frame []byte, seal sealFunc) ([]byte, error) {
	switch c {
	case CodecOpus:
		return seal(make([]byte, 0, len(frame)+MaxHeaderSize+TagSize), nil, frame), nil
	case CodecVP8:
		if len(frame) == 0 {
			return nil, fmt.Errorf("encrypt vp8: %w: empty", ErrFrame)
		}
		n := vp8Clear(frame)
		if len(frame) < n {
			return nil, fmt.Errorf("encrypt vp8: %w: %d bytes, shorter than its %d-byte header", ErrFrame, len(frame), n)
		}
		out := make([]byte, 0, len(frame)+MaxHeaderSize+TagSize)
		out = append(out, frame[:n]...)
		return seal(out, frame[:n], frame[n:]), nil
	case CodecH264:
		nals := splitAnnexB(frame)
		if len(nals) == 0 {
			return nil, fmt.Errorf("encrypt h264: %w: no NAL unit", ErrFrame)
		}
		out := make([]byte, 0, len(frame)+len(nals)*(5+MaxHeaderSize+TagSize+8))
		for _, nal := range nals {
			// The trailing 0x80 (like rbsp_stop_one_bit) keeps the NAL from ending in 0x00,
			// which the next start code would swallow.
			body := append(seal(nil, nal[:1], nal[1:]), 0x80)
			out = append(out, 0, 0, 0, 1, nal[0])
			out = appendEscaped(out, body)
		}
		return out, nil
	}
	return nil, fmt.Errorf("encrypt: %w: unknown codec %v", ErrFrame, c)
}

// openFrame reverses sealFrame.
func openFrame(c Codec, frame []byte, open openFunc) ([]byte, error) {
	switch c {
	case CodecOpus:
		return open(make([]byte, 0, len(frame)), nil, frame)
	case CodecVP8:
		if len(frame) == 0 {
			return nil, fmt.Errorf("decrypt vp8: %w: empty", ErrFrame)
		}
		n := vp8Clear(frame)
		if len(frame) < n+1+TagSize {
			return nil, fmt.Errorf("decrypt vp8: %w: %d bytes cannot hold a %d-byte header and an SFrame", ErrFrame, len(frame), n)
		}
		out := make([]byte, 0, len(frame))
		out = append(out, frame[:n]...)
		return open(out, frame[:n], frame[n:])
	case CodecH264:
		nals := splitAnnexB(frame)
		if len(nals) == 0 {
			return nil, fmt.Errorf("decrypt h264: %w: no NAL unit", ErrFrame)
		}
		out := make([]byte, 0, len(frame))
		for i, nal := range nals {
			body := unescape(nal[1:])
			if len(body) == 0 || body[len(body)-1] != 0x80 {
				return nil, fmt.Errorf("decrypt h264: %w: NAL %d lacks its stop byte", ErrFrame, i)
			}
			out = append(out, 0, 0, 0, 1, nal[0])
			var err error
			if out, err = open(out, nal[:1], body[:len(body)-1]); err != nil {
				return nil, fmt.Errorf("decrypt h264 NAL %d: %w", i, err)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("decrypt: %w: unknown codec %v", ErrFrame, c)
}

// splitAnnexB returns the NAL units of an Annex B byte stream (start codes 00 00 01 or
// 00 00 00 01), without trailing zero bytes. Empty units are skipped.
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = appendNAL(out, b[start:i])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 {
		out = appendNAL(out, b[start:])
	}
	return out
}

func appendNAL(out [][]byte, nal []byte) [][]byte {
	nal = bytes.TrimRight(nal, "\x00")
	if len(nal) == 0 {
		return out
	}
	return append(out, nal)
}

// appendEscaped appends b with emulation prevention (H.264 section 7.4.1): 0x03 after every
// 00 00 that is followed by a byte <= 3.
func appendEscaped(dst, b []byte) []byte {
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// unescape removes emulation prevention bytes.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}
