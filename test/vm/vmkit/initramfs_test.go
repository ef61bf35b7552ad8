package vmkit

import (
	"strings"
	"testing"
)

func TestGuestPath(t *testing.T) {
	tests := map[string]string{
		"/lib/x86_64-linux-gnu/libc.so.6": "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/lib64/ld-linux-x86-64.so.2":     "/usr/lib64/ld-linux-x86-64.so.2",
		"/sbin/init":                      "/usr/bin/init",
		"/usr/share/alsa/alsa.conf":       "/usr/share/alsa/alsa.conf",
		"tests/x":                         "/tests/x",
		"/library/x":                      "/library/x",
	}
	for in, want := range tests {
		if got := guestPath(in); got != want {
			t.Errorf("guestPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLdd(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibasound.so.2 => /lib/x86_64-linux-gnu/libasound.so.2 (0x00007f3)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f2)\n"
	libs, err := parseLdd(out)
	want := []string{"/lib/x86_64-linux-gnu/libasound.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if err != nil || strings.Join(libs, " ") != strings.Join(want, " ") {
		t.Fatalf("parseLdd = %q, %v; want %q", libs, err, want)
	}
	if _, err := parseLdd("\tlibvpx.so.7 => not found\n"); err == nil || !strings.Contains(err.Error(), "libvpx") {
		t.Fatalf("missing library: err = %v, want one naming libvpx", err)
	}
}
