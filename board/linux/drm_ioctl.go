package linux

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DRM/KMS uapi (include/uapi/drm/drm.h, drm_mode.h): the structs mirror the kernel's layout
// exactly; pointer members are u64 there and carry addresses of Go slices kept alive by the
// caller across the ioctl.

type drmModeCardRes struct {
	FBIDPtr, CRTCIDPtr, ConnectorIDPtr, EncoderIDPtr     uint64
	CountFBs, CountCRTCs, CountConnectors, CountEncoders uint32
	MinWidth, MaxWidth, MinHeight, MaxHeight             uint32
}

type drmModeInfo struct {
	Clock                                         uint32
	HDisplay, HSyncStart, HSyncEnd, HTotal, HSkew uint16
	VDisplay, VSyncStart, VSyncEnd, VTotal, VScan uint16
	VRefresh, Flags, Type                         uint32
	Name                                          [32]byte
}

type drmModeGetConnector struct {
	EncodersPtr, ModesPtr, PropsPtr, PropValuesPtr         uint64
	CountModes, CountProps, CountEncoders                  uint32
	EncoderID, ConnectorID, ConnectorType, ConnectorTypeID uint32
	Connection, MMWidth, MMHeight, Subpixel, Pad           uint32
}

type drmModeGetEncoder struct {
	EncoderID, EncoderType, CRTCID, PossibleCRTCs, PossibleClones uint32
}

type drmModeCreateDumb struct {
	Height, Width, BPP, Flags, Handle, Pitch uint32
	Size                                     uint64
}

type drmModeMapDumb struct {
	Handle, Pad uint32
	Offset      uint64
}

type drmModeFBCmd struct {
	FBID, Width, Height, Pitch, BPP, Depth, Handle uint32
}

type drmModeCRTC struct {
	SetConnectorsPtr                               uint64
	CountConnectors, CRTCID, FBID, X, Y, GammaSize uint32
	ModeValid                                      uint32
	Mode                                           drmModeInfo
}

type drmModeCRTCPageFlip struct {
	CRTCID, FBID, Flags, Reserved uint32
	UserData                      uint64
}

type drmGetCap struct{ Capability, Value uint64 }

const (
	drmModeConnected      = 1
	drmModeTypePreferred  = 1 << 3
	drmModePageFlipEvent  = 0x01
	drmEventFlipComplete  = 0x02
	drmCapDumbBuffer      = 0x1
	drmIoctlBase          = 'd'
	iocWrite, iocRead     = 1, 2
	iocNRShift, iocTypeSh = 0, 8
	iocSizeShift          = 16
	iocDirShift           = 30
)

func drmIOWR(nr uintptr, size uintptr) uintptr {
	return (iocRead|iocWrite)<<iocDirShift | size<<iocSizeShift | drmIoctlBase<<iocTypeSh | nr<<iocNRShift
}

var (
	ioctlGetCap       = drmIOWR(0x0c, unsafe.Sizeof(drmGetCap{}))
	ioctlGetResources = drmIOWR(0xA0, unsafe.Sizeof(drmModeCardRes{}))
	ioctlGetCRTC      = drmIOWR(0xA1, unsafe.Sizeof(drmModeCRTC{}))
	ioctlSetCRTC      = drmIOWR(0xA2, unsafe.Sizeof(drmModeCRTC{}))
	ioctlGetEncoder   = drmIOWR(0xA6, unsafe.Sizeof(drmModeGetEncoder{}))
	ioctlGetConnector = drmIOWR(0xA7, unsafe.Sizeof(drmModeGetConnector{}))
	ioctlAddFB        = drmIOWR(0xAE, unsafe.Sizeof(drmModeFBCmd{}))
	ioctlRmFB         = drmIOWR(0xAF, unsafe.Sizeof(uint32(0)))
	ioctlPageFlip     = drmIOWR(0xB0, unsafe.Sizeof(drmModeCRTCPageFlip{}))
	ioctlCreateDumb   = drmIOWR(0xB2, unsafe.Sizeof(drmModeCreateDumb{}))
	ioctlMapDumb      = drmIOWR(0xB3, unsafe.Sizeof(drmModeMapDumb{}))
	ioctlDestroyDumb  = drmIOWR(0xB4, unsafe.Sizeof(uint32(0)))
)

// ioctl issues one ioctl, retrying on EINTR/EAGAIN as libdrm's drmIoctl does.
func ioctl(fd int, req uintptr, arg unsafe.Pointer, name string) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		switch e {
		case 0:
			return nil
		case unix.EINTR, unix.EAGAIN:
			continue
		}
		return fmt.Errorf("%s: %w", name, e)
	}
}

func ptr[T any](s []T) uint64 {
	if len(s) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&s[0])))
}
