package linux

import (
	"encoding/binary"
	"fmt"
	"image"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FBDevDisplay is the fallback for boards without KMS: a Linux framebuffer, drawn into
// directly (no page flip, so a picture can tear; fbdev offers nothing better portably).
type FBDevDisplay struct {
	fd            int
	path          string
	mem           []byte
	width, height int
	stride, bpp   int
	r, g, b       fbBitfield
}

// Kernel layouts of struct fb_var_screeninfo and fb_fix_screeninfo (include/uapi/linux/fb.h).
type fbBitfield struct{ Offset, Length, MSBRight uint32 }

type fbVarScreeninfo struct {
	XRes, YRes, XResVirtual, YResVirtual, XOffset, YOffset, BitsPerPixel, Grayscale uint32
	Red, Green, Blue, Transp                                                        fbBitfield
	Nonstd, Activate, Height, Width, AccelFlags                                     uint32
	Pixclock, LeftMargin, RightMargin, UpperMargin, LowerMargin, HSyncLen, VSyncLen uint32
	Sync, VMode, Rotate, Colorspace                                                 uint32
	Reserved                                                                        [4]uint32
}

type fbFixScreeninfo struct {
	ID                             [16]byte
	SMemStart                      uint64
	SMemLen, Type, TypeAux, Visual uint32
	XPanStep, YPanStep, YWrapStep  uint16
	_                              uint16
	LineLength                     uint32
	MMIOStart                      uint64
	MMIOLen, Accel                 uint32
	Capabilities                   uint16
	Reserved                       [2]uint16
}

const (
	fbioGetVScreeninfo = 0x4600
	fbioGetFScreeninfo = 0x4602
)

// OpenFBDev maps the framebuffer device (e.g. /dev/fb0) in its current mode.
func OpenFBDev(path string) (*FBDevDisplay, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open framebuffer %s: %w", path, err)
	}
	var v fbVarScreeninfo
	var f fbFixScreeninfo
	if err := ioctl(fd, fbioGetVScreeninfo, unsafe.Pointer(&v), "get var screeninfo"); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open framebuffer %s: %w", path, err)
	}
	if err := ioctl(fd, fbioGetFScreeninfo, unsafe.Pointer(&f), "get fix screeninfo"); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open framebuffer %s: %w", path, err)
	}
	if v.BitsPerPixel != 32 && v.BitsPerPixel != 16 {
		unix.Close(fd)
		return nil, fmt.Errorf("open framebuffer %s: %d bits per pixel is not supported (16 or 32)", path, v.BitsPerPixel)
	}
	mem, err := unix.Mmap(fd, 0, int(f.SMemLen), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open framebuffer %s: mmap: %w", path, err)
	}
	return &FBDevDisplay{fd: fd, path: path, mem: mem, width: int(v.XRes), height: int(v.YRes),
		stride: int(f.LineLength), bpp: int(v.BitsPerPixel), r: v.Red, g: v.Green, b: v.Blue}, nil
}

func (d *FBDevDisplay) Size() (int, int) { return d.width, d.height }

// Draw writes img into the framebuffer in its pixel layout.
func (d *FBDevDisplay) Draw(img *image.RGBA) error {
	if img == nil || img.Rect.Dx() != d.width || img.Rect.Dy() != d.height {
		return fmt.Errorf("draw on %s: picture is not %dx%d", d.path, d.width, d.height)
	}
	drawFB(d.mem, d.stride, d.bpp, d.r, d.g, d.b, img)
	return nil
}

// drawFB packs each pixel by the framebuffer's bitfields (the top bits of each channel).
func drawFB(mem []byte, stride, bpp int, r, g, b fbBitfield, img *image.RGBA) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	bytesPP := bpp / 8
	pack := func(v uint8, f fbBitfield) uint32 { return uint32(v) >> (8 - min(f.Length, 8)) << f.Offset }
	for y := range h {
		if y*stride+w*bytesPP > len(mem) {
			return
		}
		o := img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y)
		src := img.Pix[o : o+w*4]
		row := mem[y*stride : y*stride+w*bytesPP]
		for x := range w {
			p := pack(src[4*x], r) | pack(src[4*x+1], g) | pack(src[4*x+2], b)
			if bytesPP == 4 {
				binary.LittleEndian.PutUint32(row[4*x:], p)
			} else {
				binary.LittleEndian.PutUint16(row[2*x:], uint16(p))
			}
		}
	}
}

func (d *FBDevDisplay) Close() error {
	_ = unix.Munmap(d.mem)
	if err := unix.Close(d.fd); err != nil {
		return fmt.Errorf("close framebuffer %s: %w", d.path, err)
	}
	return nil
}
