//go:build !linux || !cgo

package main

import "github.com/stoa-rooms/stoa/board"

// addLinux: without cgo (or off Linux) roomd runs only the sim board.
func addLinux(board.Registry) {}
