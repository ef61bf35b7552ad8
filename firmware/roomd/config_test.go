package roomd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(Config) bool
	}{
		{"empty object keeps defaults", `{}`, "", func(c Config) bool { return c == Defaults() }},
		{"all keys", `{"data_dir":"/d","board":"sim","portal_url":"https://p.example","discover":false,"socket":"/run/r.sock","firmware":"1.2","poll_timeout":"10s"}`, "",
			func(c Config) bool {
				return c.DataDir == "/d" && c.PortalURL == "https://p.example" && !c.Discover && c.Socket == "/run/r.sock" &&
					c.Firmware == "1.2" && time.Duration(c.PollTimeout) == 10*time.Second
			}},
		{"unknown key", `{"data_dir":"/d","colour":"red"}`, "unknown field", nil},
		{"trailing data", `{} {}`, "trailing data", nil},
		{"bad duration", `{"poll_timeout":"soon"}`, "parse duration", nil},
		{"duration as number", `{"poll_timeout":25}`, "duration must be a string", nil},
		{"not an object", `[]`, "decode config", nil},
		{"too large", `{"firmware":"` + strings.Repeat("x", maxConfigSize) + `"}`, "larger than", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeConfig(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("DecodeConfig = %+v, %v", c, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data_dir is empty"},
		{"no board", func(c *Config) { c.Board = "" }, "board is empty"},
		{"http portal", func(c *Config) { c.PortalURL = "http://p.example" }, "not an https"},
		{"portal with path", func(c *Config) { c.PortalURL = "https://p.example/admin" }, "has a path"},
		{"portal with user", func(c *Config) { c.PortalURL = "https://u:p@p.example" }, "user info"},
		{"portal without host", func(c *Config) { c.PortalURL = "https://" }, "no host"},
		{"long socket", func(c *Config) { c.Socket = "/" + strings.Repeat("s", 120) }, "longer than 107"},
		{"no firmware", func(c *Config) { c.Firmware = "" }, "firmware version is empty"},
		{"poll too short", func(c *Config) { c.PollTimeout = Duration(time.Millisecond) }, "outside 1s..5m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mod(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Socket != filepath.Join(c.DataDir, "roomd.sock") {
					t.Fatalf("socket default %q", c.Socket)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseArgsFlagsOverrideFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "roomd.json")
	if err := os.WriteFile(file, []byte(`{"data_dir":"/from/file","portal_url":"https://file.example","firmware":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		want    func(Config) bool
		wantErr string
	}{
		{"file only", []string{"--config", file}, func(c Config) bool {
			return c.DataDir == "/from/file" && c.PortalURL == "https://file.example" && c.Firmware == "file" && c.Socket == "/from/file/roomd.sock"
		}, ""},
		{"flags win", []string{"--config", file, "--data-dir", "/flag", "--portal-url", "https://flag.example", "--discover=false", "--poll-timeout", "5s"},
			func(c Config) bool {
				return c.DataDir == "/flag" && c.PortalURL == "https://flag.example" && !c.Discover && c.Firmware == "file" &&
					time.Duration(c.PollTimeout) == 5*time.Second
			}, ""},
		{"no file", []string{"--data-dir", "/x"}, func(c Config) bool { return c.DataDir == "/x" && c.Board == "sim" }, ""},
		{"missing file", []string{"--config", file + ".nope"}, nil, "open config"},
		{"bad flag value", []string{"--portal-url", "ftp://x"}, nil, "not an https"},
		{"stray argument", []string{"pair"}, nil, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseArgs(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.want(c) {
				t.Fatalf("ParseArgs = %+v, %v", c, err)
			}
		})
	}
}

func FuzzDecodeConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"data_dir":"/d","poll_timeout":"3s"}`, `{"discover":true,"board":"sim"}`, `{"x":1}`, `null`, `{"poll_timeout":"-1h"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeConfig(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		// Whatever decodes must either validate or say why; Validate must not panic.
		if verr := c.Validate(); verr == nil && c.Socket == "" {
			t.Fatal("valid config without a socket path")
		}
	})
}
