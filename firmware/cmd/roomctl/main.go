// Command roomctl talks to roomd over its local unix socket:
//
//	roomctl [--socket PATH] [--json] status|pair [--portal URL]|unpair
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stoa-rooms/stoa/firmware/roomd"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "roomctl:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roomctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "/var/lib/stoa-room/roomd.sock", "roomd's local API socket")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: roomctl [--socket PATH] [--json] status | pair --portal URL | unpair")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := roomd.NewLocalClient(*socket)
	var st roomd.Status
	var err error
	switch cmd, rest := fs.Arg(0), fs.Args()[1:]; cmd {
	case "status":
		if len(rest) > 0 {
			return fmt.Errorf("status: unexpected argument %q", rest[0])
		}
		st, err = c.Status(ctx)
	case "pair":
		pfs := flag.NewFlagSet("pair", flag.ContinueOnError)
		pfs.SetOutput(stderr)
		portal := pfs.String("portal", "", "portal URL, https://host[:port]")
		pfs.BoolVar(asJSON, "json", *asJSON, "print the status as JSON")
		if err := pfs.Parse(rest); err != nil {
			return err
		}
		if *portal == "" || pfs.NArg() > 0 {
			return errors.New("pair: give the portal as --portal https://host[:port]")
		}
		st, err = c.Pair(ctx, *portal)
	case "unpair":
		if len(rest) > 0 {
			return fmt.Errorf("unpair: unexpected argument %q", rest[0])
		}
		st, err = c.Unpair(ctx)
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(stdout, st)
	return nil
}

// printStatus writes the status for people.
func printStatus(w io.Writer, s roomd.Status) {
	fmt.Fprintf(w, "State:          %s\n", s.State)
	if s.Code != "" {
		fmt.Fprintf(w, "Pairing code:   %s\n", s.Code)
	}
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-16s%s\n", label+":", v)
		}
	}
	line("Portal", s.PortalURL)
	line("Room", s.Name)
	line("Room ID", s.RoomID)
	if s.State == roomd.StatePaired {
		online := "no"
		if s.Online {
			online = "yes"
		}
		line("Online", online)
		line("Bundle version", fmt.Sprint(s.BundleVersion))
		if !s.CertNotAfter.IsZero() {
			line("Cert expires", s.CertNotAfter.UTC().Format(time.RFC3339))
		}
	}
	line("Last error", s.LastError)
}
