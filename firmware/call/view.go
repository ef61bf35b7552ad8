package call

import "github.com/stoa-rooms/stoa/firmware/screen"

// CallView and Tile are what the call hands the screen: firmware/screen's types, so a
// *screen.Renderer is a Screen as it is.
type (
	CallView = screen.CallView
	Tile     = screen.Tile
)

// The screen renderer draws calls.
var _ Screen = (*screen.Renderer)(nil)
