// Command stoa-qemu boots the qemu-x86_64 room image for a developer (make qemu), wired to a
// local `make run` stack as test/hil wires its own servers: the guest's portal.stoa.localhost
// (qemu.DevPortalName → qemu.GuestPortal) reaches the stack's portal, its management listener
// and its TURN over TCP, read from the stack's addresses.json; nothing else outside the guest is
// reachable.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/stoa-rooms/stoa/rootfs/qemu"
)

func main() {
	qemu.MaybeRelay() // QEMU runs this binary as the guest's per-connection relay to the stack
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "stoa-qemu:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, console, msg io.Writer) error {
	fs := flag.NewFlagSet("stoa-qemu", flag.ContinueOnError)
	img := fs.String("image", "", "raw image (out/stoa-room-qemu-x86_64-<version>.img, built with rootfs/qemu/stoa-config.dev.json)")
	data := fs.String("data", "var/stoa", "data dir of the `make run` stack (addresses.json)")
	turn := fs.String("turn-tcp", qemu.DefaultTURNTCP, "the stack's TURN-over-TCP listener (stoa-server --turn-tcp-addr)")
	dir := fs.String("dir", "var/qemu", "VM state: overlay disk, UEFI variables, sockets")
	display := fs.String("display", "none", "QEMU -display (none: read the screen with QMP screendump; gtk, vnc=:1)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if *img == "" {
		return fmt.Errorf("--image is required (make qemu builds it)")
	}
	st, err := qemu.ReadStack(*data)
	if err != nil {
		return err
	}
	fw, err := st.DevForwards(*turn)
	if err != nil {
		return err
	}
	if err := st.CheckStack(ctx, fw); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("VM state dir: %w", err)
	}
	vm, err := qemu.Start(ctx, qemu.Options{Image: *img, Dir: abs, Console: console, Display: *display, Forwards: fw})
	if err != nil {
		return err
	}
	nextSteps(msg, st, fw, vm)
	select {
	case <-ctx.Done():
		return vm.Stop()
	case err := <-vm.Done():
		if err != nil {
			return fmt.Errorf("qemu exited: %w", err)
		}
		return nil
	}
}

// nextSteps tells the developer what is wired where and how to pair the room.
func nextSteps(w io.Writer, st qemu.Stack, fw []qemu.Forward, vm *qemu.VM) {
	fmt.Fprintf(w, "\nstoa-qemu: the room boots under TCG (a minute or two to roomd READY); its console follows.\n")
	fmt.Fprintf(w, "  guest %s = %s, forwarded to the make run stack:\n", qemu.DevPortalName, qemu.GuestPortal)
	for _, f := range fw {
		fmt.Fprintf(w, "    %-22s → %s\n", f.Guest, f.Host)
	}
	fmt.Fprintf(w, "  pair: when the console prints \"Pairing code: ...\", open %s (log in with the\n", st.PortalURL)
	fmt.Fprintf(w, "        make run terminal's super admin password), Admin → Rooms, enter the code.\n")
	fmt.Fprintf(w, "  call: create a meeting in the portal, join it in the browser, and have the room join it on its\n")
	fmt.Fprintf(w, "        control line: socat - UNIX-CONNECT:%s,crlf  then type  join <meeting id>\n", vm.ControlSocket)
	fmt.Fprintf(w, "  screen:  QMP %s (e.g. screendump; or make qemu QEMU_DISPLAY=gtk)\n", vm.QMPSocket)
	fmt.Fprintf(w, "  serial:  VISCA camera port (ttyS1) %s, room control port (ttyS2) %s\n", vm.VISCASocket, vm.ControlSocket)
	fmt.Fprintf(w, "  stop: Ctrl-C (the overlay disk is thrown away; the image stays as built)\n\n")
}
