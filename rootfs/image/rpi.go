package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

// makeRPiBoot builds a Raspberry Pi boot partition (the first GPT partition, FAT32: the Pi 4
// and 5 EEPROM bootloaders read GPT): the GPU firmware (Pi 4), the board's device trees from
// Debian's kernel package, config.txt including stoa-slot.txt, which boots slot A's kernel,
// initrd and cmdline.txt from a/, and the slot records (rootfs/update/tryboot.go).
func makeRPiBoot(ctx context.Context, root string, b Board, l layout, version, work, img string) error {
	kernels, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	initrds, _ := filepath.Glob(filepath.Join(root, "boot/initrd.img-*"))
	if len(kernels) != 1 || len(initrds) != 1 {
		return fmt.Errorf("boot partition: want one kernel and one initrd in the base, found %v %v", kernels, initrds)
	}
	files := map[string]string{"a/vmlinuz": kernels[0], "a/initrd.img": initrds[0]}
	for _, f := range b.Firmware {
		src := filepath.Join(root, "usr/lib/raspi-firmware", f)
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("boot partition: firmware %s (package raspi-firmware): %w", f, err)
		}
		files[f] = src
	}
	ver := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	for _, dtb := range b.DTBs {
		src := filepath.Join(root, "usr/lib/linux-image-"+ver, "broadcom", dtb)
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("boot partition: device tree %s (kernel %s): %w", dtb, ver, err)
		}
		files[dtb] = src
	}
	// Debian's kernel does not pass reboot "0 tryboot" on to the firmware (mainline's
	// raspberrypi.c has no reboot notifier): the trial's one-shot is done by the system.
	ab := update.TrybootState{Mode: update.TrybootCommit, Slots: map[string]update.TrybootSlot{"a": {Version: version, Seq: 1, State: update.SlotGood}}}
	if _, err := update.ParseTrybootState(ab.Encode()); err != nil {
		return fmt.Errorf("boot partition: version %q: %w", version, err)
	}
	stage := filepath.Join(work, "rpi-boot")
	for rel, text := range map[string]string{
		update.TrybootConfig:    rpiConfig(b),
		update.TrybootSlotFile:  update.TrybootSlotText("a"),
		update.TrybootStateFile: string(ab.Encode()),
		"a/cmdline.txt":         update.TrybootCmdline("a", l.RootA.UUID, bootArgs(b)),
	} {
		p := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return fmt.Errorf("boot partition: %w", err)
		}
		files[rel] = p
	}
	return writeFAT(ctx, img, l.ESP, files)
}

// rpiConfig is config.txt. The slot lines come from the included stoa-slot.txt; an install's
// tryboot.txt is this file with stoa-tryboot.txt included instead (the firmware reads
// tryboot.txt in place of config.txt on a tryboot, so both carry the board settings).
func rpiConfig(b Board) string {
	return fmt.Sprintf(`# Stoa room (%s): Raspberry Pi firmware configuration, written by the image tool.
# A/B: stoa-update rewrites stoa-slot.txt (the good slot) and, for an update's one trial
# boot, tryboot.txt + stoa-tryboot.txt. Edit the lines above the include only.
[all]
arm_64bit=1
# Debian's kernel is mainline: upstream device tree names, no downstream fixups.
upstream_kernel=1
enable_uart=1
disable_overscan=1
disable_splash=1
%s
`, b.Name, update.TrybootInclude)
}
