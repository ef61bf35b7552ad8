package visca

import (
	"errors"
	"fmt"

	"github.com/stoa-rooms/stoa/board"
)

// Speed limits of the pan-tilt drive (Sony: pan 01–18h, tilt 01–17h) and the variable zoom.
const (
	MaxPanSpeed  = 0x18
	MaxTiltSpeed = 0x17
	MaxZoomSpeed = 8 // wire speeds p = 0–7 are API speeds 1–8
	MaxPreset    = 0x7F
)

// Command is one VISCA command or inquiry with a readable name: String() gives
// "preset.recall 3", "pantilt.drive left", "zoom.direct 0x4000", "power on".
type Command struct {
	Addr    int    // camera address 1–7, 8 = broadcast
	Name    string // "preset.recall", "pantilt.drive", "zoom.direct", "power", "inquiry.zoom", ...
	Arg     string // "3", "left", "0x4000", "on"; empty when the command has none
	Inquiry bool   // an inquiry (answered by a completion with data, no ACK)
	// Decoded operands, where the command has them.
	PanSpeed, TiltSpeed int // pantilt.drive, pantilt.absolute
	Value               int // preset number, zoom position, zoom speed
	Pos                 board.Position
	Raw                 []byte // the bytes on the wire, header..FF
}

func (c Command) String() string {
	if c.Arg == "" {
		return c.Name
	}
	return c.Name + " " + c.Arg
}

// Drive directions: the pan byte (01 left, 02 right, 03 stop) and tilt byte (01 up, 02 down,
// 03 stop) of Pan-tiltDrive.
var driveNames = map[[2]byte]string{
	{1, 3}: "left", {2, 3}: "right", {3, 1}: "up", {3, 2}: "down",
	{1, 1}: "upleft", {2, 1}: "upright", {1, 2}: "downleft", {2, 2}: "downright",
	{3, 3}: "stop",
}

func build(addr int, name, arg string, body ...byte) Command {
	raw := append(append([]byte{0x80 | byte(addr)}, body...), terminator)
	return Command{Addr: addr, Name: name, Arg: arg, Raw: raw}
}

func cmdPower(addr int, on bool) Command {
	if on {
		return build(addr, "power", "on", 0x01, 0x04, 0x00, 0x02)
	}
	return build(addr, "power", "off", 0x01, 0x04, 0x00, 0x03)
}

// cmdZoom: speed > 0 tele, < 0 wide, 0 stop; |speed| 1–8.
func cmdZoom(addr, speed int) (Command, error) {
	switch {
	case speed == 0:
		return build(addr, "zoom.stop", "", 0x01, 0x04, 0x07, 0x00), nil
	case speed > MaxZoomSpeed || speed < -MaxZoomSpeed:
		return Command{}, fmt.Errorf("zoom speed %d is out of range -%d..%d", speed, MaxZoomSpeed, MaxZoomSpeed)
	case speed > 0:
		c := build(addr, "zoom.tele", fmt.Sprint(speed), 0x01, 0x04, 0x07, 0x20|byte(speed-1))
		c.Value = speed
		return c, nil
	default:
		c := build(addr, "zoom.wide", fmt.Sprint(-speed), 0x01, 0x04, 0x07, 0x30|byte(-speed-1))
		c.Value = speed
		return c, nil
	}
}

func cmdZoomDirect(addr, zoom int) (Command, error) {
	if zoom < 0 || zoom > 0xFFFF {
		return Command{}, fmt.Errorf("zoom position %d is out of range 0..0xffff", zoom)
	}
	c := build(addr, "zoom.direct", fmt.Sprintf("0x%04x", zoom), append([]byte{0x01, 0x04, 0x47}, nibbles16(uint16(zoom))...)...)
	c.Value = zoom
	return c, nil
}

// cmdDrive: signed speeds, negative pan = left, negative tilt = down, 0 = stop that axis.
func cmdDrive(addr, pan, tilt int) (Command, error) {
	if pan > MaxPanSpeed || pan < -MaxPanSpeed {
		return Command{}, fmt.Errorf("pan speed %d is out of range -%d..%d", pan, MaxPanSpeed, MaxPanSpeed)
	}
	if tilt > MaxTiltSpeed || tilt < -MaxTiltSpeed {
		return Command{}, fmt.Errorf("tilt speed %d is out of range -%d..%d", tilt, MaxTiltSpeed, MaxTiltSpeed)
	}
	dir := [2]byte{3, 3}
	switch {
	case pan < 0:
		dir[0] = 1
	case pan > 0:
		dir[0] = 2
	}
	switch {
	case tilt > 0:
		dir[1] = 1
	case tilt < 0:
		dir[1] = 2
	}
	vv, ww := max(abs(pan), 1), max(abs(tilt), 1) // a stopped axis still sends a valid speed
	c := build(addr, "pantilt.drive", driveNames[dir], 0x01, 0x06, 0x01, byte(vv), byte(ww), dir[0], dir[1])
	c.PanSpeed, c.TiltSpeed = vv, ww
	return c, nil
}

func cmdAbsolute(addr int, pan, tilt int) (Command, error) {
	if pan < -0x8000 || pan > 0x7FFF || tilt < -0x8000 || tilt > 0x7FFF {
		return Command{}, fmt.Errorf("pan/tilt position %d/%d is out of the signed 16-bit range", pan, tilt)
	}
	body := []byte{0x01, 0x06, 0x02, MaxPanSpeed, MaxTiltSpeed}
	body = append(body, nibbles16(uint16(int16(pan)))...)
	body = append(body, nibbles16(uint16(int16(tilt)))...)
	c := build(addr, "pantilt.absolute", fmt.Sprintf("pan=%d tilt=%d", pan, tilt), body...)
	c.PanSpeed, c.TiltSpeed = MaxPanSpeed, MaxTiltSpeed
	c.Pos = board.Position{Pan: pan, Tilt: tilt}
	return c, nil
}

var memoryOps = map[byte]string{0x00: "preset.reset", 0x01: "preset.store", 0x02: "preset.recall"}

func cmdMemory(addr int, op byte, n int) (Command, error) {
	if n < 0 || n > MaxPreset {
		return Command{}, fmt.Errorf("preset %d is out of range 0..%d", n, MaxPreset)
	}
	c := build(addr, memoryOps[op], fmt.Sprint(n), 0x01, 0x04, 0x3F, op, byte(n))
	c.Value = n
	return c, nil
}

func inquiry(addr int, name string, body ...byte) Command {
	c := build(addr, name, "", body...)
	c.Inquiry = true
	return c
}

func inqPanTilt(addr int) Command { return inquiry(addr, "inquiry.pantilt", 0x09, 0x06, 0x12) }
func inqZoom(addr int) Command    { return inquiry(addr, "inquiry.zoom", 0x09, 0x04, 0x47) }
func inqPower(addr int) Command   { return inquiry(addr, "inquiry.power", 0x09, 0x04, 0x00) }

// errCommand is what a camera answers with a syntax error.
var errCommand = errors.New("parse command")

// ParseCommand parses one framed message (header..FF) sent to a camera. Errors wrap
// ErrMessageLength (too long or short for its kind) or ErrSyntax (not a known command), so the
// fake can answer with the matching error code.
func ParseCommand(p []byte) (Command, error) {
	if len(p) < 3 || len(p) > maxPacket {
		return Command{}, fmt.Errorf("%w: length %d: %w", errCommand, len(p), ErrMessageLength)
	}
	if p[len(p)-1] != terminator {
		return Command{}, fmt.Errorf("%w: no terminator: %w", errCommand, ErrSyntax)
	}
	h := p[0]
	if h&0xF0 != 0x80 || h&0x0F == 0 || h&0x0F > 8 {
		return Command{}, fmt.Errorf("%w: header 0x%02x is not controller→camera: %w", errCommand, h, ErrSyntax)
	}
	addr := int(h & 0x0F)
	b := p[1 : len(p)-1]
	for _, x := range b {
		if x&0x80 != 0 {
			return Command{}, fmt.Errorf("%w: data byte 0x%02x: %w", errCommand, x, ErrSyntax)
		}
	}
	c, err := parseBody(addr, b)
	if err != nil {
		return Command{}, fmt.Errorf("%w % x: %w", errCommand, p, err)
	}
	c.Raw = append([]byte(nil), p...)
	return c, nil
}

func parseBody(addr int, b []byte) (Command, error) {
	is := func(prefix ...byte) bool {
		return len(b) >= len(prefix) && string(b[:len(prefix)]) == string(prefix)
	}
	// want checks the exact length of a command whose prefix matched.
	want := func(n int) error {
		if len(b) != n {
			return ErrMessageLength
		}
		return nil
	}
	if addr == 8 {
		switch {
		case is(0x01, 0x00, 0x01):
			return Command{Addr: 8, Name: "if.clear"}, want(3)
		case is(0x30) && len(b) == 2 && b[1] >= 1 && b[1] <= 7:
			return Command{Addr: 8, Name: "address.set", Arg: fmt.Sprint(b[1]), Value: int(b[1])}, nil
		}
		return Command{}, ErrSyntax
	}
	c := Command{Addr: addr}
	switch {
	case is(0x01, 0x04, 0x00):
		if err := want(4); err != nil {
			return c, err
		}
		switch b[3] {
		case 0x02:
			c.Name, c.Arg = "power", "on"
		case 0x03:
			c.Name, c.Arg = "power", "off"
		default:
			return c, ErrSyntax
		}
	case is(0x01, 0x04, 0x07):
		if err := want(4); err != nil {
			return c, err
		}
		switch p := b[3]; {
		case p == 0x00:
			c.Name = "zoom.stop"
		case p == 0x02:
			c.Name, c.Arg, c.Value = "zoom.tele", "", 0
		case p == 0x03:
			c.Name, c.Arg, c.Value = "zoom.wide", "", 0
		case p&0xF0 == 0x20 && p&0x0F <= 7:
			c.Value = int(p&0x0F) + 1
			c.Name, c.Arg = "zoom.tele", fmt.Sprint(c.Value)
		case p&0xF0 == 0x30 && p&0x0F <= 7:
			c.Value = -(int(p&0x0F) + 1)
			c.Name, c.Arg = "zoom.wide", fmt.Sprint(-c.Value)
		default:
			return c, ErrSyntax
		}
	case is(0x01, 0x04, 0x47):
		if err := want(7); err != nil {
			return c, err
		}
		z, ok := fromNibbles16(b[3:7])
		if !ok {
			return c, ErrSyntax
		}
		c.Name, c.Arg, c.Value = "zoom.direct", fmt.Sprintf("0x%04x", z), int(z)
	case is(0x01, 0x04, 0x3F):
		if err := want(5); err != nil {
			return c, err
		}
		name, ok := memoryOps[b[3]]
		if !ok {
			return c, ErrSyntax
		}
		c.Name, c.Arg, c.Value = name, fmt.Sprint(b[4]), int(b[4])
	case is(0x01, 0x06, 0x01):
		if err := want(7); err != nil {
			return c, err
		}
		dir, ok := driveNames[[2]byte{b[5], b[6]}]
		if !ok || b[3] < 1 || b[3] > MaxPanSpeed || b[4] < 1 || b[4] > MaxTiltSpeed {
			return c, ErrSyntax
		}
		c.Name, c.Arg, c.PanSpeed, c.TiltSpeed = "pantilt.drive", dir, int(b[3]), int(b[4])
	case is(0x01, 0x06, 0x02):
		if err := want(13); err != nil {
			return c, err
		}
		pan, ok1 := fromNibbles16(b[5:9])
		tilt, ok2 := fromNibbles16(b[9:13])
		if !ok1 || !ok2 || b[3] < 1 || b[3] > MaxPanSpeed || b[4] < 1 || b[4] > MaxTiltSpeed {
			return c, ErrSyntax
		}
		c.Pos = board.Position{Pan: int(int16(pan)), Tilt: int(int16(tilt))}
		c.Name, c.Arg = "pantilt.absolute", fmt.Sprintf("pan=%d tilt=%d", c.Pos.Pan, c.Pos.Tilt)
		c.PanSpeed, c.TiltSpeed = int(b[3]), int(b[4])
	case is(0x01, 0x06, 0x04):
		c.Name = "pantilt.home"
		return c, want(3)
	case is(0x01, 0x06, 0x05):
		c.Name = "pantilt.reset"
		return c, want(3)
	case is(0x09, 0x04, 0x00):
		c.Name, c.Inquiry = "inquiry.power", true
		return c, want(3)
	case is(0x09, 0x04, 0x47):
		c.Name, c.Inquiry = "inquiry.zoom", true
		return c, want(3)
	case is(0x09, 0x06, 0x12):
		c.Name, c.Inquiry = "inquiry.pantilt", true
		return c, want(3)
	default:
		return c, ErrSyntax
	}
	return c, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
