// Command stoa-qemu boots the qemu-x86_64 room image for a developer (make qemu): the guest's
// portal.stoa.test (qemu.GuestPortal) is forwarded to the portal of a local `make run` stack,
// read from its addresses.json; nothing else outside the guest is reachable.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/stoa-rooms/stoa/rootfs/qemu"
)

func main() {
	qemu.MaybeRelay() // QEMU runs this binary as the guest's per-connection relay to the portal
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stoa-qemu:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("stoa-qemu", flag.ContinueOnError)
	img := fs.String("image", "", "raw image (out/stoa-room-qemu-x86_64-<version>.img)")
	data := fs.String("data", "var/stoa", "data dir of the `make run` stack (addresses.json)")
	dir := fs.String("dir", "var/qemu", "VM state: overlay disk, UEFI variables, sockets")
	display := fs.String("display", "none", "QEMU -display (none: read the screen with QMP screendump; gtk, vnc=:1)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if *img == "" {
		return fmt.Errorf("--image is required (make image first)")
	}
	b, err := os.ReadFile(filepath.Join(*data, "addresses.json"))
	if err != nil {
		return fmt.Errorf("read the make run stack's addresses (is `make run` running?): %w", err)
	}
	var addrs map[string]string
	if err := json.Unmarshal(b, &addrs); err != nil {
		return fmt.Errorf("decode addresses.json: %w", err)
	}
	portal := addrs["portal_https"]
	if portal == "" {
		return fmt.Errorf("addresses.json has no portal_https")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	vm, err := qemu.Start(ctx, qemu.Options{
		Image: *img, Dir: abs, Console: os.Stdout, Display: *display,
		Forwards: qemu.PortalForwards(portal, addrs["portal_internal"]),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "stoa-qemu: guest portal %s (:443 and the host's port) → %s; QMP %s; VISCA serial %s; control serial %s\n",
		qemu.GuestPortal, portal, vm.QMPSocket, vm.VISCASocket, vm.ControlSocket)
	select {
	case <-ctx.Done():
		return vm.Stop()
	case err := <-vm.Done():
		return err
	}
}
