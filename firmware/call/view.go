package call

import "image"

// CallView and Tile are firmware/screen's call view (the contract of issue 5), declared here
// until that package lands; they become aliases of screen.CallView and screen.Tile then.
type CallView struct {
	Meeting string
	Layout  string // "speaker" | "grid"
	Tiles   []Tile
	Self    *Tile
	Banner  string
}

// Tile is one participant on screen; Picture nil means no video.
type Tile struct {
	ID, Name                        string
	Picture                         *image.YCbCr
	MicMuted, CameraMuted, Speaking bool
}
