package control

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is the room's status tree. Dotted paths name its parts ("audio.mic_muted",
// "call.participants.0.name"), as in the JSON encoding.
type Status struct {
	Call     CallStatus    `json:"call"`
	Audio    AudioStatus   `json:"audio"`
	Video    VideoStatus   `json:"video"`
	Camera   CameraStatus  `json:"camera"`
	Standby  bool          `json:"standby"`
	Pairing  PairingStatus `json:"pairing"`
	Network  NetworkStatus `json:"network"`
	Sensors  SensorStatus  `json:"sensors"`
	Versions Versions      `json:"versions"`
	Health   Health        `json:"health"`
}

// Call states; "idle" when no call is on, the rest are firmware/call's.
const (
	CallIdle    = "idle"
	CallJoining = "joining"
	CallInCall  = "in_call"
	CallEnded   = "ended"
	CallFailed  = "failed"
)

// CallStatus is the current (or last) call.
type CallStatus struct {
	State        string        `json:"state"`
	Meeting      string        `json:"meeting"`
	Layout       string        `json:"layout"` // "speaker" | "grid"
	Participants []Participant `json:"participants"`
	Error        string        `json:"error"`
}

// Participant is a remote party in the call.
type Participant struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	MicMuted    bool   `json:"mic_muted"`
	CameraMuted bool   `json:"camera_muted"`
	Speaking    bool   `json:"speaking"`
}

// AudioStatus is the room's own audio.
type AudioStatus struct {
	MicMuted bool `json:"mic_muted"`
	Volume   int  `json:"volume"` // 0–100
}

// VideoStatus is the room's own video. CameraMuted is the privacy mode: nothing is sent.
type VideoStatus struct {
	CameraMuted bool `json:"camera_muted"`
}

// CameraStatus is the camera's control side.
type CameraStatus struct {
	Control  string   `json:"control"` // "visca", "v4l2" or "none"
	Position Position `json:"position"`
	Presets  []int    `json:"presets"` // stored preset numbers
}

// Position is a camera position in the camera's own units.
type Position struct {
	Pan  int `json:"pan"`
	Tilt int `json:"tilt"`
	Zoom int `json:"zoom"`
}

// PairingStatus mirrors the agent: unpaired|pairing|paired, the code while unpaired.
type PairingStatus struct {
	State  string `json:"state"`
	Code   string `json:"code"`
	Portal string `json:"portal"`
	Online bool   `json:"online"`
	RoomID string `json:"room_id"`
	Name   string `json:"name"`
}

// NetworkStatus is how the room is reached.
type NetworkStatus struct {
	Hostname  string   `json:"hostname"`
	Addresses []string `json:"addresses"`
}

// SensorStatus is the last ambient-light/presence reading and the occupancy input.
type SensorStatus struct {
	Lux      float64 `json:"lux"`
	Occupied bool    `json:"occupied"`
}

// Versions of the firmware and the board definition; on the appliance image also the A/B
// root slot running ("a" or "b") and whether it is on its trial boot after an update.
type Versions struct {
	Firmware string `json:"firmware"`
	Board    string `json:"board"`
	Slot     string `json:"slot,omitempty"`
	OnTrial  bool   `json:"on_trial,omitempty"`
}

// Health is OK when every subsystem is; Problems names the others.
type Health struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

// Clone returns a deep copy (slices are not shared; nil lists become empty ones, so the JSON
// has [] rather than null and nil and empty read the same).
func (s Status) Clone() Status {
	s.Call.Participants = append([]Participant{}, s.Call.Participants...)
	s.Camera.Presets = append([]int{}, s.Camera.Presets...)
	s.Network.Addresses = append([]string{}, s.Network.Addresses...)
	s.Health.Problems = append([]string{}, s.Health.Problems...)
	return s
}

// Leaves flattens the tree into dotted path → JSON value (bool, float64, string, nil); empty
// lists appear as their path with an empty list, so they can be read back too.
func (s Status) Leaves() map[string]any {
	out := map[string]any{}
	flatten("", tree(s), out)
	return out
}

// Get returns the leaves at and under path ("" for all), or an error naming the path.
func (s Status) Get(path string) (map[string]any, error) {
	all := s.Leaves()
	if path == "" {
		return all, nil
	}
	if len(path) > 128 {
		return nil, fmt.Errorf("get status: path longer than 128 characters")
	}
	out := map[string]any{}
	for k, v := range all {
		if k == path || strings.HasPrefix(k, path+".") {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("get status: no status path %q", path)
	}
	return out, nil
}

// Diff lists the leaves that differ between a and b with b's value (nil when gone).
func Diff(a, b Status) map[string]any {
	la, lb := a.Leaves(), b.Leaves()
	out := map[string]any{}
	for k, v := range lb {
		if old, ok := la[k]; !ok || !equalLeaf(old, v) {
			out[k] = v
		}
	}
	for k := range la {
		if _, ok := lb[k]; !ok {
			out[k] = nil
		}
	}
	return out
}

func equalLeaf(a, b any) bool {
	// Leaves are scalars or empty lists; compare their JSON.
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// tree is s as generic JSON values.
func tree(s Status) any {
	s = s.Clone()
	data, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("control: status does not encode: %v", err)) // plain data: cannot happen
	}
	var v any
	_ = json.Unmarshal(data, &v)
	return v
}

func flatten(prefix string, v any, out map[string]any) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			flatten(join(k), c, out)
		}
	case []any:
		if len(t) == 0 {
			out[prefix] = []any{}
		}
		for i, c := range t {
			flatten(join(strconv.Itoa(i)), c, out)
		}
	default:
		out[prefix] = v
	}
}

// FormatValue writes a leaf value for the line protocol: true/false, numbers as Go prints
// them, strings with control characters replaced by spaces, [] for an empty list, "" for null.
func FormatValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case string:
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, t)
	case []any:
		return "[]"
	case time.Time:
		return t.UTC().Format(time.RFC3339)
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}
