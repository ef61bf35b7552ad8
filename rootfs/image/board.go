package image

import (
	"fmt"
	"sort"
)

// Board is what the image needs to know about a board beyond its board/defs definition.
type Board struct {
	Name     string
	Arch     string   // Debian architecture
	Packages []string // on top of the common set: kernel, firmware
	EFIName  string   // removable-media boot path name: BOOTX64.EFI
	SDBoot   string   // systemd-boot binary inside the rootfs
	Cmdline  string   // board part of the kernel command line
}

// commonPackages are in every image. minbase + systemd; no compiler, no package cache.
var commonPackages = []string{
	"systemd", "systemd-sysv", "udev", "dbus", "kmod", "initramfs-tools",
	"systemd-timesyncd", "systemd-repart", "openssh-server", "libasound2t64",
	"e2fsprogs", "iproute2", "ca-certificates",
}

// boards lists the boards the tool builds. systemd-boot (the package, beside the EFI binary)
// brings systemd-bless-boot: it marks a boot-counted entry good once boot-complete.target is
// reached, which is how an A/B update is kept (rootfs/update).
// qemu-x86_64 and pc share the amd64 kernel and
// systemd-boot on UEFI (OVMF under QEMU): one boot path for both, with boot counting for A/B.
var boards = map[string]Board{
	"qemu-x86_64": {
		Name: "qemu-x86_64", Arch: "amd64",
		Packages: []string{"linux-image-amd64", "systemd-boot-efi", "systemd-boot", "alsa-utils"},
		EFIName:  "BOOTX64.EFI", SDBoot: "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
		// i2c-i801 (q35's SMBus) would take i2c-0, where the board expects i2c-stub's sensor.
		// The screen belongs to roomd (DRM): the console is the serial port only.
		Cmdline: "console=ttyS0,115200 modprobe.blacklist=i2c_i801",
	},
	"pc": {
		Name: "pc", Arch: "amd64",
		Packages: []string{"linux-image-amd64", "systemd-boot-efi", "systemd-boot", "firmware-linux-free"},
		EFIName:  "BOOTX64.EFI", SDBoot: "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
		Cmdline: "console=tty0",
	},
}

// LookupBoard returns the named board or an error listing the known ones.
func LookupBoard(name string) (Board, error) {
	b, ok := boards[name]
	if !ok {
		var names []string
		for n := range boards {
			names = append(names, n)
		}
		sort.Strings(names)
		return Board{}, fmt.Errorf("board %q: the image tool builds %v (rpi4/rpi5 are not done yet)", name, names)
	}
	return b, nil
}

// packages is the sorted package list for b: the base cache key includes it.
func (b Board) packages() []string {
	p := append(append([]string(nil), commonPackages...), b.Packages...)
	sort.Strings(p)
	return p
}
