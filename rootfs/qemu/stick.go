package qemu

import (
	"context"
	"encoding/json"
	"fmt"
)

// QMPExecutor runs a QMP command (test/vm/vmkit's QMP is one).
type QMPExecutor interface {
	Execute(ctx context.Context, command string, args any) (json.RawMessage, error)
}

// PlugStick hot-plugs the raw disk image at path, read-only, as a USB stick named id on the
// VM's xhci controller: how an update bundle reaches a room without a shell (rootfs/update).
func PlugStick(ctx context.Context, q QMPExecutor, id, path string) error {
	if _, err := q.Execute(ctx, "blockdev-add", map[string]any{
		"driver": "raw", "node-name": id + "-node", "read-only": true,
		"file": map[string]any{"driver": "file", "filename": path, "read-only": true},
	}); err != nil {
		return fmt.Errorf("plug stick %s: %w", id, err)
	}
	if _, err := q.Execute(ctx, "device_add", map[string]any{
		"driver": "usb-storage", "bus": "xhci.0", "drive": id + "-node", "id": id, "removable": true,
	}); err != nil {
		return fmt.Errorf("plug stick %s: %w", id, err)
	}
	return nil
}

// UnplugStick removes a stick PlugStick added.
func UnplugStick(ctx context.Context, q QMPExecutor, id string) error {
	if _, err := q.Execute(ctx, "device_del", map[string]any{"id": id}); err != nil {
		return fmt.Errorf("unplug stick %s: %w", id, err)
	}
	return nil
}
