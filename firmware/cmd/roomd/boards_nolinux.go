package main

import "github.com/stoa-rooms/stoa/board"

// addLinux registers the linux driver once board/linux has its Open.
func addLinux(board.Registry) {}
