package vmkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// linkWithNote links a tiny static ELF executable, with a PVH entry note (owner "Xen", type 18)
// when pvh is set, as a stand-in for a kernel.
func linkWithNote(t *testing.T, pvh bool) []byte {
	t.Helper()
	src := "void _start(void) { for (;;); }\n"
	if pvh {
		src += `struct note { unsigned namesz, descsz, type; char name[4]; unsigned desc; };
__attribute__((section(".note.Xen"), used, aligned(4)))
static const struct note pvh = { 4, 4, 18, "Xen", 0x1000000 };
`
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "k.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "k")
	if b, err := exec.Command("gcc", "-nostdlib", "-static", "-o", out, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExtractVmlinuxAndPVH(t *testing.T) {
	tests := []struct {
		name string
		pvh  bool
	}{{"with PVH note", true}, {"without", false}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			elfKernel := linkWithNote(t, tc.pvh)
			// A bzImage: setup code, then the compressed kernel (gzip here), then trailing data.
			var bz bytes.Buffer
			bz.WriteString("setup code \x1f\x8b\x08 false magic ")
			zw := gzip.NewWriter(&bz)
			zw.Write(elfKernel)
			zw.Close()
			bz.WriteString("trailer")
			got, err := extractVmlinux(context.Background(), bz.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, elfKernel) {
				t.Fatalf("extracted %d bytes, want the %d-byte ELF", len(got), len(elfKernel))
			}
			if hasPVHNote(got) != tc.pvh {
				t.Errorf("hasPVHNote = %v, want %v", !tc.pvh, tc.pvh)
			}
		})
	}
	if _, err := extractVmlinux(context.Background(), []byte("no kernel in here")); err == nil {
		t.Error("extractVmlinux found a kernel in garbage")
	}
}

func FuzzHasPVHNote(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		hasPVHNote(b) // must not panic on any input
	})
}
