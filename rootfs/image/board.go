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
	// Boot is how the board boots: BootEFI (systemd-boot on an ESP) or BootRPi (the
	// Raspberry Pi firmware's FAT partition with config.txt and tryboot).
	Boot string
	// Components are the Debian archive areas the base needs (default main): the Pi's
	// boot firmware is in non-free-firmware.
	Components []string
	// DTBs are the device trees the Pi firmware loads, copied from the kernel package.
	DTBs []string
	// Firmware are the Pi boot firmware files the board loads from the boot partition
	// (from raspi-firmware's /usr/lib/raspi-firmware; the Pi 5 has its firmware in EEPROM).
	Firmware []string
	// QEMU is the qemu-user binary that runs the board's executables on the build host
	// ("" for the host's own architecture).
	QEMU string
}

// Boot kinds.
const (
	BootEFI = "efi"
	BootRPi = "rpi"
)

// rpiPackages are the Raspberry Pi boards' kernel and firmware: Debian's arm64 kernel (it
// carries the bcm2711/bcm2712 device trees) and raspi-firmware (the GPU firmware start4.elf
// and fixup4.dat the Pi 4 loads from the boot partition; the Pi 5 boots from its EEPROM).
var rpiPackages = []string{"linux-image-arm64", "raspi-firmware"}

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
		Boot:    BootEFI,
	},
	"pc": {
		Name: "pc", Arch: "amd64",
		Packages: []string{"linux-image-amd64", "systemd-boot-efi", "systemd-boot", "firmware-linux-free"},
		EFIName:  "BOOTX64.EFI", SDBoot: "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
		Cmdline: "console=tty0",
		Boot:    BootEFI,
	},
	// The Pi boards share one arm64 base (same packages): the second builds from the cache.
	// The console is the GPIO header's UART on the Pi 4 (the mini UART, ttyS1, with
	// enable_uart=1), the debug connector's on the Pi 5 (ttyAMA10), and the screen.
	"rpi4": {
		Name: "rpi4", Arch: "arm64", Packages: rpiPackages, Boot: BootRPi,
		Components: []string{"main", "non-free-firmware"},
		DTBs:       []string{"bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb", "bcm2711-rpi-cm4-io.dtb"},
		Firmware:   []string{"start4.elf", "fixup4.dat"},
		Cmdline:    "console=ttyS1,115200 console=tty1",
		QEMU:       "qemu-aarch64-static",
	},
	"rpi5": {
		Name: "rpi5", Arch: "arm64", Packages: rpiPackages, Boot: BootRPi,
		Components: []string{"main", "non-free-firmware"},
		DTBs:       []string{"bcm2712-rpi-5-b.dtb"},
		Cmdline:    "console=ttyAMA10,115200 console=tty1",
		QEMU:       "qemu-aarch64-static",
	},
}

// BoardNames are the boards the tool builds, sorted (for help texts and errors).
func BoardNames() []string {
	names := make([]string, 0, len(boards))
	for n := range boards {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupBoard returns the named board or an error listing the known ones.
func LookupBoard(name string) (Board, error) {
	b, ok := boards[name]
	if !ok {
		return Board{}, fmt.Errorf("board %q: the image tool builds %v", name, BoardNames())
	}
	return b, nil
}

// packages is the sorted package list for b: the base cache key includes it.
func (b Board) packages() []string {
	p := append(append([]string(nil), commonPackages...), b.Packages...)
	sort.Strings(p)
	return p
}

// components is the archive areas for mmdebstrap (main unless the board needs more).
func (b Board) components() []string {
	if len(b.Components) == 0 {
		return []string{"main"}
	}
	return b.Components
}
