package linux

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/stoa-rooms/stoa/board"
	"github.com/vladimirvivien/go4vl/v4l2"
)

// controlIDs maps board controls to V4L2 control IDs.
var controlIDs = map[board.Control]v4l2.CtrlID{
	board.ControlZoom:       v4l2.CtrlCameraZoomAbsolute,
	board.ControlPan:        v4l2.CtrlCameraPanAbsolute,
	board.ControlTilt:       v4l2.CtrlCameraTiltAbsolute,
	board.ControlFocus:      v4l2.CtrlCameraFocusAbsolute,
	board.ControlBrightness: v4l2.CtrlBrightness,
}

// ctrlFlagDisabled is V4L2_CTRL_FLAG_DISABLED: the driver lists the control but it does nothing.
const ctrlFlagDisabled = 0x0001

// cameraControls opens the camera's node for each call: V4L2 lets controls be read and set on
// a second file descriptor while another one streams, and a replugged camera is found again.
type cameraControls struct{ cam *Camera }

// with runs fn on an open descriptor of the camera after checking c exists on it.
func (cc *cameraControls) with(c board.Control, fn func(fd uintptr, id v4l2.CtrlID, info v4l2.Control) error) error {
	id, ok := controlIDs[c]
	if !ok {
		return fmt.Errorf("camera control %q: %w", c, board.ErrUnsupported)
	}
	path, err := cc.cam.Path()
	if err != nil {
		return fmt.Errorf("camera control %q: %w", c, err)
	}
	fd, err := v4l2.OpenDevice(path, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("camera control %q: open %s: %w", c, path, err)
	}
	defer v4l2.CloseDevice(fd)
	info, err := v4l2.QueryControlInfo(fd, id)
	if err != nil {
		// QUERYCTRL answers EINVAL for a control the driver does not have.
		if errors.Is(err, v4l2.ErrorBadArgument) {
			return fmt.Errorf("camera control %q on %s: %w", c, path, board.ErrUnsupported)
		}
		return fmt.Errorf("camera control %q on %s: %w", c, path, err)
	}
	if info.Flags&ctrlFlagDisabled != 0 {
		return fmt.Errorf("camera control %q on %s: disabled: %w", c, path, board.ErrUnsupported)
	}
	return fn(fd, id, info)
}

func (cc *cameraControls) Range(c board.Control) (board.ControlRange, error) {
	var r board.ControlRange
	err := cc.with(c, func(_ uintptr, _ v4l2.CtrlID, info v4l2.Control) error {
		r = board.ControlRange{Min: info.Minimum, Max: info.Maximum, Step: info.Step, Default: info.Default}
		return nil
	})
	return r, err
}

func (cc *cameraControls) Set(c board.Control, v int32) error {
	return cc.with(c, func(fd uintptr, id v4l2.CtrlID, info v4l2.Control) error {
		if v < info.Minimum || v > info.Maximum {
			return fmt.Errorf("camera control %q: %d is outside %d–%d", c, v, info.Minimum, info.Maximum)
		}
		if err := v4l2.SetControlValue(fd, id, v); err != nil {
			return fmt.Errorf("camera control %q: set %d: %w", c, v, err)
		}
		return nil
	})
}

func (cc *cameraControls) Get(c board.Control) (int32, error) {
	var v int32
	err := cc.with(c, func(fd uintptr, id v4l2.CtrlID, _ v4l2.Control) error {
		var err error
		v, err = v4l2.GetControlValue(fd, id)
		if err != nil {
			return fmt.Errorf("camera control %q: get: %w", c, err)
		}
		return nil
	})
	return v, err
}
