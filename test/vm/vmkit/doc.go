// Package vmkit boots throwaway QEMU guests for driver and hardware-in-the-loop tests: it fetches a
// Debian kernel and its modules into a cache (FetchKernel), builds the gpio-sim module Debian does
// not ship (BuildGPIOSim), resolves module dependencies (ResolveModules), writes newc initramfs
// archives (CPIO, Initramfs), starts QEMU (Start) and talks to it over QMP (QMP: screendump,
// input-send-event, quit) while watching the serial console line by line (Console).
//
// test/vm uses it to run the board/linux kernel-device tests; test/hil may reuse it for its full
// image boot (trixie's kernel: every kernel-specific value is a parameter, nothing is hard-coded).
package vmkit
