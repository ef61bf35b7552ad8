//go:build linux && cgo

package main

import (
	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/linux"
)

// addLinux registers the kernel-device driver (its ALSA binding is cgo).
func addLinux(r board.Registry) { r["linux"] = linux.Open }
