package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

func TestLayout(t *testing.T) {
	l := newLayout(256, 1024, 64)
	parts := []part{l.ESP, l.RootA, l.RootB, l.Data}
	for i, p := range parts {
		if p.Start%mib != 0 || p.Size%mib != 0 {
			t.Errorf("%s not MiB aligned: %d+%d", p.Name, p.Start, p.Size)
		}
		if i > 0 && p.Start != parts[i-1].Start+parts[i-1].Size {
			t.Errorf("%s does not follow %s", p.Name, parts[i-1].Name)
		}
	}
	if l.Data.Start+l.Data.Size+mib != l.Total {
		t.Errorf("data is not last before the backup GPT")
	}
	if l.RootA.UUID == l.RootB.UUID {
		t.Errorf("slots share a PARTUUID")
	}
	// sfdisk on a real file accepts the script and reads back the same table.
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := createDisk(context.Background(), img, l); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sfdisk", "--dump", img).Output()
	if err != nil {
		t.Fatalf("sfdisk --dump: %v", err)
	}
	for _, p := range parts {
		if !strings.Contains(strings.ToLower(string(out)), strings.ToLower(p.UUID)) || !strings.Contains(string(out), `name="`+p.Name+`"`) {
			t.Errorf("partition %s missing from table:\n%s", p.Name, out)
		}
	}
	fstab := l.fstab()
	for _, want := range []string{"PARTLABEL=data  /data", "PARTLABEL=boot  /efi", "x-systemd.growfs", "/var/log  none  bind", "tmpfs  /tmp"} {
		if !strings.Contains(fstab, want) {
			t.Errorf("fstab lacks %q:\n%s", want, fstab)
		}
	}
	if c := update.EntryText("a", 1, "v1", l.RootA.UUID, bootArgs(boards["qemu-x86_64"])); !strings.Contains(c, "options root=PARTUUID="+l.RootA.UUID+" stoa.slot=a ro ") {
		t.Errorf("entry %q does not mount slot A read-only", c)
	}
}

func TestLockRoot(t *testing.T) {
	tests := []struct{ name, in, want, err string }{
		{"star", "root:*:20000:0:99999:7:::\nbin:*:1::::::\n", "root:!*:20000:0:99999:7:::\nbin:*:1::::::\n", ""},
		{"hash", "root:$y$abc:1::::::\n", "root:!*:1::::::\n", ""},
		{"no root", "bin:*:1::::::\n", "", "no root entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "shadow")
			os.WriteFile(p, []byte(tc.in), 0o640)
			err := lockRoot(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			got, _ := os.ReadFile(p)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckLibs(t *testing.T) {
	root := t.TempDir()
	bin, err := os.Executable() // a cgo-free test binary needs no libraries, or only libc
	if err != nil {
		t.Fatal(err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	// /bin/sh needs libc.so.6: missing from an empty root, present once it is there.
	if err := checkLibs(root, sh); err == nil || !strings.Contains(err.Error(), "libc.so.6") {
		t.Fatalf("empty root: err = %v, want it to name libc.so.6", err)
	}
	os.MkdirAll(filepath.Join(root, "usr/lib/x86_64-linux-gnu"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libc.so.6"), nil, 0o644)
	if err := checkLibs(root, sh); err != nil {
		t.Fatalf("with libc: %v", err)
	}
	if err := checkLibs(root, bin); err != nil {
		t.Fatalf("test binary: %v", err)
	}
}

func TestLookupBoard(t *testing.T) {
	if _, err := LookupBoard("qemu-x86_64"); err != nil {
		t.Fatal(err)
	}
	if _, err := LookupBoard("toaster"); err == nil || !strings.Contains(err.Error(), "qemu-x86_64") {
		t.Fatalf("unknown board: %v", err)
	}
}

func TestCheckHostToolsNamesMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := CheckHostTools()
	if err == nil || !strings.Contains(err.Error(), "mmdebstrap") || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("err = %v", err)
	}
}

func TestOverlayIntoHardLinkedTree(t *testing.T) {
	base, root := t.TempDir(), filepath.Join(t.TempDir(), "root")
	os.MkdirAll(filepath.Join(base, "etc/systemd"), 0o755)
	orig := []byte("# from the base\n")
	os.WriteFile(filepath.Join(base, "etc/fstab"), orig, 0o644)
	if err := linkTree(context.Background(), base, root); err != nil {
		t.Fatal(err)
	}
	if err := replaceFile(filepath.Join(root, "etc/fstab"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := copyOverlay(root, "qemu-x86_64"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(base, "etc/fstab")); string(got) != string(orig) {
		t.Fatalf("cached base changed through a hard link: %q", got)
	}
	for _, f := range []string{"usr/lib/systemd/system/stoa-config.service", "etc/modules-load.d/stoa-qemu.conf"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("overlay file %s: %v", f, err)
		}
	}
}

func TestUpdateSums(t *testing.T) {
	dir := t.TempDir()
	sums := filepath.Join(dir, "SHA256SUMS")
	for _, f := range []string{"a.img", "b.img"} {
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	hex := func(c byte) string { return strings.Repeat(string(c), 64) }
	if err := updateSums(sums, map[string]string{filepath.Join(dir, "a.img"): hex('1'), filepath.Join(dir, "b.img"): hex('2')}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "b.img"))
	os.WriteFile(filepath.Join(dir, "c.img"), nil, 0o644)
	if err := updateSums(sums, map[string]string{filepath.Join(dir, "c.img"): hex('3')}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(sums)
	if want := hex('1') + "  a.img\n" + hex('3') + "  c.img\n"; string(got) != want {
		t.Fatalf("SHA256SUMS:\n%s\nwant:\n%s", got, want)
	}
}
