package flash

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSys builds /sys/class/block entries: disk name → size in sectors, removable, partitions.
func fakeSys(t *testing.T, disks map[string]struct {
	sectors   int64
	removable bool
	parts     []string
}) string {
	root := t.TempDir()
	for name, d := range disks {
		dir := filepath.Join(root, "class/block", name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "size"), []byte(strconv.FormatInt(d.sectors, 10)+"\n"), 0o644)
		rem := "0\n"
		if d.removable {
			rem = "1\n"
		}
		os.WriteFile(filepath.Join(dir, "removable"), []byte(rem), 0o644)
		for _, p := range d.parts {
			os.MkdirAll(filepath.Join(dir, p), 0o755)
			os.WriteFile(filepath.Join(dir, p, "partition"), []byte("1\n"), 0o644)
			pd := filepath.Join(root, "class/block", p)
			os.MkdirAll(pd, 0o755)
			os.WriteFile(filepath.Join(pd, "partition"), []byte("1\n"), 0o644)
		}
	}
	return root
}

func TestCheck(t *testing.T) {
	sys := fakeSys(t, map[string]struct {
		sectors   int64
		removable bool
		parts     []string
	}{
		"sdb":     {sectors: 32 << 21, removable: true, parts: []string{"sdb1", "sdb2"}}, // 32 GiB stick
		"sdc":     {sectors: 32 << 21, removable: true, parts: []string{"sdc1"}},
		"nvme0n1": {sectors: 512 << 21, removable: false},
		"sdd":     {sectors: 1024 << 21, removable: true},
		"sde":     {sectors: 0, removable: true},
	})
	mounts := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(mounts, []byte("22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"+
		"90 22 8:33 / /media/my\\040stick rw,nosuid shared:50 - vfat /dev/sdc1 rw\n"), 0o644)
	tests := []struct {
		name, dev string
		force     bool
		wantErr   string
	}{
		{"removable unmounted stick", "/dev/sdb", false, ""},
		{"mounted partition", "/dev/sdc", false, "mounted at /media/my stick"},
		{"mounted even when forced", "/dev/sdc", true, "never forced"},
		{"fixed disk", "/dev/nvme0n1", false, "not a removable disk"},
		{"fixed disk forced", "/dev/nvme0n1", true, ""},
		{"too large", "/dev/sdd", false, "limit"},
		{"too large forced", "/dev/sdd", true, ""},
		{"a partition", "/dev/sdb1", false, "is a partition"},
		{"no medium", "/dev/sde", false, "no medium"},
		{"missing", "/dev/sdz", false, "not a block device"},
		{"not /dev", "sdb", false, "not a /dev/<disk> path"},
		{"traversal", "/dev/../etc/passwd", false, "not a /dev/<disk> path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Check(tc.dev, CheckOptions{Sys: sys, MountInfo: mounts, Force: tc.force})
			if tc.wantErr == "" {
				if err != nil || d.Bytes == 0 {
					t.Fatalf("Check: %+v %v", d, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestWriteVerifies(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 9<<20+123)
	rand.Read(data)
	raw := filepath.Join(dir, "x.img")
	os.WriteFile(raw, data, 0o644)
	if out, err := exec.Command("zstd", "-q", raw, "-o", raw+".zst").CombinedOutput(); err != nil {
		t.Fatalf("zstd: %v %s", err, out)
	}
	for _, src := range []string{raw, raw + ".zst"} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			dev := filepath.Join(t.TempDir(), "disk")
			os.WriteFile(dev, make([]byte, 16<<20), 0o644)
			var out bytes.Buffer
			if err := Write(context.Background(), src, dev, &out, time.Now); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, _ := os.ReadFile(dev)
			if !bytes.Equal(got[:len(data)], data) || !strings.Contains(out.String(), "verified") {
				t.Fatalf("disk does not hold the image; output %s", out.String())
			}
		})
	}
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue")
	f.Add(`90 22 8:33 / /media/a\040b rw - vfat /dev/sdc1 rw`)
	f.Add(`x - y`)
	f.Fuzz(func(t *testing.T, line string) {
		src, at, ok := parseMountInfo(line)
		if ok && (src == "" || at == "") {
			t.Fatalf("ok with empty fields: %q %q", src, at)
		}
	})
}
