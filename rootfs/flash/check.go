// Package flash writes a room image to a removable disk (make flash DEV=/dev/sdX): it refuses
// a mounted disk always, and a fixed or oversized disk unless forced; writes with progress and
// verifies by reading the disk back.
package flash

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultMaxBytes is the "sane limit": SD cards and USB sticks for rooms are smaller than
// this; a larger disk is more likely someone's data disk.
const DefaultMaxBytes = 256 << 30

// CheckOptions point at the system's view of its disks (tests use their own trees).
type CheckOptions struct {
	Sys       string // /sys
	MountInfo string // /proc/self/mountinfo
	MaxBytes  int64  // default DefaultMaxBytes
	Force     bool   // allow a non-removable or oversized disk (never a mounted one)
}

// Device is a disk that passed the checks.
type Device struct {
	Path      string
	Name      string
	Bytes     int64
	Removable bool
}

// Check looks dev up and refuses it when writing it would be a mistake.
func Check(dev string, o CheckOptions) (Device, error) {
	if o.Sys == "" {
		o.Sys = "/sys"
	}
	if o.MountInfo == "" {
		o.MountInfo = "/proc/self/mountinfo"
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	name := strings.TrimPrefix(filepath.Clean(dev), "/dev/")
	if name == "" || strings.Contains(name, "/") || !strings.HasPrefix(dev, "/dev/") {
		return Device{}, fmt.Errorf("flash: %q is not a /dev/<disk> path", dev)
	}
	blk := filepath.Join(o.Sys, "class/block", name)
	if _, err := os.Stat(blk); err != nil {
		return Device{}, fmt.Errorf("flash: %s is not a block device: %w", dev, err)
	}
	if _, err := os.Stat(filepath.Join(blk, "partition")); err == nil {
		return Device{}, fmt.Errorf("flash: %s is a partition; give the whole disk", dev)
	}
	sectors, err := readInt(filepath.Join(blk, "size"))
	if err != nil {
		return Device{}, fmt.Errorf("flash: size of %s: %w", dev, err)
	}
	d := Device{Path: dev, Name: name, Bytes: sectors * 512}
	if d.Bytes == 0 {
		return Device{}, fmt.Errorf("flash: %s has no medium (size 0)", dev)
	}
	removable, _ := readInt(filepath.Join(blk, "removable"))
	target, _ := filepath.EvalSymlinks(blk)
	d.Removable = removable == 1 || strings.Contains(target, "/usb")

	parts := map[string]bool{"/dev/" + name: true}
	entries, _ := os.ReadDir(blk)
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(blk, e.Name(), "partition")); err == nil {
			parts["/dev/"+e.Name()] = true
		}
	}
	mounted, err := mountedSources(o.MountInfo)
	if err != nil {
		return Device{}, err
	}
	for src, at := range mounted {
		if parts[src] {
			return Device{}, fmt.Errorf("flash: %s is mounted at %s; unmount it first (never forced)", src, at)
		}
	}
	if !d.Removable && !o.Force {
		return Device{}, fmt.Errorf("flash: %s is not a removable disk; FORCE=1 writes it anyway", dev)
	}
	if d.Bytes > o.MaxBytes && !o.Force {
		return Device{}, fmt.Errorf("flash: %s is %d GiB, more than the %d GiB limit; FORCE=1 writes it anyway", dev, d.Bytes>>30, o.MaxBytes>>30)
	}
	return d, nil
}

// mountedSources maps each mounted source device to one of its mount points.
func mountedSources(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flash: read mounts: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		src, at, ok := parseMountInfo(sc.Text())
		if ok {
			out[src] = at
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("flash: read mounts: %w", err)
	}
	return out, nil
}

// parseMountInfo reads the mount point and source of one /proc/self/mountinfo line:
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
func parseMountInfo(line string) (src, at string, ok bool) {
	pre, post, found := strings.Cut(line, " - ")
	if !found {
		return "", "", false
	}
	f, g := strings.Fields(pre), strings.Fields(post)
	if len(f) < 5 || len(g) < 2 {
		return "", "", false
	}
	return unescape(g[1]), unescape(f[4]), true
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, errors.New("not a number: " + strings.TrimSpace(string(b)))
	}
	return v, nil
}
