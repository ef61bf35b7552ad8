package linux

import (
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/board"
)

// On the host, the devices a definition names are absent: Open must refuse, naming each.
func TestOpenNamesMissingDevice(t *testing.T) {
	media := board.MediaDef{Video: "vp8", Encoder: "software", Simulcast: 1, Send: board.VideoMode{Width: 640, Height: 360, FPS: 15}}
	tests := []struct {
		name string
		def  board.Definition
		want string
	}{
		{"camera node", board.Definition{Camera: &board.CameraDef{Device: "/dev/video-missing", Mode: board.VideoMode{Width: 640, Height: 360, FPS: 30}}}, "/dev/video-missing"},
		{"camera match", board.Definition{Camera: &board.CameraDef{Match: "no-such-driver", Mode: board.VideoMode{Width: 640, Height: 360, FPS: 30}}}, "no-such-driver"},
		{"sound card", board.Definition{Audio: &board.AudioDef{Capture: "hw:NoSuchCard,0", Playback: "hw:NoSuchCard,0", Rate: 48000}}, "NoSuchCard"},
		{"display", board.Definition{Display: &board.DisplayDef{DRM: "/dev/dri/card-missing", FBDev: "/dev/fb-missing"}}, "/dev/dri/card-missing"},
		{"cec", board.Definition{CEC: &board.CECDef{Device: "/dev/cec-missing"}}, "/dev/cec-missing"},
		{"invalid definition", board.Definition{Name: "Bad Name"}, "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := tc.def
			if def.Name == "" {
				def.Name = "test"
			}
			def.Driver, def.Media = "linux", media
			b, err := Open(def)
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}
