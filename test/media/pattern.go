// Package media makes the test media Stoa's conference tests send: VP8 video whose every frame is a
// keyframe and carries its own frame number as a block pattern, and an Opus tone. Receivers decode a
// frame with golang.org/x/image/vp8 and read the number back with ReadPattern, so a test can tell
// exactly which frames of which sender arrived, in which order and at which size.
package media

import (
	"image"
	"image/color"
)

// The pattern is a grid of big cells, each black or white, covering the top three quarters of the
// frame: 16 bits of frame number then an 8-bit CRC. Cells are tens of pixels wide even at 320x180, so
// VP8 quantisation blurs their edges but never flips the middle of a cell. The bottom quarter is
// per-frame noise so the encoder spends bits the way it would on camera video, and the three sizes
// get different bitrates (what a simulcast router sees).
const (
	gridCols  = 6
	gridRows  = 4
	dataBits  = 16
	crcBits   = 8
	lumaBlack = 16  // video-range black
	lumaWhite = 235 // video-range white
	// A cell reads as a bit only when its mean luma is clearly on one side; anything in between is
	// not our pattern (or was damaged) and ReadPattern says so instead of guessing.
	lumaLowMax  = 80
	lumaHighMin = 176
	// MaxFrame is the largest frame number the pattern can carry.
	MaxFrame = 1<<dataBits - 1
)

// crc8 is CRC-8/ATM's polynomial (x^8+x^2+x+1) with an all-ones start, so an all-black frame
// (number 0, CRC 0) is not a valid pattern.
func crc8(n int) byte {
	crc := byte(0xff)
	for _, b := range []byte{byte(n >> 8), byte(n)} {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x07
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// patternBits is the frame number followed by its CRC, most significant bit first.
func patternBits(n int) [gridCols * gridRows]bool {
	var bits [gridCols * gridRows]bool
	word := uint32(n&MaxFrame)<<crcBits | uint32(crc8(n&MaxFrame))
	for i := range bits {
		bits[i] = word>>(len(bits)-1-i)&1 == 1
	}
	return bits
}

// cellRect is the rectangle of cell (col, row) inside a pattern area of w x ph pixels.
func cellRect(col, row, w, ph int) image.Rectangle {
	return image.Rect(col*w/gridCols, row*ph/gridRows, (col+1)*w/gridCols, (row+1)*ph/gridRows)
}

// PatternFrame draws frame n (0..MaxFrame; larger values wrap) at w x h as a 4:2:0 image, the
// layout ffmpeg reads as rawvideo yuv420p. w and h must be even and at least 48x32.
func PatternFrame(n, w, h int) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Cb {
		img.Cb[i] = 128
		img.Cr[i] = 128
	}
	ph := patternHeight(h)
	bits := patternBits(n)
	for row := range gridRows {
		for col := range gridCols {
			v := byte(lumaBlack)
			if bits[row*gridCols+col] {
				v = lumaWhite
			}
			r := cellRect(col, row, w, ph)
			for y := r.Min.Y; y < r.Max.Y; y++ {
				line := img.Y[y*img.YStride:]
				for x := r.Min.X; x < r.Max.X; x++ {
					line[x] = v
				}
			}
		}
	}
	// Noise band: 8x8 blocks of pseudo-random grey that change every frame.
	seed := uint32(n)*2654435761 + 1
	for y := ph; y < h; y++ {
		line := img.Y[y*img.YStride:]
		for x := range w {
			line[x] = noise(seed, uint32(x/8), uint32(y/8))
		}
	}
	return img
}

func patternHeight(h int) int { return h * 3 / 4 }

// noise is a small integer hash: deterministic, so fixtures are reproducible, and cheap.
func noise(seed, x, y uint32) byte {
	v := seed ^ x*0x9e3779b1 ^ y*0x85ebca77
	v ^= v >> 15
	v *= 0x2c1b3c6d
	v ^= v >> 12
	return byte(48 + v%160)
}

// ReadPattern reads the frame number PatternFrame drew into img, after any scaling or lossy coding
// that keeps the layout. ok is false when img does not carry a pattern: a cell that is neither
// clearly dark nor clearly light, or a CRC mismatch.
func ReadPattern(img image.Image) (n int, ok bool) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < gridCols*4 || h < gridRows*4*4/3 {
		return 0, false
	}
	luma := lumaReader(img)
	ph := patternHeight(h)
	var word uint32
	for row := range gridRows {
		for col := range gridCols {
			r := cellRect(col, row, w, ph)
			// Sample the middle half of the cell: edges ring after coding.
			in := image.Rect(r.Min.X+r.Dx()/4, r.Min.Y+r.Dy()/4, r.Max.X-r.Dx()/4, r.Max.Y-r.Dy()/4)
			var sum, count int
			for y := in.Min.Y; y < in.Max.Y; y++ {
				for x := in.Min.X; x < in.Max.X; x++ {
					sum += int(luma(b.Min.X+x, b.Min.Y+y))
					count++
				}
			}
			if count == 0 {
				return 0, false
			}
			mean := sum / count
			word <<= 1
			switch {
			case mean >= lumaHighMin:
				word |= 1
			case mean <= lumaLowMax:
			default:
				return 0, false
			}
		}
	}
	n = int(word >> crcBits)
	if byte(word) != crc8(n) {
		return 0, false
	}
	return n, true
}

// lumaReader returns a fast luma accessor for YCbCr and Gray images and a generic one otherwise.
func lumaReader(img image.Image) func(x, y int) uint8 {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) uint8 { return m.Y[m.YOffset(x, y)] }
	case *image.Gray:
		return func(x, y int) uint8 { return m.GrayAt(x, y).Y }
	default:
		return func(x, y int) uint8 {
			// Video-range luma, so that a YCbCr image converted to RGB reads the same.
			yy, _, _ := color.RGBToYCbCr(rgb8(m.At(x, y)))
			return yy
		}
	}
}

func rgb8(c color.Color) (r, g, b uint8) {
	r32, g32, b32, _ := c.RGBA()
	return uint8(r32 >> 8), uint8(g32 >> 8), uint8(b32 >> 8)
}
