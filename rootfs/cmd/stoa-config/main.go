// Command stoa-config runs at every boot of the appliance (stoa-config.service): it imports a
// stoa-config.json dropped on the boot partition into the data partition and renders the
// stored configuration into /run for networkd, timesyncd, sshd and roomd.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/stoa-rooms/stoa/rootfs/siteconfig"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stoa-config:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stoa-config", flag.ContinueOnError)
	var d siteconfig.Dirs
	fs.StringVar(&d.Boot, "boot", "/efi", "boot partition mount point")
	fs.StringVar(&d.Data, "data", "/data", "data partition mount point")
	fs.StringVar(&d.Run, "run", "/run", "runtime directory")
	setHost := fs.Bool("set-hostname", true, "set the hostname from the room name")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	res, err := siteconfig.Apply(d)
	if res.Rejected != "" {
		fmt.Fprintf(out, "stoa-config: %s on the boot partition rejected, kept the stored configuration: %s\n", siteconfig.DropName, res.Rejected)
	}
	if err != nil {
		return err
	}
	if res.Imported {
		fmt.Fprintf(out, "stoa-config: imported %s from the boot partition\n", siteconfig.DropName)
	}
	if *setHost {
		h := res.Site.Hostname()
		if err := syscall.Sethostname([]byte(h)); err != nil {
			return fmt.Errorf("set hostname %q: %w", h, err)
		}
	}
	portal := res.Site.PortalURL
	if portal == "" {
		portal = "(discover)"
	}
	fmt.Fprintf(out, "stoa-config: room %q portal %s network %s ssh keys %d\n", strings.TrimSpace(res.Site.RoomName), portal, res.Site.Network.Mode, len(res.Site.SSHKeys))
	return nil
}
