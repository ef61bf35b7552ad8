package image

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

const mib = 1 << 20

// GPT partition types.
const (
	typeESP   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	typeRoot  = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" // root-x86-64 (discoverable partitions)
	typeLinux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
)

// rootTypes are the discoverable-partitions root types of the other architectures.
var rootTypes = map[string]string{"arm64": "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"}

// part is one partition of the image.
type part struct {
	Name, Type, UUID string
	Start, Size      int64 // bytes, MiB aligned
}

// layout is the disk: boot (ESP), root A, root B, data (last, grown on first boot).
type layout struct {
	ESP, RootA, RootB, Data part
	Total                   int64
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// newLayout places the partitions one after the other from 1 MiB, with 1 MiB left at the
// end for the backup GPT.
func newLayout(espMiB, rootMiB, dataMiB int64) layout {
	l := layout{
		ESP:   part{Name: "boot", Type: typeESP, UUID: newUUID(), Size: espMiB * mib},
		RootA: part{Name: "root-a", Type: typeRoot, UUID: newUUID(), Size: rootMiB * mib},
		RootB: part{Name: "root-b", Type: typeRoot, UUID: newUUID(), Size: rootMiB * mib},
		Data:  part{Name: "data", Type: typeLinux, UUID: newUUID(), Size: dataMiB * mib},
	}
	off := int64(mib)
	for _, p := range []*part{&l.ESP, &l.RootA, &l.RootB, &l.Data} {
		p.Start = off
		off += p.Size
	}
	l.Total = off + mib
	return l
}

// sfdiskScript is the partition table in sfdisk's input format.
func (l layout) sfdiskScript() string {
	var b strings.Builder
	b.WriteString("label: gpt\nunit: sectors\nsector-size: 512\n")
	for _, p := range []part{l.ESP, l.RootA, l.RootB, l.Data} {
		fmt.Fprintf(&b, "start=%d, size=%d, type=%s, uuid=%s, name=%q\n", p.Start/512, p.Size/512, p.Type, p.UUID, p.Name)
	}
	return b.String()
}

// fstab mounts the data and boot partitions; the root stays read-only (no entry: the kernel
// command line says ro), scratch space is tmpfs, logs go to the data partition. Partitions are
// named by GPT partition name, not UUID: an update bundle's root (rootfs/update) is built
// apart from the disk it lands on and must find that disk's partitions.
func (l layout) fstab() string {
	return fmt.Sprintf(`# Stoa room: read-only root (A or B, from the kernel command line).
PARTLABEL=%s  /data  ext4  noatime,x-systemd.growfs  0 2
PARTLABEL=%s  /efi   vfat  umask=0077,noatime,nofail  0 0
/data/log  /var/log  none  bind,x-systemd.requires-mounts-for=/data  0 0
tmpfs  /tmp              tmpfs  mode=1777,nosuid,nodev  0 0
tmpfs  /var/tmp          tmpfs  mode=1777,nosuid,nodev  0 0
tmpfs  /var/lib/systemd  tmpfs  mode=0755,nosuid,nodev  0 0
`, l.Data.Name, l.ESP.Name)
}

// createDisk creates path at the full size (sparse) with the partition table.
func createDisk(ctx context.Context, path string, l layout) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create image: %w", err)
	}
	if err := f.Truncate(l.Total); err != nil {
		f.Close()
		return fmt.Errorf("size image: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create image: %w", err)
	}
	cmd := exec.CommandContext(ctx, "sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", path)
	cmd.Stdin = strings.NewReader(l.sfdiskScript())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sfdisk: %w: %s", err, out)
	}
	return nil
}
