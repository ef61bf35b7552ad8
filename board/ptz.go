package board

import "context"

// Position is a pan/tilt/zoom camera position in the camera's own units (VISCA: signed pan and
// tilt steps, zoom 0 = wide up to the camera's tele maximum).
type Position struct {
	Pan  int `json:"pan"`
	Tilt int `json:"tilt"`
	Zoom int `json:"zoom"`
}

// PTZ is a pan/tilt/zoom camera's motion control (board/visca over a serial port). Every call
// returns once the camera has completed the command, or with an error naming the command.
type PTZ interface {
	// PanTilt drives the head: signed speeds (negative = left/down), 0 stops that axis; both 0
	// stops the head.
	PanTilt(ctx context.Context, panSpeed, tiltSpeed int) error
	// Zoom drives the zoom: positive = tele, negative = wide, 0 = stop.
	Zoom(ctx context.Context, speed int) error
	// Goto moves to an absolute position.
	Goto(ctx context.Context, pos Position) error
	// Position asks the camera where it is.
	Position(ctx context.Context) (Position, error)
	// PresetStore stores the current position as preset n; PresetRecall moves to it.
	PresetStore(ctx context.Context, n int) error
	PresetRecall(ctx context.Context, n int) error
	// Power switches the camera on or to standby.
	Power(ctx context.Context, on bool) error
}
