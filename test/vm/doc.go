// Package vm runs the kernel-device tests (files with //go:build hw, e.g. board/linux's) inside a
// throwaway QEMU guest: Debian's stock kernel for this host, a tiny initramfs whose Go init loads
// vivid, snd-aloop, gpio-sim (built out of tree), i2c-stub, uinput, bochs DRM and cec, runs the
// compiled test binaries as root and reports over the serial console. TestDrivers does it all
// inside `go test ./test/vm` (so `make test` runs it); see vmkit for the reusable parts.
//
// A guest test that wants the screen checked prints `STOA-VM SCREENDUMP <checker>` and holds the
// picture 4 s; the host takes a QMP screendump and runs the checker (checkers_test.go).
//
// Environment:
//   - STOA_VM_PKGS="./board/linux": run only these packages (hw-tagged or not), for a quick loop;
//   - STOA_VM_ARGS="-test.run=TestCamera": more flags for the guest test binaries;
//   - STOA_VM_APPEND="loglevel=7": more kernel arguments;
//   - STOA_ARTIFACTS=dir: keep console.log and the screendumps in dir/test-vm (else a temp dir).
//
// The first run downloads Debian's kernel packages (about 225 MB) and builds gpio-sim; the
// result is cached in os.UserCacheDir()/stoa-vm/<release> (about 465 MB).
package vm
