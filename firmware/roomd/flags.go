package roomd

import (
	"flag"
	"fmt"
	"io"
	"time"
)

// ParseArgs builds the configuration from command-line args: --config (a JSON file) first,
// then every flag given explicitly on top, then Validate.
func ParseArgs(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("roomd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := Defaults()
	path := fs.String("config", "", "JSON configuration file")
	dataDir := fs.String("data-dir", d.DataDir, "data directory (identity, bundle, socket)")
	boardName := fs.String("board", d.Board, "board definition (sim)")
	portal := fs.String("portal-url", "", "portal public URL, https://host[:port]")
	discover := fs.Bool("discover", d.Discover, "find the portal by DNS-SD (_stoa-portal._tcp)")
	socket := fs.String("socket", "", "local API socket (default <data-dir>/roomd.sock)")
	firmware := fs.String("firmware", d.Firmware, "firmware version reported to the portal")
	panelAddr := fs.String("panel-addr", d.PanelAddr, "touch panel HTTPS address (host:port, or off)")
	updateCmd := fs.String("update-command", d.UpdateCommand, "stoa-update CLI installing portal-offered updates (\"\": none)")
	poll := fs.Duration("poll-timeout", time.Duration(d.PollTimeout), "management long-poll timeout")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("parse flags: unexpected argument %q", fs.Arg(0))
	}
	c, err := LoadConfig(*path)
	if err != nil {
		return Config{}, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			c.DataDir = *dataDir
		case "board":
			c.Board = *boardName
		case "portal-url":
			c.PortalURL = *portal
		case "discover":
			c.Discover = *discover
		case "socket":
			c.Socket = *socket
		case "firmware":
			c.Firmware = *firmware
		case "panel-addr":
			c.PanelAddr = *panelAddr
		case "update-command":
			c.UpdateCommand = *updateCmd
		case "poll-timeout":
			c.PollTimeout = Duration(*poll)
		}
	})
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
