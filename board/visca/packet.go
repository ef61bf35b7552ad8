// Package visca drives a PTZ camera over Sony's VISCA serial protocol (board.PTZ) and provides
// Fake, a VISCA camera in software for tests and the hardware-in-the-loop run.
//
// A VISCA message is a header byte (bit 7 set: 1 sss rddd, sender and receiver address), up to
// 14 data bytes (each below 0x80) and the terminator 0xFF; 16 bytes at most.
package visca

const (
	terminator = 0xFF
	maxPacket  = 16
)

// framer cuts a byte stream into VISCA packets and resynchronises on garbage: bytes before a
// header byte are skipped, a header byte inside a packet starts a new packet (data bytes are
// always below 0x80), and a packet longer than 16 bytes is dropped up to the next terminator
// or header.
type framer struct {
	buf        []byte
	discarding bool
	// skipped counts bytes thrown away, for logs.
	skipped int
}

// feed takes one byte and returns a whole packet (header..FF) when b completes one. The packet
// is a fresh slice the caller may keep.
func (f *framer) feed(b byte) ([]byte, bool) {
	switch {
	case f.discarding && b&0x80 != 0 && b != terminator:
		f.discarding = false // a header ends the garbage too
		f.buf = append(make([]byte, 0, maxPacket), b)
		return nil, false
	case f.discarding:
		f.skipped++
		if b == terminator {
			f.discarding = false
		}
		return nil, false
	case b == terminator:
		if len(f.buf) == 0 {
			f.skipped++ // a lone terminator
			return nil, false
		}
		p := append(f.buf, b)
		f.buf = nil
		if len(p) < 3 {
			f.skipped += len(p)
			return nil, false // header+FF carries nothing
		}
		return p, true
	case b&0x80 != 0:
		f.skipped += len(f.buf) // a header inside a packet: the packet so far was cut off
		f.buf = append(make([]byte, 0, maxPacket), b)
		return nil, false
	case len(f.buf) == 0:
		f.skipped++ // data byte without a header
		return nil, false
	case len(f.buf) >= maxPacket-1:
		f.skipped += len(f.buf) + 1
		f.buf = nil
		f.discarding = true
		return nil, false
	default:
		f.buf = append(f.buf, b)
		return nil, false
	}
}

// splitPackets frames a whole buffer (tests, fuzzing).
func splitPackets(data []byte) [][]byte {
	var f framer
	var out [][]byte
	for _, b := range data {
		if p, ok := f.feed(b); ok {
			out = append(out, p)
		}
	}
	return out
}

// nibbles16 encodes v as four bytes 0p 0q 0r 0s (VISCA's position encoding).
func nibbles16(v uint16) []byte {
	return []byte{byte(v>>12) & 0xF, byte(v>>8) & 0xF, byte(v>>4) & 0xF, byte(v) & 0xF}
}

// fromNibbles16 decodes four 0p bytes; ok is false when a byte has its high nibble set.
func fromNibbles16(b []byte) (uint16, bool) {
	if len(b) != 4 {
		return 0, false
	}
	var v uint16
	for _, n := range b {
		if n > 0x0F {
			return 0, false
		}
		v = v<<4 | uint16(n)
	}
	return v, true
}
