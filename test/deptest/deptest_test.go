// Package deptest enforces ARCHITECTURE.md's import rules, layered from the device down, the way
// tailscale's deptest does: firmware may use board, provisioning and services/api only; services
// never import firmware or board; board and provisioning import neither firmware nor services.
package deptest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/stoa-rooms/stoa/"

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	area := func(p string) string {
		rest := strings.TrimPrefix(p, mod)
		if rest == p {
			return "" // outside the module
		}
		if strings.HasPrefix(rest, "services/api") {
			return "services/api"
		}
		return strings.SplitN(rest, "/", 2)[0]
	}
	forbidden := map[string][]string{
		"firmware":     {"services", "test"},
		"services":     {"firmware", "board", "test"},
		"services/api": {"firmware", "board", "services", "test"},
		"board":        {"firmware", "services", "services/api", "provisioning", "test"},
		"provisioning": {"firmware", "services", "services/api", "board", "test"},
		"rootfs":       {"firmware", "services", "services/api", "board", "provisioning", "test"},
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		from := area(f[0])
		for _, imp := range f[1:] {
			to := area(imp)
			if to == "" || to == from {
				continue
			}
			checked++
			for _, bad := range forbidden[from] {
				if to == bad {
					t.Errorf("%s imports %s: %s may not import %s (ARCHITECTURE.md, import rules)", f[0], imp, from, bad)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no cross-area imports found: go list output was not understood")
	}
}
