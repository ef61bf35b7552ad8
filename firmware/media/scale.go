package media

import (
	"fmt"
	"image"

	"github.com/stoa-rooms/stoa/board"
)

// NewFrame allocates an I420 frame of w x h (both even).
func NewFrame(w, h int) *board.Frame {
	cs := (w / 2) * (h / 2)
	buf := make([]byte, w*h+2*cs)
	return &board.Frame{Width: w, Height: h, Y: buf[: w*h : w*h], Cb: buf[w*h : w*h+cs : w*h+cs], Cr: buf[w*h+cs:]}
}

// ScaleI420 scales src into dst (dst.Width and dst.Height say the size; its planes are
// allocated when missing or short) and carries Seq and Captured over. It is what makes the
// simulcast layers out of one captured frame: an exact halving averages 2x2 boxes, any other
// ratio is bilinear in 16.16 fixed point.
func ScaleI420(dst, src *board.Frame) error {
	if err := checkFrame(src, src.Width, src.Height); err != nil {
		return fmt.Errorf("scale i420: source: %w", err)
	}
	w, h := dst.Width, dst.Height
	if w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("scale i420: destination size %dx%d must be positive and even", w, h)
	}
	cs := (w / 2) * (h / 2)
	if len(dst.Y) < w*h || len(dst.Cb) < cs || len(dst.Cr) < cs {
		n := NewFrame(w, h)
		dst.Y, dst.Cb, dst.Cr = n.Y, n.Cb, n.Cr
	}
	dst.Seq, dst.Captured = src.Seq, src.Captured
	sw, sh := src.Width, src.Height
	scalePlane(dst.Y, w, w, h, src.Y, sw, sw, sh)
	scalePlane(dst.Cb, w/2, w/2, h/2, src.Cb, sw/2, sw/2, sh/2)
	scalePlane(dst.Cr, w/2, w/2, h/2, src.Cr, sw/2, sw/2, sh/2)
	return nil
}

func scalePlane(dst []byte, dstStride, dw, dh int, src []byte, srcStride, sw, sh int) {
	switch {
	case dw == sw && dh == sh:
		for y := 0; y < dh; y++ {
			copy(dst[y*dstStride:y*dstStride+dw], src[y*srcStride:y*srcStride+sw])
		}
	case dw*2 == sw && dh*2 == sh:
		halvePlane(dst, dstStride, dw, dh, src, srcStride)
	default:
		bilinearPlane(dst, dstStride, dw, dh, src, srcStride, sw, sh)
	}
}

// halvePlane averages each 2x2 box of src (rounded).
func halvePlane(dst []byte, dstStride, dw, dh int, src []byte, srcStride int) {
	for y := 0; y < dh; y++ {
		r0 := src[2*y*srcStride : 2*y*srcStride+2*dw]
		r1 := src[(2*y+1)*srcStride : (2*y+1)*srcStride+2*dw]
		d := dst[y*dstStride : y*dstStride+dw]
		for x := range d {
			d[x] = byte((uint(r0[2*x]) + uint(r0[2*x+1]) + uint(r1[2*x]) + uint(r1[2*x+1]) + 2) >> 2)
		}
	}
}

// bilinearPlane samples src at pixel centres mapped from dst, in 16.16 fixed point.
func bilinearPlane(dst []byte, dstStride, dw, dh int, src []byte, srcStride, sw, sh int) {
	const one = 1 << 16
	xStep := sw * one / dw
	yStep := sh * one / dh
	// Column positions are the same on every row: compute them once.
	xs := make([]int, dw)
	for x := range xs {
		sx := (x*xStep + xStep/2) - one/2
		xs[x] = min(max(sx, 0), (sw-1)*one)
	}
	for y := 0; y < dh; y++ {
		sy := min(max((y*yStep+yStep/2)-one/2, 0), (sh-1)*one)
		y0 := sy >> 16
		y1 := min(y0+1, sh-1)
		fy := uint(sy & (one - 1))
		r0 := src[y0*srcStride : y0*srcStride+sw]
		r1 := src[y1*srcStride : y1*srcStride+sw]
		d := dst[y*dstStride : y*dstStride+dw]
		for x, sx := range xs {
			x0 := sx >> 16
			x1 := min(x0+1, sw-1)
			fx := uint(sx & (one - 1))
			top := uint(r0[x0])*(one-fx) + uint(r0[x1])*fx
			bot := uint(r1[x0])*(one-fx) + uint(r1[x1])*fx
			d[x] = byte(((top>>8)*(one-fy) + (bot>>8)*fy + (1 << 23)) >> 24)
		}
	}
}

// I420ToYCbCr copies f into a new 4:2:0 image (f's buffers belong to the camera and change
// with the next frame).
func I420ToYCbCr(f *board.Frame) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, f.Width, f.Height), image.YCbCrSubsampleRatio420)
	copy(img.Y, f.Y[:f.Width*f.Height])
	cs := (f.Width / 2) * (f.Height / 2)
	copy(img.Cb, f.Cb[:cs])
	copy(img.Cr, f.Cr[:cs])
	return img
}

// YCbCrToI420 copies img into a new I420 frame. Odd sizes lose their last column or row;
// subsampling other than 4:2:0 is resampled by taking the nearest chroma sample.
func YCbCrToI420(img *image.YCbCr) *board.Frame {
	r := img.Rect
	w, h := r.Dx()&^1, r.Dy()&^1
	f := NewFrame(w, h)
	for y := 0; y < h; y++ {
		off := img.YOffset(r.Min.X, r.Min.Y+y)
		copy(f.Y[y*w:(y+1)*w], img.Y[off:off+w])
	}
	cw := w / 2
	for y := 0; y < h/2; y++ {
		for x := 0; x < cw; x++ {
			off := img.COffset(r.Min.X+2*x, r.Min.Y+2*y)
			f.Cb[y*cw+x] = img.Cb[off]
			f.Cr[y*cw+x] = img.Cr[off]
		}
	}
	return f
}
