package manager

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateSecret(t *testing.T) {
	dir := t.TempDir()
	s1, err := LoadOrCreateSecret(dir)
	mustNoErr(t, err)
	if len(s1) != secretSize {
		t.Fatalf("secret is %d bytes", len(s1))
	}
	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	mustNoErr(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	s2, err := LoadOrCreateSecret(dir)
	mustNoErr(t, err)
	if !bytes.Equal(s1, s2) {
		t.Fatal("the secret changed between loads: proxies would refuse every credential")
	}
	for name, content := range map[string]string{"not base64": "###", "too short": "YWJj"} {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			mustNoErr(t, os.WriteFile(filepath.Join(d, SecretFile), []byte(content), 0o600))
			if _, err := LoadOrCreateSecret(d); err == nil || !strings.Contains(err.Error(), "load TURN secret") {
				t.Fatalf("err = %v", err)
			}
			b, _ := os.ReadFile(filepath.Join(d, SecretFile))
			if string(b) != content {
				t.Fatal("a bad secret file was overwritten")
			}
		})
	}
}
