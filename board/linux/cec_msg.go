package linux

import "fmt"

// CEC frames (HDMI 1.4b CEC, 12.x): byte 0 is initiator<<4 | destination, byte 1 the opcode,
// then operands. These builders are pure so the encoding is tested without an adapter.

const (
	cecAddrTV        = 0x0
	cecAddrBroadcast = 0xf

	cecOpImageViewOn = 0x04
	cecOpStandby     = 0x36
	cecOpActiveSrc   = 0x82
)

func cecHeader(from, to uint8) (byte, error) {
	if from > 0xf || to > 0xf {
		return 0, fmt.Errorf("cec: logical address %d→%d out of range", from, to)
	}
	return from<<4 | to, nil
}

// cecImageViewOn wakes the TV and asks it to show our input.
func cecImageViewOn(from uint8) ([]byte, error) {
	h, err := cecHeader(from, cecAddrTV)
	return []byte{h, cecOpImageViewOn}, err
}

// cecActiveSource tells every device (broadcast) that we, at phys, are the source to show.
func cecActiveSource(from uint8, phys uint16) ([]byte, error) {
	if phys == 0xffff {
		return nil, fmt.Errorf("cec: no physical address (is the HDMI cable in?)")
	}
	h, err := cecHeader(from, cecAddrBroadcast)
	return []byte{h, cecOpActiveSrc, byte(phys >> 8), byte(phys)}, err
}

// cecStandby puts the TV into standby (addressed to the TV only, not the whole bus).
func cecStandby(from uint8) ([]byte, error) {
	h, err := cecHeader(from, cecAddrTV)
	return []byte{h, cecOpStandby}, err
}

// cecPhysString formats a physical address as a.b.c.d.
func cecPhysString(p uint16) string {
	return fmt.Sprintf("%d.%d.%d.%d", p>>12, p>>8&0xf, p>>4&0xf, p&0xf)
}
