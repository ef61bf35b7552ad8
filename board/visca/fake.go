package visca

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/stoa-rooms/stoa/board"
)

// FakeMode is how the fake answers commands.
type FakeMode int

// Fake answer modes.
const (
	FakeNormal  FakeMode = iota // ACK + completion (inquiries: their answer)
	FakeSilent                  // answer nothing
	FakeAckOnly                 // ACK, never complete
	FakeError                   // answer with the error code set by SetError
)

// Zoom range of the fake (Sony's optical range).
const fakeZoomMax = 0x4000

// Fake is a VISCA camera in software on an io.ReadWriter (a pty master, a socket): it parses
// commands, answers ACK + completion like a real camera (or errors, or nothing, on request),
// keeps its position, power and presets, and records every command it received.
//
// Motion is instant: pantilt.drive moves the head by ten steps per unit of speed, zoom.tele/wide
// by 0x400 per command, absolute moves and preset recalls jump there.
type Fake struct {
	rw   io.ReadWriter
	addr int
	log  *slog.Logger

	mu      sync.Mutex
	cmds    []Command
	changed chan struct{} // closed and replaced on every new command
	mode    FakeMode
	code    byte
	garbage []byte // sent before the next reply, once
	on      bool
	pos     board.Position
	presets map[int]board.Position
	socket  int
}

// NewFake returns a powered-on fake camera at address addr (1–7; 0 means 1). Call Serve.
func NewFake(rw io.ReadWriter, addr int, log *slog.Logger) *Fake {
	if addr < 1 || addr > 7 {
		addr = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fake{rw: rw, addr: addr, log: log, changed: make(chan struct{}), on: true, presets: map[int]board.Position{}}
}

// Serve reads and answers commands until rw fails (closed: io.EOF or the close error).
func (f *Fake) Serve() error {
	var fr framer
	buf := make([]byte, 256)
	for {
		n, err := f.rw.Read(buf)
		for _, b := range buf[:n] {
			p, ok := fr.feed(b)
			if !ok {
				continue
			}
			if werr := f.handle(p); werr != nil {
				return fmt.Errorf("fake visca: write reply: %w", werr)
			}
		}
		if err != nil {
			return fmt.Errorf("fake visca: read: %w", err)
		}
	}
}

// SetMode changes how the fake answers from the next command on; code is the error code for
// FakeError (CodeNotExecutable, CodeSyntax, ...).
func (f *Fake) SetMode(m FakeMode, code byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.code = m, code
}

// SendGarbage makes the fake send b before its next reply.
func (f *Fake) SendGarbage(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.garbage = append(f.garbage, b...)
}

// Commands returns the commands received so far, oldest first.
func (f *Fake) Commands() []Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Command(nil), f.cmds...)
}

// WaitCommands blocks until at least n commands were received and returns them.
func (f *Fake) WaitCommands(ctx context.Context, n int) ([]Command, error) {
	for {
		f.mu.Lock()
		ch := f.changed
		if len(f.cmds) >= n {
			out := append([]Command(nil), f.cmds...)
			f.mu.Unlock()
			return out, nil
		}
		got := len(f.cmds)
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("fake visca: %d commands received, want %d: %w", got, n, ctx.Err())
		}
	}
}

// State returns the fake's power, position and presets.
func (f *Fake) State() (on bool, pos board.Position, presets map[int]board.Position) {
	f.mu.Lock()
	defer f.mu.Unlock()
	presets = make(map[int]board.Position, len(f.presets))
	for k, v := range f.presets {
		presets[k] = v
	}
	return f.on, f.pos, presets
}

// handle answers one framed message.
func (f *Fake) handle(p []byte) error {
	cmd, err := ParseCommand(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []byte
	out, f.garbage = f.garbage, nil
	if err == nil && cmd.Addr != 8 && cmd.Addr != f.addr {
		return nil // for another camera on the chain
	}
	if err != nil {
		f.log.Debug("fake visca: bad command", "err", err)
		code := CodeSyntax
		if errors.Is(err, ErrMessageLength) {
			code = CodeMessageLength
		}
		return f.write(append(out, Reply{From: f.addr, Kind: ReplyError, Code: code}.encode()...))
	}
	f.cmds = append(f.cmds, cmd)
	close(f.changed)
	f.changed = make(chan struct{})
	f.log.Debug("fake visca: command", "cmd", cmd.String())

	if cmd.Addr == 8 {
		switch cmd.Name {
		case "if.clear":
			return f.write(append(out, Reply{From: 8, Kind: ReplyIFClear}.encode()...))
		case "address.set": // we take the address and pass on the next one
			f.addr = cmd.Value
			return f.write(append(out, Reply{From: 8, Kind: ReplyAddress, Data: []byte{byte(cmd.Value + 1)}}.encode()...))
		}
	}
	switch f.mode {
	case FakeSilent:
		return f.write(out)
	case FakeError:
		sock := 0
		if !cmd.Inquiry && f.code != CodeSyntax && f.code != CodeBufferFull && f.code != CodeMessageLength {
			out = append(out, f.ack()...)
			sock = f.socket
		}
		return f.write(append(out, Reply{From: f.addr, Kind: ReplyError, Socket: sock, Code: f.code}.encode()...))
	}
	if cmd.Inquiry {
		return f.write(append(out, Reply{From: f.addr, Kind: ReplyCompletion, Data: f.answer(cmd)}.encode()...))
	}
	out = append(out, f.ack()...)
	if f.mode == FakeAckOnly {
		return f.write(out)
	}
	// A camera in standby accepts only power commands.
	if !f.on && cmd.Name != "power" {
		return f.write(append(out, Reply{From: f.addr, Kind: ReplyError, Socket: f.socket, Code: CodeNotExecutable}.encode()...))
	}
	f.apply(cmd)
	return f.write(append(out, Reply{From: f.addr, Kind: ReplyCompletion, Socket: f.socket}.encode()...))
}

// ack takes the next of the camera's two sockets and renders its ACK.
func (f *Fake) ack() []byte {
	f.socket = f.socket%2 + 1
	return Reply{From: f.addr, Kind: ReplyAck, Socket: f.socket}.encode()
}

func (f *Fake) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := f.rw.Write(b)
	return err
}

func (f *Fake) answer(cmd Command) []byte {
	switch cmd.Name {
	case "inquiry.power":
		if f.on {
			return []byte{0x02}
		}
		return []byte{0x03}
	case "inquiry.zoom":
		return nibbles16(uint16(f.pos.Zoom))
	default: // inquiry.pantilt
		return append(nibbles16(uint16(int16(f.pos.Pan))), nibbles16(uint16(int16(f.pos.Tilt)))...)
	}
}

func (f *Fake) apply(cmd Command) {
	switch cmd.Name {
	case "power":
		f.on = cmd.Arg == "on"
	case "zoom.tele":
		f.pos.Zoom = min(f.pos.Zoom+0x400, fakeZoomMax)
	case "zoom.wide":
		f.pos.Zoom = max(f.pos.Zoom-0x400, 0)
	case "zoom.direct":
		f.pos.Zoom = min(cmd.Value, fakeZoomMax)
	case "pantilt.drive":
		step := func(dir string, neg, pos string, speed int) int {
			switch {
			case strings.Contains(dir, neg):
				return -10 * speed
			case strings.Contains(dir, pos):
				return 10 * speed
			}
			return 0
		}
		f.pos.Pan = clamp16(f.pos.Pan + step(cmd.Arg, "left", "right", cmd.PanSpeed))
		f.pos.Tilt = clamp16(f.pos.Tilt + step(cmd.Arg, "down", "up", cmd.TiltSpeed))
	case "pantilt.absolute":
		f.pos.Pan, f.pos.Tilt = cmd.Pos.Pan, cmd.Pos.Tilt
	case "pantilt.home", "pantilt.reset":
		f.pos.Pan, f.pos.Tilt = 0, 0
	case "preset.store":
		f.presets[cmd.Value] = f.pos
	case "preset.reset":
		delete(f.presets, cmd.Value)
	case "preset.recall": // an unset preset is the home position, as on Sony cameras
		f.pos = f.presets[cmd.Value]
	}
}

func clamp16(v int) int { return max(-0x8000, min(0x7FFF, v)) }
