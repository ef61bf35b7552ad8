package linux

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/stoa-rooms/stoa/board"
)

// The converters turn one captured buffer into a board.Frame (I420, BT.601 limited range).
// Cameras hand us YUYV, NV12 or MJPEG; the rest of the firmware only knows I420, so every
// format ends here. They check the buffer's length first: a short buffer (a camera unplugged
// mid-transfer, a corrupt MJPEG) is an error, never a read out of bounds.

var errShortBuffer = errors.New("buffer shorter than the frame")

// allocFrame sizes f's planes for w×h, reusing its slices when they are large enough.
func allocFrame(f *board.Frame, w, h int) {
	f.Width, f.Height = w, h
	ys, cs := w*h, (w/2)*(h/2)
	if cap(f.Y) < ys {
		f.Y = make([]byte, ys)
	}
	if cap(f.Cb) < cs {
		f.Cb = make([]byte, cs)
		f.Cr = make([]byte, cs)
	}
	f.Y, f.Cb, f.Cr = f.Y[:ys], f.Cb[:cs], f.Cr[:cs]
}

// need reports whether a buffer of n bytes holds rows lines of rowBytes at stride.
func need(n, stride, rowBytes, rows int) error {
	if rows <= 0 || rowBytes > stride {
		return fmt.Errorf("stride %d is smaller than a row of %d bytes", stride, rowBytes)
	}
	if n < stride*(rows-1)+rowBytes {
		return fmt.Errorf("%w: %d bytes, want %d", errShortBuffer, n, stride*(rows-1)+rowBytes)
	}
	return nil
}

// yuyvToI420 converts packed 4:2:2 (Y0 U Y1 V) to I420, averaging the chroma of each row pair.
func yuyvToI420(dst *board.Frame, src []byte, w, h, stride int) error {
	if w%2 != 0 || h%2 != 0 || w <= 0 || h <= 0 {
		return fmt.Errorf("yuyv: odd or empty size %dx%d", w, h)
	}
	if err := need(len(src), stride, w*2, h); err != nil {
		return fmt.Errorf("yuyv: %w", err)
	}
	allocFrame(dst, w, h)
	cw := w / 2
	for y := 0; y < h; y += 2 {
		r0 := src[y*stride : y*stride+w*2]
		r1 := src[(y+1)*stride : (y+1)*stride+w*2]
		y0 := dst.Y[y*w : y*w+w]
		y1 := dst.Y[(y+1)*w : (y+1)*w+w]
		cb := dst.Cb[(y/2)*cw : (y/2)*cw+cw]
		cr := dst.Cr[(y/2)*cw : (y/2)*cw+cw]
		for x := 0; x < cw; x++ {
			p0 := r0[x*4 : x*4+4 : x*4+4]
			p1 := r1[x*4 : x*4+4 : x*4+4]
			y0[2*x], y0[2*x+1] = p0[0], p0[2]
			y1[2*x], y1[2*x+1] = p1[0], p1[2]
			cb[x] = byte((uint16(p0[1]) + uint16(p1[1]) + 1) >> 1)
			cr[x] = byte((uint16(p0[3]) + uint16(p1[3]) + 1) >> 1)
		}
	}
	return nil
}

// nv12ToI420 converts semi-planar 4:2:0 (Y plane, then interleaved CbCr at the same stride).
func nv12ToI420(dst *board.Frame, src []byte, w, h, stride int) error {
	if w%2 != 0 || h%2 != 0 || w <= 0 || h <= 0 {
		return fmt.Errorf("nv12: odd or empty size %dx%d", w, h)
	}
	// The chroma plane starts right after h lines of luma and has h/2 lines.
	if err := need(len(src), stride, w, h+h/2); err != nil {
		return fmt.Errorf("nv12: %w", err)
	}
	allocFrame(dst, w, h)
	for y := 0; y < h; y++ {
		copy(dst.Y[y*w:y*w+w], src[y*stride:y*stride+w])
	}
	cw := w / 2
	base := h * stride
	for y := 0; y < h/2; y++ {
		row := src[base+y*stride : base+y*stride+w]
		cb := dst.Cb[y*cw : y*cw+cw]
		cr := dst.Cr[y*cw : y*cw+cw]
		for x := range cw {
			cb[x], cr[x] = row[2*x], row[2*x+1]
		}
	}
	return nil
}

// JPEG (JFIF) is full range; board.Frame is limited range. These tables map one to the other.
var lumaFull2Limited, chromaFull2Limited = func() (l, c [256]byte) {
	for i := range 256 {
		l[i] = byte(16 + (i*219+127)/255)
		c[i] = byte(128 + ((i-128)*224+sign(i-128)*127)/255)
	}
	return
}()

func sign(v int) int {
	if v < 0 {
		return -1
	}
	return 1
}

// mjpegToI420 decodes one MJPEG frame (adding the standard Huffman tables UVC cameras leave
// out) and converts it to limited-range I420 of the same size.
func mjpegToI420(dst *board.Frame, src []byte, w, h int) error {
	img, err := jpeg.Decode(bytes.NewReader(withDefaultHuffman(src)))
	if err != nil {
		return fmt.Errorf("mjpeg: decode: %w", err)
	}
	ycc, ok := img.(*image.YCbCr)
	if !ok {
		if g, isGray := img.(*image.Gray); isGray {
			return grayToI420(dst, g, w, h)
		}
		return fmt.Errorf("mjpeg: unexpected picture type %T", img)
	}
	b := ycc.Rect
	if b.Dx() != w || b.Dy() != h {
		return fmt.Errorf("mjpeg: picture is %dx%d, stream is %dx%d", b.Dx(), b.Dy(), w, h)
	}
	allocFrame(dst, w, h)
	for y := 0; y < h; y++ {
		srow := ycc.Y[y*ycc.YStride : y*ycc.YStride+w]
		drow := dst.Y[y*w : y*w+w]
		for x, v := range srow {
			drow[x] = lumaFull2Limited[v]
		}
	}
	// Chroma: sample the source planes at each I420 chroma position, averaging where the
	// source has more chroma rows or columns than 4:2:0.
	cw, ch := w/2, h/2
	var vdiv, hdiv int // source chroma samples per I420 chroma sample, vertically/horizontally
	switch ycc.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		vdiv, hdiv = 1, 1
	case image.YCbCrSubsampleRatio422:
		vdiv, hdiv = 2, 1
	case image.YCbCrSubsampleRatio444:
		vdiv, hdiv = 2, 2
	case image.YCbCrSubsampleRatio440:
		vdiv, hdiv = 1, 2
	default:
		return fmt.Errorf("mjpeg: unsupported chroma subsampling %v", ycc.SubsampleRatio)
	}
	for y := range ch {
		cb := dst.Cb[y*cw : y*cw+cw]
		cr := dst.Cr[y*cw : y*cw+cw]
		r0 := y * vdiv * ycc.CStride
		r1 := r0 + (vdiv-1)*ycc.CStride
		for x := range cw {
			i0, i1 := r0+x*hdiv, r1+x*hdiv
			j0, j1 := i0+hdiv-1, i1+hdiv-1
			sb := int(ycc.Cb[i0]) + int(ycc.Cb[i1]) + int(ycc.Cb[j0]) + int(ycc.Cb[j1])
			sr := int(ycc.Cr[i0]) + int(ycc.Cr[i1]) + int(ycc.Cr[j0]) + int(ycc.Cr[j1])
			cb[x] = chromaFull2Limited[(sb+2)>>2]
			cr[x] = chromaFull2Limited[(sr+2)>>2]
		}
	}
	return nil
}

func grayToI420(dst *board.Frame, g *image.Gray, w, h int) error {
	if g.Rect.Dx() != w || g.Rect.Dy() != h {
		return fmt.Errorf("mjpeg: picture is %dx%d, stream is %dx%d", g.Rect.Dx(), g.Rect.Dy(), w, h)
	}
	allocFrame(dst, w, h)
	for y := range h {
		for x, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			dst.Y[y*w+x] = lumaFull2Limited[v]
		}
	}
	for i := range dst.Cb {
		dst.Cb[i], dst.Cr[i] = 128, 128
	}
	return nil
}
