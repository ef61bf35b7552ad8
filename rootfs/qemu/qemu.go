// Package qemu boots the qemu-x86_64 room image under qemu-system-x86_64 (TCG) with the
// simulated room hardware: UEFI (OVMF), the image behind a throwaway qcow2 overlay (the image
// file is never written), std VGA (bochs DRM), the i6300esb watchdog, serial ports to unix
// sockets (VISCA camera, room control) and user networking restricted to the host forwards
// given. make qemu and the hardware-in-the-loop test both use it.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// OVMF firmware files from Debian's ovmf package.
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// GuestPortal is the address the guest reaches the host's portal at (user networking).
const GuestPortal = "10.0.2.100"

// Forward makes Guest (ip:port inside the guest's user network) reach Host (ip:port on the
// host). restrict=on blocks every other outside connection.
type Forward struct {
	Guest string // 10.0.2.100:443
	Host  string // 127.0.0.1:PORT
}

// PortalForwards reaches the host portal from the guest: GuestPortal:443 (the site
// configuration's https://portal.stoa.test) goes to https, and GuestPortal:PORT to 127.0.0.1:PORT
// for https and every other listener given (internal: the management URL handed out at pairing
// names the portal's internal mTLS listener with its port).
func PortalForwards(https string, others ...string) []Forward {
	fw := []Forward{{Guest: GuestPortal + ":443", Host: https}}
	for _, a := range append([]string{https}, others...) {
		if _, port, err := net.SplitHostPort(a); err == nil && port != "443" {
			fw = append(fw, Forward{Guest: GuestPortal + ":" + port, Host: a})
		}
	}
	return fw
}

// Options configure a VM.
type Options struct {
	Image    string    // raw disk image (read only)
	Dir      string    // state: overlay, UEFI variables, sockets
	DiskSize string    // overlay's virtual size (the data partition grows into it); default 4G
	MemoryMB int       // default 1024
	CPUs     int       // default 2
	Forwards []Forward // guestfwd rules
	Console  io.Writer // ttyS0
	Display  string    // QEMU -display; default "none" (read the screen with QMP screendump)
	Relay    string    // program that calls MaybeRelay first; default this executable
}

// VM is a running guest.
type VM struct {
	QMPSocket     string // QMP control socket
	VISCASocket   string // ttyS1 in the guest
	ControlSocket string // ttyS2 in the guest
	cmd           *exec.Cmd
	done          chan error
}

// Args returns the qemu-system-x86_64 arguments for o and the VM's socket paths.
func Args(o Options, overlay, vars string) ([]string, *VM) {
	vm := &VM{
		QMPSocket:     filepath.Join(o.Dir, "qmp.sock"),
		VISCASocket:   filepath.Join(o.Dir, "visca.sock"),
		ControlSocket: filepath.Join(o.Dir, "control.sock"),
	}
	netdev := "user,id=n0,restrict=on"
	for _, f := range o.Forwards {
		gh, gp, _ := strings.Cut(f.Guest, ":")
		// libslirp splits cmd: shell-style and spawns it (no shell) per connection, the
		// connection on stdin/stdout/stderr; a comma would end QEMU's option (",,").
		cmd := strings.ReplaceAll(fmt.Sprintf("env %s=%s %s", RelayEnv, f.Host, o.Relay), ",", ",,")
		netdev += fmt.Sprintf(",guestfwd=tcp:%s:%s-cmd:%s", gh, gp, cmd)
	}
	display := o.Display
	if display == "" {
		display = "none"
	}
	args := []string{
		"-accel", "tcg", "-machine", "q35", "-nodefaults", "-no-user-config",
		"-m", fmt.Sprint(o.MemoryMB), "-smp", fmt.Sprint(o.CPUs),
		"-drive", "if=pflash,format=raw,readonly=on,file=" + ovmfCode,
		"-drive", "if=pflash,format=raw,file=" + vars,
		"-drive", "if=virtio,format=qcow2,file=" + overlay,
		"-vga", "std", "-display", display,
		"-device", "i6300esb", "-action", "watchdog=reset",
		// A USB controller for update sticks plugged in through QMP (PlugStick).
		"-device", "qemu-xhci,id=xhci",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
		"-qmp", "unix:" + vm.QMPSocket + ",server=on,wait=off",
		"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
		"-chardev", "socket,id=visca,path=" + vm.VISCASocket + ",server=on,wait=off", "-serial", "chardev:visca",
		"-chardev", "socket,id=ctl,path=" + vm.ControlSocket + ",server=on,wait=off", "-serial", "chardev:ctl",
	}
	return args, vm
}

// Start boots the image; the VM ends with ctx or Stop.
func Start(ctx context.Context, o Options) (*VM, error) {
	if o.DiskSize == "" {
		o.DiskSize = "4G"
	}
	if o.MemoryMB == 0 {
		o.MemoryMB = 1024
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.Console == nil {
		o.Console = io.Discard
	}
	if o.Relay == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("qemu: relay program: %w", err)
		}
		o.Relay = exe
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("qemu: %s is missing; `make deps` installs it", tool)
		}
	}
	if _, err := os.Stat(ovmfCode); err != nil {
		return nil, fmt.Errorf("qemu: UEFI firmware %s is missing (package ovmf); `make deps` installs it", ovmfCode)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("qemu: state dir: %w", err)
	}
	img, err := filepath.Abs(o.Image)
	if err != nil {
		return nil, fmt.Errorf("qemu: image: %w", err)
	}
	overlay := filepath.Join(o.Dir, "disk.qcow2")
	os.Remove(overlay)
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", img, overlay, o.DiskSize).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("qemu: overlay: %w: %s", err, out)
	}
	vars := filepath.Join(o.Dir, "ovmf-vars.fd")
	b, err := os.ReadFile(ovmfVars)
	if err != nil {
		return nil, fmt.Errorf("qemu: UEFI variables: %w", err)
	}
	if err := os.WriteFile(vars, b, 0o644); err != nil {
		return nil, fmt.Errorf("qemu: UEFI variables: %w", err)
	}
	args, vm := Args(o, overlay, vars)
	for _, s := range []string{vm.QMPSocket, vm.VISCASocket, vm.ControlSocket} {
		os.Remove(s)
	}
	vm.cmd = exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	vm.cmd.Stdout = o.Console
	vm.cmd.Stderr = o.Console
	vm.cmd.Stdin = nil
	if err := vm.cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: start: %w", err)
	}
	vm.done = make(chan error, 1)
	go func() { vm.done <- vm.cmd.Wait() }()
	return vm, nil
}

// Done is closed (receives the exit error) when QEMU exits.
func (vm *VM) Done() <-chan error { return vm.done }

// Stop kills QEMU and waits for it.
func (vm *VM) Stop() error {
	if vm.cmd.Process != nil {
		_ = vm.cmd.Process.Kill()
	}
	err := <-vm.done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // killed
	}
	return err
}
