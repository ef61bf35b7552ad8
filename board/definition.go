package board

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Definition describes one board: which driver builds it and which device node, ALSA device,
// GPIO line, serial port and I2C address each part of the room uses. One JSON file per board in
// board/defs, decoded strictly (unknown fields are errors).
type Definition struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Driver builds the board: "sim" (software) or "linux" (kernel devices).
	Driver  string      `json:"driver"`
	Camera  *CameraDef  `json:"camera,omitempty"`
	Audio   *AudioDef   `json:"audio,omitempty"`
	Display *DisplayDef `json:"display,omitempty"`
	// GPIO lines by role: "mute_button", "mute_led", "call_led", "occupancy".
	GPIO   map[string]GPIOLineDef `json:"gpio,omitempty"`
	Serial map[string]SerialDef   `json:"serial,omitempty"` // by role: "visca", "control"
	I2C    *I2CDef                `json:"i2c,omitempty"`
	CEC    *CECDef                `json:"cec,omitempty"`
	Media  MediaDef               `json:"media"`
}

// CameraDef picks the camera.
type CameraDef struct {
	// Device is the V4L2 node ("/dev/video0"); empty means the first capture device whose
	// driver or card name contains Match.
	Device string    `json:"device,omitempty"`
	Match  string    `json:"match,omitempty"`
	Mode   VideoMode `json:"mode"` // wanted capture mode
}

// AudioDef names the ALSA devices ("hw:Loopback,0,0", "plughw:CARD=Device,DEV=0", "default").
type AudioDef struct {
	Capture  string `json:"capture"`
	Playback string `json:"playback"`
	Rate     int    `json:"rate"`
}

// DisplayDef picks the display: DRM/KMS card, with fbdev as the fallback.
type DisplayDef struct {
	DRM    string `json:"drm,omitempty"`   // "/dev/dri/card0"
	FBDev  string `json:"fbdev,omitempty"` // "/dev/fb0"
	Width  int    `json:"width"`           // wanted mode; 0 = the connector's preferred mode
	Height int    `json:"height"`
	Touch  bool   `json:"touch"` // a touch screen: the image runs the panel kiosk on it
}

// GPIOLineDef is one line: by name where the device tree names lines, else by chip + offset.
type GPIOLineDef struct {
	Chip      string `json:"chip,omitempty"`   // "gpiochip0"; empty = search all chips for Name
	Name      string `json:"name,omitempty"`   // the line's name ("GPIO17", "MUTE_BTN")
	Offset    *int   `json:"offset,omitempty"` // when the line has no name
	ActiveLow bool   `json:"active_low"`
	// DebounceMS for inputs (default 20).
	DebounceMS int `json:"debounce_ms,omitempty"`
}

// SerialDef is one serial port.
type SerialDef struct {
	Device string `json:"device"` // "/dev/ttyS1", "/dev/ttyUSB0"
	Baud   int    `json:"baud"`
}

// I2CDef is the I2C bus and its sensor.
type I2CDef struct {
	Bus   string `json:"bus"`   // "/dev/i2c-1"
	Light string `json:"light"` // sensor chip: "veml7700"
	Addr  uint16 `json:"addr"`  // 7-bit address
}

// CECDef is the CEC adapter.
type CECDef struct {
	Device string `json:"device"` // "/dev/cec0"
}

// MediaDef is what the board's CPU can encode.
type MediaDef struct {
	Video string `json:"video"` // "vp8" or "h264"
	// Encoder: "software" (libvpx/x264) or "v4l2m2m" (the SoC's hardware encoder).
	Encoder string `json:"encoder"`
	// Simulcast layers (1–3); each halves the size of the one above it.
	Simulcast int       `json:"simulcast"`
	Send      VideoMode `json:"send"` // top layer
}

//go:embed defs/*.json
var defsFS embed.FS

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Definitions lists the built-in board names, sorted.
func Definitions() []string {
	ents, _ := fs.ReadDir(defsFS, "defs")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	slices.Sort(names)
	return names
}

// LoadDefinition returns the built-in definition called name, or, when name contains a slash,
// the definition in that file.
func LoadDefinition(name string) (Definition, error) {
	var data []byte
	var err error
	if strings.Contains(name, "/") {
		data, err = os.ReadFile(name)
	} else {
		if !nameRE.MatchString(name) {
			return Definition{}, fmt.Errorf("load board definition: bad board name %q", name)
		}
		data, err = defsFS.ReadFile(path.Join("defs", name+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			return Definition{}, fmt.Errorf("load board definition: unknown board %q (known: %s)", name, strings.Join(Definitions(), ", "))
		}
	}
	if err != nil {
		return Definition{}, fmt.Errorf("load board definition: %w", err)
	}
	def, err := ParseDefinition(data)
	if err != nil {
		return Definition{}, fmt.Errorf("load board definition %q: %w", name, err)
	}
	return def, nil
}

// ParseDefinition decodes a definition strictly and validates it.
func ParseDefinition(data []byte) (Definition, error) {
	var d Definition
	if len(data) > 64<<10 {
		return d, errors.New("definition larger than 64 KiB")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Definition{}, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return Definition{}, errors.New("decode: trailing data after the JSON object")
	}
	if err := d.Validate(); err != nil {
		return Definition{}, err
	}
	return d, nil
}

// Known GPIO and serial roles; anything else is a typo.
var (
	gpioRoles   = []string{"mute_button", "mute_led", "call_led", "occupancy"}
	serialRoles = []string{"visca", "control"}
)

// Validate reports the first problem, naming the field.
func (d Definition) Validate() error {
	switch {
	case !nameRE.MatchString(d.Name):
		return fmt.Errorf("name: %q is not a board name (a-z, 0-9, - and _)", d.Name)
	case d.Driver != "sim" && d.Driver != "linux":
		return fmt.Errorf("driver: %q is neither \"sim\" nor \"linux\"", d.Driver)
	}
	if c := d.Camera; c != nil {
		if c.Device == "" && c.Match == "" {
			return errors.New("camera: give device or match")
		}
		if err := checkMode("camera.mode", c.Mode); err != nil {
			return err
		}
	}
	if a := d.Audio; a != nil {
		if a.Capture == "" && a.Playback == "" {
			return errors.New("audio: give capture and/or playback")
		}
		if a.Rate != 48000 && a.Rate != 16000 && a.Rate != 44100 {
			return fmt.Errorf("audio.rate: %d is not 16000, 44100 or 48000", a.Rate)
		}
	}
	if p := d.Display; p != nil {
		if d.Driver == "linux" && p.DRM == "" && p.FBDev == "" {
			return errors.New("display: give drm and/or fbdev")
		}
		if p.Width < 0 || p.Height < 0 || p.Width > 7680 || p.Height > 4320 {
			return fmt.Errorf("display: %dx%d is out of range", p.Width, p.Height)
		}
	}
	for role, l := range d.GPIO {
		if !slices.Contains(gpioRoles, role) {
			return fmt.Errorf("gpio.%s: unknown role (known: %s)", role, strings.Join(gpioRoles, ", "))
		}
		if l.Name == "" && (l.Offset == nil || l.Chip == "") {
			return fmt.Errorf("gpio.%s: give name, or chip and offset", role)
		}
		if l.Offset != nil && (*l.Offset < 0 || *l.Offset > 1023) {
			return fmt.Errorf("gpio.%s.offset: %d is out of range", role, *l.Offset)
		}
		if l.DebounceMS < 0 || l.DebounceMS > 1000 {
			return fmt.Errorf("gpio.%s.debounce_ms: %d is out of range 0–1000", role, l.DebounceMS)
		}
	}
	for role, s := range d.Serial {
		if !slices.Contains(serialRoles, role) {
			return fmt.Errorf("serial.%s: unknown role (known: %s)", role, strings.Join(serialRoles, ", "))
		}
		if s.Device == "" {
			return fmt.Errorf("serial.%s.device: empty", role)
		}
		if !slices.Contains([]int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}, s.Baud) {
			return fmt.Errorf("serial.%s.baud: %d is not a standard rate", role, s.Baud)
		}
	}
	if i := d.I2C; i != nil {
		if i.Bus == "" || i.Light == "" {
			return errors.New("i2c: give bus and light")
		}
		if i.Addr < 0x03 || i.Addr > 0x77 {
			return fmt.Errorf("i2c.addr: 0x%02x is not a 7-bit device address", i.Addr)
		}
	}
	if c := d.CEC; c != nil && c.Device == "" {
		return errors.New("cec.device: empty")
	}
	m := d.Media
	switch {
	case m.Video != "vp8" && m.Video != "h264":
		return fmt.Errorf("media.video: %q is neither \"vp8\" nor \"h264\"", m.Video)
	case m.Encoder != "software" && m.Encoder != "v4l2m2m":
		return fmt.Errorf("media.encoder: %q is neither \"software\" nor \"v4l2m2m\"", m.Encoder)
	case m.Simulcast < 1 || m.Simulcast > 3:
		return fmt.Errorf("media.simulcast: %d is not 1, 2 or 3", m.Simulcast)
	}
	return checkMode("media.send", m.Send)
}

func checkMode(field string, m VideoMode) error {
	if m.Width < 16 || m.Height < 16 || m.Width > 3840 || m.Height > 2160 || m.Width%2 != 0 || m.Height%2 != 0 {
		return fmt.Errorf("%s: %dx%d is not an even size from 16x16 to 3840x2160", field, m.Width, m.Height)
	}
	if m.FPS < 1 || m.FPS > 60 {
		return fmt.Errorf("%s: %d fps is out of range 1–60", field, m.FPS)
	}
	return nil
}
