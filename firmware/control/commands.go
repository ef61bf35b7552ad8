package control

import "regexp"

// Command names of the room's device API.
const (
	CmdJoin    = "join"
	CmdLeave   = "leave"
	CmdMic     = "mic"
	CmdCamera  = "camera"
	CmdVolume  = "volume"
	CmdPreset  = "preset"
	CmdPTZ     = "ptz"
	CmdStandby = "standby"
	CmdWake    = "wake"
	CmdLayout  = "layout"
	CmdStatus  = "status"
)

// MaxPreset is the highest camera preset number (VISCA memories 0–127).
const MaxPreset = 127

// MaxPTZSpeed bounds pan/tilt/zoom speeds (signed; 0 stops).
const MaxPTZSpeed = 24

// Specs returns the room's standard command set; roomd registers a handler for each, and
// clients (roomctl, the line protocol) use it to turn words into commands.
func Specs() map[string]Spec {
	toggle := []string{"mute", "unmute", "toggle"}
	speed := func(name string) Arg {
		return Arg{Name: name, Int: true, Min: -MaxPTZSpeed, Max: MaxPTZSpeed, Help: "signed speed, 0 stops"}
	}
	coord := func(name string) Arg {
		return Arg{Name: name, Int: true, Min: -1 << 20, Max: 1 << 20, Help: "camera units"}
	}
	return map[string]Spec{
		CmdJoin: {Help: "join a meeting (the room's default meeting without an ID)", Args: []Arg{
			{Name: "meeting_id", Pattern: regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`), Help: "a meeting ID"},
			{Name: "pin", Pattern: regexp.MustCompile(`^[0-9]{1,16}$`), Help: "digits"},
		}},
		CmdLeave:  {Help: "leave the call"},
		CmdMic:    {Help: "mute, unmute or toggle the microphone", Args: []Arg{{Name: "action", Required: true, Enum: toggle}}},
		CmdCamera: {Help: "camera privacy: mute (send no video), unmute or toggle", Args: []Arg{{Name: "action", Required: true, Enum: toggle}}},
		CmdVolume: {Help: "set the speaker volume 0–100, or step it up or down", Args: []Arg{
			{Name: "level", Required: true, Enum: []string{"up", "down"}, Int: true, Min: 0, Max: 100}}},
		CmdPreset: {Help: "store or recall a camera preset", Args: []Arg{
			{Name: "action", Required: true, Enum: []string{"store", "recall"}},
			{Name: "n", Required: true, Int: true, Min: 0, Max: MaxPreset}}},
		CmdPTZ: {Help: "move the camera: pan|tilt|zoom <speed>, stop, goto <pan> <tilt> <zoom>", Args: []Arg{
			{Name: "action", Required: true, Enum: []string{"pan", "tilt", "zoom", "stop", "goto"}},
			speed("speed"), coord("pan"), coord("tilt"), coord("zoom")},
			After: map[string][]string{"goto": {"pan", "tilt", "zoom"}}},
		CmdStandby: {Help: "put the room into standby (display off)"},
		CmdWake:    {Help: "wake the room from standby"},
		CmdLayout:  {Help: "call layout", Args: []Arg{{Name: "layout", Required: true, Enum: []string{"speaker", "grid"}}}},
		CmdStatus: {Help: "the status tree, or the part under a dotted path", Args: []Arg{
			{Name: "path", Pattern: regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`), Help: "a dotted path like audio.mic_muted"}}},
	}
}

// SpecLookup returns Specs as a lookup function for FromWords.
func SpecLookup() func(string) (Spec, bool) {
	s := Specs()
	return func(name string) (Spec, bool) { sp, ok := s[name]; return sp, ok }
}
