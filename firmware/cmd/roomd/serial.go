package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dtSerialPath is where a device-tree board (the Raspberry Pi) exposes its SoC serial number.
const dtSerialPath = "/sys/firmware/devicetree/base/serial-number"

// deviceSerial is the serial the room reports when it pairs: the board's own serial number
// when it has one, otherwise an ID made on the first start and kept in dataDir. (systemd's
// machine ID is no good here: on the image's read-only root it is made anew on every boot.)
func deviceSerial(dataDir, dtPath string) (string, error) {
	if b, err := os.ReadFile(dtPath); err == nil {
		s := strings.TrimSpace(string(bytes.TrimRight(b, "\x00")))
		if s != "" && strings.Trim(s, "0") != "" && len(s) <= 64 {
			return s, nil
		}
	}
	p := filepath.Join(dataDir, "device-id")
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		if s := strings.TrimSpace(string(b)); validDeviceID(s) {
			return s, nil
		}
		// A damaged file gets a new ID rather than keeping the room from starting.
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read device id: %w", err)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("make device id: %w", err)
	}
	s := hex.EncodeToString(id)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(s+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write device id: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("write device id: %w", err)
	}
	return s, nil
}

func validDeviceID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
