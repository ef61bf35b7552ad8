package pairing

import (
	"os/exec"
	"strings"
	"testing"
)

// The pairing code runs on the room before it trusts anything, so its dependency set is kept
// small and reviewed: the standard library, golang.org/x/crypto, the ristretto255 group and
// other provisioning packages.
func TestDependencies(t *testing.T) {
	allowed := []string{
		"github.com/stoa-rooms/stoa/provisioning/",
		"github.com/gtank/ristretto255",
		"golang.org/x/crypto/",
	}
	pkgs := []string{"github.com/stoa-rooms/stoa/provisioning/pairing", "github.com/stoa-rooms/stoa/provisioning/pake"}
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 3 {
		t.Fatalf("go list found only %v: output not understood", deps)
	}
	for _, d := range deps {
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(d, a)
		}
		if !ok {
			t.Errorf("%s is not an allowed dependency of the pairing packages", d)
		}
	}
}
