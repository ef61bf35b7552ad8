package sim

import (
	"encoding/binary"
	"image"
	"time"
)

// The stamp is a grid of big black/white cells over the top 60% of every camera frame: 32 bits
// of frame counter, 48 bits of capture time (Unix milliseconds) and a CRC-16 over both. At
// 320x180 a cell is 20x18 pixels, big enough that VP8 at 150 kbit/s blurs its edges but never
// flips its middle; ReadStamp only trusts cells that are clearly dark or clearly light and a
// matching CRC, so any other picture reads as ok=false rather than as a wrong number.
const (
	stampCols = 16
	stampRows = 6
	stampBits = stampCols * stampRows // 96 = 32 + 48 + 16
	// Video-range black and white, and the decision margins for reading back.
	lumaBlack   = 16
	lumaWhite   = 235
	lumaLowMax  = 80
	lumaHighMin = 176
)

// stampBand is the height of the stamp area in a frame h pixels high.
func stampBand(h int) int { return h * 6 / 10 }

// stampRect is cell (col, row) in a w x h frame.
func stampRect(col, row, w, h int) image.Rectangle {
	band := stampBand(h)
	return image.Rect(col*w/stampCols, row*band/stampRows, (col+1)*w/stampCols, (row+1)*band/stampRows)
}

// stampWord packs seq, the capture time and their CRC into 12 bytes, most significant first.
func stampWord(seq uint32, captured time.Time) [12]byte {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], seq)
	ms := uint64(captured.UnixMilli()) & (1<<48 - 1)
	b[4], b[5] = byte(ms>>40), byte(ms>>32)
	binary.BigEndian.PutUint32(b[6:10], uint32(ms))
	binary.BigEndian.PutUint16(b[10:12], crc16(b[:10]))
	return b
}

// crc16 is CRC-16/CCITT-FALSE (poly 0x1021, init 0xffff): an all-black picture (all zero bits)
// does not carry a valid CRC.
func crc16(p []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range p {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// drawStamp fills the stamp cells into a Y plane of a w x h frame with the given stride. Each
// row of cells is one line pattern, built once into line (at least w bytes) and copied down the
// row's lines, so the cost is a few memmoves.
func drawStamp(y, line []byte, stride, w, h int, seq uint32, captured time.Time) {
	word := stampWord(seq, captured)
	for row := range stampRows {
		for col := range stampCols {
			i := row*stampCols + col
			v := byte(lumaBlack)
			if word[i/8]>>(7-i%8)&1 == 1 {
				v = lumaWhite
			}
			r := stampRect(col, row, w, h)
			cell := line[r.Min.X:r.Max.X]
			for x := range cell {
				cell[x] = v
			}
		}
		r := stampRect(0, row, w, h)
		for yy := r.Min.Y; yy < r.Max.Y; yy++ {
			copy(y[yy*stride:yy*stride+w], line[:w])
		}
	}
}

// ReadStamp reads the frame counter and capture time the sim camera drew into img, after any
// scaling or lossy coding that keeps the layout (the whole frame, any size). ok is false for
// anything else: a cell that is neither clearly dark nor clearly light, or a CRC mismatch.
func ReadStamp(img *image.YCbCr) (seq uint32, captured time.Time, ok bool) {
	if img == nil {
		return 0, time.Time{}, false
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < stampCols*4 || stampBand(h) < stampRows*4 {
		return 0, time.Time{}, false
	}
	var word [12]byte
	for i := range stampBits {
		r := stampRect(i%stampCols, i/stampCols, w, h)
		// The middle half of the cell: edges ring after coding.
		in := image.Rect(r.Min.X+r.Dx()/4, r.Min.Y+r.Dy()/4, r.Max.X-r.Dx()/4, r.Max.Y-r.Dy()/4)
		sum, n := 0, 0
		for yy := in.Min.Y; yy < in.Max.Y; yy++ {
			off := img.YOffset(b.Min.X+in.Min.X, b.Min.Y+yy)
			for _, v := range img.Y[off : off+in.Dx()] {
				sum += int(v)
			}
			n += in.Dx()
		}
		if n == 0 {
			return 0, time.Time{}, false
		}
		switch mean := sum / n; {
		case mean >= lumaHighMin:
			word[i/8] |= 1 << (7 - i%8)
		case mean <= lumaLowMax:
		default:
			return 0, time.Time{}, false
		}
	}
	if binary.BigEndian.Uint16(word[10:12]) != crc16(word[:10]) {
		return 0, time.Time{}, false
	}
	seq = binary.BigEndian.Uint32(word[0:4])
	ms := uint64(word[4])<<40 | uint64(word[5])<<32 | uint64(binary.BigEndian.Uint32(word[6:10]))
	return seq, time.UnixMilli(int64(ms)), true
}
