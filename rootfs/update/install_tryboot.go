package update

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// TrybootRebootParam is what the next reboot passes to the kernel: the Raspberry Pi firmware
// driver turns " tryboot" into the firmware's one-shot tryboot flag. systemd hands the
// content of /run/systemd/reboot-param to reboot(2) on any `systemctl reboot`, so roomd and
// stoa-update reboot into the trial without knowing the board.
const TrybootRebootParam = "0 tryboot"

// installTryboot is Install on a Raspberry Pi boot partition (see tryboot.go), once Install
// has verified the bundle and made the common refusals: the trial files go first (nothing may
// boot a slot being written), the slot is written and verified, and only then do the tryboot
// files and the pending record appear.
func (s System) installTryboot(b *Reader, res Result) (Result, error) {
	m, target := b.Manifest, res.Slot
	ab, err := readTrybootState(s.ESP)
	if err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	seq := 0
	for _, sl := range ab.Slots {
		seq = max(seq, sl.Seq)
	}
	if cur, ok := ab.Slots[target]; ok && cur.Version == m.Version {
		switch cur.State {
		case SlotBad, SlotTrying:
			return res, fmt.Errorf("install: version %s failed its trial boot (slot %s): not installing it again", m.Version, target)
		case SlotPending:
			res.Pending = true
			return res, s.armTryboot()
		}
	}
	// The trial text is made before anything is touched: a config.txt without the slot
	// include would leave the slot written but unbootable.
	tb, err := trybootTxt(s.ESP)
	if err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	if err := removeTrybootFiles(s.ESP); err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	ab.Slots[target] = TrybootSlot{Version: m.Version, Seq: seq + 1, State: SlotInstalling}
	if err := writeTrybootState(s.ESP, ab); err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	dev, partUUID, err := s.Slot(target)
	if err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.Info("installing update", "version", m.Version, "slot", target, "device", dev, "boot", "tryboot")
	kdir := filepath.Join(s.ESP, target)
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	if err := writePayload(b, dev, kdir, log); err != nil {
		return res, err
	}
	for name, text := range map[string]string{
		filepath.Join(target, "cmdline.txt"): TrybootCmdline(target, partUUID, s.installArgs(m.Cmdline)),
		TrybootTrialFile:                     TrybootSlotText(target),
		TrybootTxt:                           string(tb), // last: it arms the trial
	} {
		if err := writeFile(filepath.Join(s.ESP, name), strings.NewReader(text)); err != nil {
			return res, fmt.Errorf("install: %s: %w", name, err)
		}
	}
	ab.Slots[target] = TrybootSlot{Version: m.Version, Seq: seq + 1, State: SlotPending}
	if err := writeTrybootState(s.ESP, ab); err != nil {
		return res, fmt.Errorf("install: %w", err)
	}
	if ab.Mode == TrybootCommit {
		// Last: from here the firmware's default is the new slot, whose first boot hands the
		// default back to this one (TrybootBoot) until it is marked good.
		if err := writeFile(filepath.Join(s.ESP, TrybootSlotFile), strings.NewReader(TrybootSlotText(target))); err != nil {
			return res, fmt.Errorf("install: %w", err)
		}
	}
	if err := s.armTryboot(); err != nil {
		return res, err
	}
	log.Info("update installed", "version", m.Version, "slot", target, "entry", TrybootTxt)
	return res, nil
}

// armTryboot makes the next reboot a tryboot (System.RebootParam; nothing when unset).
func (s System) armTryboot() error {
	if s.RebootParam == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.RebootParam), 0o755); err != nil {
		return fmt.Errorf("install: reboot parameter: %w", err)
	}
	if err := os.WriteFile(s.RebootParam, []byte(TrybootRebootParam+"\n"), 0o644); err != nil {
		return fmt.Errorf("install: reboot parameter: %w", err)
	}
	return nil
}

// TrybootBoot runs early on every boot of a Raspberry Pi room (stoa-tryboot boot). On a
// trial boot (the running slot is not the one stoa-slot.txt boots) it records that the trial
// started and returns onTrial; back on the good slot it marks a trial left unfinished as bad
// and removes the tryboot files, so no stray tryboot boots that slot again.
func (s System) TrybootBoot() (onTrial bool, err error) {
	st, err := s.ReadState()
	if err != nil {
		return false, fmt.Errorf("tryboot: %w", err)
	}
	boot, err := trybootBootSlot(s.ESP)
	if err != nil {
		return false, fmt.Errorf("tryboot: %w", err)
	}
	ab, err := readTrybootState(s.ESP)
	if err != nil {
		return false, fmt.Errorf("tryboot: %w", err)
	}
	other := map[string]string{"a": "b", "b": "a"}[st.Slot]
	if cur := ab.Slots[st.Slot]; ab.Mode == TrybootCommit && st.Slot == boot && cur.State == SlotPending {
		// A committed install's first boot: hand the default back to the old slot first, so
		// that any reboot from here on (unhealthy, crash, power) ends the trial.
		if err := writeFile(filepath.Join(s.ESP, TrybootSlotFile), strings.NewReader(TrybootSlotText(other))); err != nil {
			return true, fmt.Errorf("tryboot: %w", err)
		}
		boot = other
	}
	if st.Slot != boot {
		cur := ab.Slots[st.Slot]
		if cur.State == SlotPending {
			cur.State = SlotTrying
			ab.Slots[st.Slot] = cur
			if err := writeTrybootState(s.ESP, ab); err != nil {
				return true, fmt.Errorf("tryboot: %w", err)
			}
		}
		return true, nil
	}
	if cur, ok := ab.Slots[other]; ok && cur.State == SlotTrying {
		cur.State = SlotBad
		ab.Slots[other] = cur
		if err := removeTrybootFiles(s.ESP); err != nil {
			return false, fmt.Errorf("tryboot: %w", err)
		}
		if err := writeTrybootState(s.ESP, ab); err != nil {
			return false, fmt.Errorf("tryboot: %w", err)
		}
	}
	return false, nil
}

// TrybootBless marks the running slot good once the trial boot is healthy: stoa-slot.txt now
// boots it, and the tryboot files are gone. On a slot that is already the good one it does
// nothing.
func (s System) TrybootBless() error {
	st, err := s.ReadState()
	if err != nil {
		return fmt.Errorf("bless: %w", err)
	}
	boot, err := trybootBootSlot(s.ESP)
	if err != nil {
		return fmt.Errorf("bless: %w", err)
	}
	ab, err := readTrybootState(s.ESP)
	if err != nil {
		return fmt.Errorf("bless: %w", err)
	}
	cur, ok := ab.Slots[st.Slot]
	if st.Slot == boot && (!ok || cur.State == SlotGood) {
		return nil
	}
	if !ok || (cur.State != SlotTrying && cur.State != SlotPending && cur.State != SlotGood) {
		return fmt.Errorf("bless: slot %s is %q, not on a trial boot", st.Slot, cur.State)
	}
	if cur.Version != st.Version {
		return fmt.Errorf("bless: slot %s records version %q but runs %q", st.Slot, cur.Version, st.Version)
	}
	// The firmware's default switches first: from here a reboot boots the new slot.
	if err := writeFile(filepath.Join(s.ESP, TrybootSlotFile), strings.NewReader(TrybootSlotText(st.Slot))); err != nil {
		return fmt.Errorf("bless: %w", err)
	}
	cur.State = SlotGood
	ab.Slots[st.Slot] = cur
	if err := writeTrybootState(s.ESP, ab); err != nil {
		return fmt.Errorf("bless: %w", err)
	}
	if err := removeTrybootFiles(s.ESP); err != nil {
		return fmt.Errorf("bless: %w", err)
	}
	return nil
}
