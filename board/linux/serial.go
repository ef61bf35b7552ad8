package linux

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"go.bug.st/serial"

	"github.com/stoa-rooms/stoa/board"
)

// serialPorts opens the board's serial ports by role.
type serialPorts map[string]board.SerialDef

// NewSerial returns an opener for the board definition's serial ports (by role: "visca",
// "control"). Each port opens raw, 8N1, at the definition's baud rate, without flow control.
func NewSerial(ports map[string]board.SerialDef) board.SerialOpener {
	return serialPorts(maps.Clone(ports))
}

// OpenSerial opens the port of role name. Closing the port unblocks a pending Read.
func (s serialPorts) OpenSerial(name string) (io.ReadWriteCloser, error) {
	def, ok := s[name]
	if !ok {
		have := slices.Sorted(maps.Keys(s))
		return nil, fmt.Errorf("open serial port %q: the board defines no such port (have: %s)", name, strings.Join(have, ", "))
	}
	mode := &serial.Mode{BaudRate: def.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	p, err := serial.Open(def.Device, mode)
	if err != nil {
		return nil, fmt.Errorf("open serial port %q (%s at %d baud): %w", name, def.Device, def.Baud, err)
	}
	return p, nil
}
