// Package vm runs the kernel-device tests (files with //go:build hw, e.g. board/linux's) inside a
// throwaway QEMU guest: Debian's stock kernel for this host, a tiny initramfs whose Go init loads
// vivid, snd-aloop, gpio-sim (built out of tree), i2c-stub, uinput, bochs DRM and cec, runs the
// compiled test binaries as root and reports over the serial console. TestDrivers does it all
// inside `go test ./test/vm` (so `make test` runs it); see vmkit for the reusable parts.
package vm
