// Package roomd is the room agent: it pairs the room with a portal, keeps its identity and
// trust bundle in the data directory, holds the management channel and serves the local API.
package roomd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
)

// maxConfigSize bounds the config file; it is a handful of keys.
const maxConfigSize = 64 << 10

// Config is roomd's configuration: the image's config file (--config), then flags on top.
type Config struct {
	DataDir     string   `json:"data_dir"`
	Board       string   `json:"board"`
	PortalURL   string   `json:"portal_url"` // the image's portal; empty: discover or manual entry
	Discover    bool     `json:"discover"`   // browse DNS-SD _stoa-portal._tcp when PortalURL is empty
	Socket      string   `json:"socket"`     // local API; default <data_dir>/roomd.sock
	Firmware    string   `json:"firmware"`   // version reported to the portal
	PollTimeout Duration `json:"poll_timeout"`
	// ControlLogin, when set, is required on the serial control port ("login <user> <password>";
	// password_hash is argon2id in PHC form, see firmware/control.HashPassword).
	ControlLogin *control.Credentials `json:"control_login,omitempty"`
	// PanelAddr is where the touch panel is served (HTTPS): every interface on the appliance, so
	// tablets on the LAN reach it; "off" disables it; host runs use a loopback address.
	PanelAddr string `json:"panel_addr"`
	// UpdateCommand is the image's stoa-update CLI, which installs portal-offered updates;
	// absent (off the image) or "": updates are disabled.
	UpdateCommand string `json:"update_command"`
}

// Duration is a time.Duration written as a Go duration string ("25s") in JSON.
type Duration time.Duration

// MarshalJSON writes d as "25s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"25s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		DataDir:     "/var/lib/stoa-room",
		Board:       "sim",
		Discover:    true,
		Firmware:    "dev",
		PollTimeout: Duration(25 * time.Second),
		PanelAddr:   DefaultPanelAddr,
		// The image installs it here; off the image the file is absent and updates are off.
		UpdateCommand: "/usr/bin/stoa-update",
	}
}

// DecodeConfig reads a JSON config on top of Defaults, strictly: unknown keys, trailing data
// and oversized files are errors. The result is not yet validated.
func DecodeConfig(r io.Reader) (Config, error) {
	c := Defaults()
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("read config: larger than %d bytes", maxConfigSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("decode config: trailing data after the JSON object")
	}
	return c, nil
}

// LoadConfig decodes the file at path (Defaults when path is empty).
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return Defaults(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	c, err := DecodeConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate checks c and fills derived defaults (the socket path).
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("config: data_dir is empty")
	}
	if c.Board == "" {
		return errors.New("config: board is empty")
	}
	if c.PortalURL != "" {
		if err := CheckPortalURL(c.PortalURL); err != nil {
			return fmt.Errorf("config: portal_url: %w", err)
		}
	}
	if c.Socket == "" {
		c.Socket = filepath.Join(c.DataDir, "roomd.sock")
	}
	// sun_path is 108 bytes on Linux, NUL included.
	if len(c.Socket) > 107 {
		return fmt.Errorf("config: socket path %q is longer than 107 bytes", c.Socket)
	}
	if c.Firmware == "" {
		return errors.New("config: firmware version is empty")
	}
	if c.PanelAddr == "" {
		c.PanelAddr = DefaultPanelAddr
	}
	if c.PanelAddr != "off" {
		if _, port, err := net.SplitHostPort(c.PanelAddr); err != nil || port == "" {
			return fmt.Errorf("config: panel_addr %q is not host:port (or \"off\")", c.PanelAddr)
		}
	}
	if c.UpdateCommand != "" && !filepath.IsAbs(c.UpdateCommand) {
		return fmt.Errorf("config: update_command %q is not an absolute path", c.UpdateCommand)
	}
	if l := c.ControlLogin; l != nil {
		if l.User == "" || strings.ContainsAny(l.User, " \t") || len(l.User) > 64 {
			return errors.New("config: control_login.user must be 1–64 characters without spaces")
		}
		if err := control.CheckHash(l.PasswordHash); err != nil {
			return fmt.Errorf("config: control_login.password_hash: %w", err)
		}
	}
	if d := time.Duration(c.PollTimeout); d < time.Second || d > 5*time.Minute {
		return fmt.Errorf("config: poll_timeout %s is outside 1s..5m", d)
	}
	return nil
}

// CheckPortalURL accepts an https URL with a host and nothing past the path.
func CheckPortalURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("parse %q: %w", s, err)
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%q is not an https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries user info", s)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q has a query or fragment", s)
	case strings.Trim(u.Path, "/") != "":
		return fmt.Errorf("%q has a path; give only https://host[:port]", s)
	}
	return nil
}
