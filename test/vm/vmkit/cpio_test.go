package vmkit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCPIOUnpacks writes an archive and unpacks it with GNU cpio, the reference reader of newc.
func TestCPIOUnpacks(t *testing.T) {
	var buf bytes.Buffer
	c := NewCPIO(&buf)
	steps := []struct {
		name string
		do   func() error
	}{
		{"file with parents", func() error { return c.Bytes("a/b/c.txt", 0o644, []byte("hello")) }},
		{"odd-sized file", func() error { return c.Bytes("odd", 0o755, []byte("123")) }},
		{"empty file", func() error { return c.Bytes("empty", 0o600, nil) }},
		{"symlink", func() error { return c.Symlink("link", "a/b/c.txt") }},
		{"dir again", func() error { return c.Dir("a/b", 0o755) }},
		{"close", c.Close},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if err := c.Bytes("odd", 0o644, nil); err == nil {
		t.Error("adding a file twice succeeded, want an error")
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive is %d bytes, want 4-byte aligned", buf.Len())
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-id", "--quiet", "--no-absolute-filenames")
	cmd.Dir = dir
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v: %s", err, out)
	}
	files := []struct{ path, content string }{
		{"a/b/c.txt", "hello"}, {"odd", "123"}, {"empty", ""}, {"link", "hello"},
	}
	for _, f := range files {
		t.Run(f.path, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, f.path))
			if err != nil || string(b) != f.content {
				t.Fatalf("%s = %q, %v; want %q", f.path, b, err, f.content)
			}
		})
	}
	if st, err := os.Stat(filepath.Join(dir, "odd")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("odd mode = %v, %v; want 0755", st.Mode(), err)
	}
}
