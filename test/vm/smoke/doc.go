// Package smoke holds the guest sanity checks of test/vm: its tests (build tag hw) run inside the
// QEMU guest and prove the initramfs loaded every kernel module the board/linux tests rely on
// (vivid, snd-aloop, gpio-sim through configfs, i2c-stub, uinput, bochs DRM, cec) and that the
// screendump checkpoint works end to end.
package smoke
