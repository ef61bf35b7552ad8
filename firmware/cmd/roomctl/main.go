// Command roomctl talks to roomd over its local unix socket:
//
//	roomctl [--socket PATH] [--json] status|pair [--portal URL]|unpair
//	roomctl [--socket PATH] [--json] <device command> [args…]   (mic mute, volume 40, join ID PIN, …)
//	roomctl [--socket PATH] [--json] status <path>                (audio.mic_muted, call, …)
//	roomctl [--socket PATH] [--json] events                       (status changes and events until Ctrl-C)
//	roomctl hash-password < password                              (argon2id for control_login)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
	"github.com/stoa-rooms/stoa/firmware/roomd"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "roomctl:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roomctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "/var/lib/stoa-room/roomd.sock", "roomd's local API socket")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: roomctl [--socket PATH] [--json] status [path] | pair --portal URL | unpair | events | hash-password | <command> [args]")
		fmt.Fprintln(stderr, "device commands:")
		specs := control.Specs()
		names := make([]string, 0, len(specs))
		for n := range specs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %-8s %s\n", n, specs[n].Help)
		}
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
			return device(ctx, c, fs.Args(), *asJSON, stdout)
		}
		st, err = c.Status(ctx)
	case "events":
		if len(rest) > 0 {
			return fmt.Errorf("events: unexpected argument %q", rest[0])
		}
		// Until Ctrl-C, not the 30 s the other commands get.
		ectx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return events(ectx, c, *asJSON, stdout)
	case "hash-password":
		return hashPassword(stdin, stdout)
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
		if _, ok := control.Specs()[cmd]; ok {
			return device(ctx, c, fs.Args(), *asJSON, stdout)
		}
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
	if t := s.Status; t != nil {
		onOff := func(b bool, on, off string) string {
			if b {
				return on
			}
			return off
		}
		call := t.Call.State
		if t.Call.Meeting != "" {
			call += " (" + t.Call.Meeting + ")"
		}
		line("Call", call)
		line("Microphone", onOff(t.Audio.MicMuted, "muted", "live"))
		line("Camera", onOff(t.Video.CameraMuted, "privacy (no video sent)", "live"))
		line("Volume", fmt.Sprint(t.Audio.Volume))
		line("Standby", onOff(t.Standby, "yes", "no"))
		line("Board", t.Versions.Board)
		line("Health", onOff(t.Health.OK, "ok", strings.Join(t.Health.Problems, "; ")))
	}
}
