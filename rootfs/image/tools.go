package image

import (
	"fmt"
	"os/exec"
	"strings"
)

// hostTools are the programs a build runs, with the Debian package that carries each.
var hostTools = []struct{ cmd, pkg string }{
	{"mmdebstrap", "mmdebstrap"},
	{"tar", "tar"},
	{"mkfs.ext4", "e2fsprogs"},
	{"mkfs.vfat", "dosfstools"},
	{"mcopy", "mtools"},
	{"mmd", "mtools"},
	{"sfdisk", "fdisk"},
	{"zstd", "zstd"},
	{"go", "golang (Go 1.26 in /usr/local/go)"},
}

// CheckHostTools names every missing tool and says how to get it.
func CheckHostTools() error {
	var missing []string
	for _, t := range hostTools {
		if _, err := exec.LookPath(t.cmd); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.cmd, t.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing host tools: %s; `make deps` installs them", strings.Join(missing, ", "))
	}
	return nil
}
