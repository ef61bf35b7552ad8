package visca

import (
	"bytes"
	"testing"
)

// FuzzReplyParser frames arbitrary bytes from a "camera" and parses every packet: no panics,
// packets are well formed, and every reply that parses encodes back to the same bytes.
func FuzzReplyParser(f *testing.F) {
	for _, s := range [][]byte{
		{0x90, 0x41, 0xFF},
		{0x90, 0x51, 0xFF},
		{0x90, 0x62, 0x41, 0xFF},
		{0x90, 0x60, 0x02, 0xFF},
		{0x90, 0x50, 0x0F, 0x0F, 0x0E, 0x0C, 0x00, 0x01, 0x02, 0x0C, 0xFF},
		{0x90, 0x50, 0x04, 0x00, 0x00, 0x00, 0xFF},
		{0x88, 0x30, 0x02, 0xFF},
		{0x88, 0x01, 0x00, 0x01, 0xFF},
		{0x90, 0x38, 0xFF},
		[]byte("garbage\r\n\x90\x41\xff"),
		append([]byte{0x90}, make([]byte, 30)...),
		{0xFF, 0xFF, 0x90},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range splitPackets(data) {
			if len(p) < 3 || len(p) > maxPacket || p[len(p)-1] != terminator || p[0]&0x80 == 0 {
				t.Fatalf("framer produced a malformed packet % x", p)
			}
			r, err := ParseReply(p)
			if err != nil {
				continue
			}
			if r.Kind == ReplyError && r.Err() == nil {
				t.Fatalf("error reply % x maps to no error", p)
			}
			if enc := r.encode(); !bytes.Equal(enc, p) {
				t.Fatalf("reply % x parsed as %+v encodes to % x", p, r, enc)
			}
		}
	})
}

// FuzzCommandParser feeds arbitrary packets to the fake's command parser: no panics, every
// command that parses has a name and parses again the same from its own bytes.
func FuzzCommandParser(f *testing.F) {
	seed := []Command{cmdPower(1, true), cmdPower(7, false), inqPanTilt(1), inqZoom(1), inqPower(3)}
	for _, mk := range []func() (Command, error){
		func() (Command, error) { return cmdZoom(1, 3) },
		func() (Command, error) { return cmdZoom(1, -8) },
		func() (Command, error) { return cmdZoom(1, 0) },
		func() (Command, error) { return cmdZoomDirect(1, 0x4000) },
		func() (Command, error) { return cmdDrive(1, -24, 23) },
		func() (Command, error) { return cmdDrive(1, 0, 0) },
		func() (Command, error) { return cmdAbsolute(1, -32768, 32767) },
		func() (Command, error) { return cmdMemory(1, 0x02, 127) },
		func() (Command, error) { return cmdMemory(1, 0x00, 0) },
	} {
		c, err := mk()
		if err != nil {
			f.Fatal(err)
		}
		seed = append(seed, c)
	}
	for _, c := range seed {
		f.Add(c.Raw)
	}
	f.Add([]byte{0x88, 0x01, 0x00, 0x01, 0xFF})
	f.Add([]byte{0x88, 0x30, 0x01, 0xFF})
	f.Add([]byte{0x81, 0x01, 0x04, 0x3F, 0x05, 0x01, 0xFF})
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := ParseCommand(p)
		if err != nil {
			return
		}
		if c.Name == "" || !bytes.Equal(c.Raw, p) {
			t.Fatalf("% x parsed as %+v", p, c)
		}
		again, err := ParseCommand(c.Raw)
		if err != nil || again.String() != c.String() {
			t.Fatalf("% x: reparse gave %v, %v; first %v", p, again, err, c)
		}
	})
}

// TestBuiltCommandsParse: what the client sends, the fake reads back under the same name.
func TestBuiltCommandsParse(t *testing.T) {
	tests := []struct {
		build func() (Command, error)
		want  string
	}{
		{func() (Command, error) { return cmdPower(1, true), nil }, "power on"},
		{func() (Command, error) { return cmdZoom(1, -2) }, "zoom.wide 2"},
		{func() (Command, error) { return cmdZoomDirect(1, 0x4000) }, "zoom.direct 0x4000"},
		{func() (Command, error) { return cmdDrive(1, -7, 0) }, "pantilt.drive left"},
		{func() (Command, error) { return cmdDrive(1, 0, 0) }, "pantilt.drive stop"},
		{func() (Command, error) { return cmdAbsolute(1, -5, 7) }, "pantilt.absolute pan=-5 tilt=7"},
		{func() (Command, error) { return cmdMemory(1, 0x02, 3) }, "preset.recall 3"},
		{func() (Command, error) { return cmdMemory(1, 0x01, 3) }, "preset.store 3"},
		{func() (Command, error) { return inqZoom(1), nil }, "inquiry.zoom"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			c, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			if c.String() != tt.want {
				t.Errorf("built %q, want %q", c, tt.want)
			}
			got, err := ParseCommand(c.Raw)
			if err != nil || got.String() != tt.want {
				t.Errorf("parsed % x as %q, %v; want %q", c.Raw, got, err, tt.want)
			}
		})
	}
}
