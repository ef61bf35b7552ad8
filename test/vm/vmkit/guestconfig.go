package vmkit

// GuestConfig is what test/vm's guest init reads from /stoa-vm.json: the modules to load, in
// order, and the test binaries to run. The host writes it into the initramfs.
type GuestConfig struct {
	Modules []GuestModule `json:"modules"`
	Mounts  []GuestMount  `json:"mounts"` // mounted after the modules (configfs needs its module)
	Tests   []GuestTest   `json:"tests"`
	Env     []string      `json:"env"` // KEY=VALUE for every test
}

// GuestModule is one module file in the guest and its parameters.
type GuestModule struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Params string `json:"params,omitempty"`
}

// GuestMount is one filesystem mount.
type GuestMount struct {
	FSType string `json:"fstype"`
	Target string `json:"target"`
}

// GuestTest is one test binary: run as Path Args... in Dir (the package folder, holding its
// testdata) as root.
type GuestTest struct {
	Name string   `json:"name"`
	Path string   `json:"path"`
	Dir  string   `json:"dir"`
	Args []string `json:"args"`
}

// Lines the guest init prints on the console; the host parses them.
const (
	MarkBooted     = "STOA-VM BOOTED"      // STOA-VM BOOTED <seconds since kernel start>
	MarkModuleFail = "STOA-VM MODULE-FAIL" // STOA-VM MODULE-FAIL <name> <error>
	MarkModules    = "STOA-VM MODULES"     // STOA-VM MODULES <count> <duration>
	MarkStart      = "STOA-VM START"       // STOA-VM START <name>
	MarkResult     = "STOA-VM RESULT"      // STOA-VM RESULT <name> ok|FAIL <exit code> <duration>
	MarkDone       = "STOA-VM DONE"        // STOA-VM DONE <failed binaries>
	MarkScreendump = "STOA-VM SCREENDUMP"  // STOA-VM SCREENDUMP <checker name> (printed by tests)
)
