package vmkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeModule compiles a relocatable ELF object with a .modinfo section, as a .ko has.
func fakeModule(t *testing.T, dir, file string, info ...string) string {
	t.Helper()
	var src strings.Builder
	for i, kv := range info {
		fmt.Fprintf(&src, "__attribute__((section(\".modinfo\"), used)) static const char m%d[] = %q;\n", i, kv)
	}
	c := filepath.Join(dir, file+".c")
	if err := os.WriteFile(c, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if out, err := exec.Command("gcc", "-c", "-o", p, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	os.Remove(c)
	return p
}

func TestResolveModules(t *testing.T) {
	tree := t.TempDir()
	sub := filepath.Join(tree, "kernel", "sound")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	fakeModule(t, sub, "soundcore.ko", "name=soundcore", "depends=")
	fakeModule(t, sub, "snd.ko", "name=snd", "depends=soundcore")
	fakeModule(t, sub, "snd-pcm.ko", "name=snd_pcm", "depends=snd")
	fakeModule(t, sub, "snd-aloop.ko", "name=snd_aloop", "depends=snd-pcm,snd")
	fakeModule(t, sub, "loop-a.ko", "name=loop_a", "depends=loop_b")
	fakeModule(t, sub, "loop-b.ko", "name=loop_b", "depends=loop_a")
	fakeModule(t, sub, "orphan.ko", "name=orphan", "depends=missing")
	extra := fakeModule(t, t.TempDir(), "gpio-sim.ko", "name=gpio_sim", "depends=soundcore", "vermagic=6.1.0-56-amd64 SMP")
	xz := fakeModule(t, sub, "packed.ko", "name=packed", "depends=snd")
	if out, err := exec.Command("xz", xz).CombinedOutput(); err != nil { // packed.ko -> packed.ko.xz
		t.Fatalf("xz: %v: %s", err, out)
	}
	idx, err := IndexModules(tree, extra)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		want    []string
		params  map[string]string
		order   string
		wantErr string
	}{
		{"deps first, once each", []string{"snd-aloop", "gpio-sim"}, map[string]string{"snd-aloop": "index=0"},
			"soundcore snd snd_pcm snd_aloop(index=0) gpio_sim", ""},
		{"xz-compressed module", []string{"packed"}, nil, "soundcore snd packed", ""},
		{"unknown module", []string{"vivid"}, nil, "", "vivid not found"},
		{"missing dependency", []string{"orphan"}, nil, "", "missing (needed by orphan) not found"},
		{"cycle", []string{"loop_a"}, nil, "", "cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mods, err := ResolveModules(ctx, idx, tc.want, tc.params)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range mods {
				s := m.Name
				if m.Params != "" {
					s += "(" + m.Params + ")"
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != tc.order {
				t.Errorf("order = %q, want %q", strings.Join(got, " "), tc.order)
			}
		})
	}
	info, err := ModInfoFile(ctx, extra)
	if err != nil || info["vermagic"] != "6.1.0-56-amd64 SMP" {
		t.Errorf("ModInfoFile = %v, %v", info, err)
	}
}

func TestModInfoRejectsNonELF(t *testing.T) {
	if _, err := ModInfo([]byte("not an elf file")); err == nil {
		t.Fatal("ModInfo accepted garbage")
	}
}

func FuzzModInfo(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("name=x\x00depends=y"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ModInfo(b)
		if err != nil && info != nil {
			t.Fatal("info and error both returned")
		}
	})
}
