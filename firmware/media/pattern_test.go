package media

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// patternFrames makes n frames of a moving test pattern (w x h I420) in one contiguous buffer
// (frame i at i*w*h*3/2): a diagonal gradient with fixed fine noise scrolling 4 px a frame,
// a bright box sliding across, and moving chroma gradients. The texture is from a seeded PRNG,
// so every run encodes the same pictures.
func patternFrames(w, h, n int) ([]byte, []*board.Frame) {
	size := w * h * 3 / 2
	buf := make([]byte, size*n)
	rng := rand.New(rand.NewPCG(1, 2))
	tex := make([]byte, 256*256)
	for i := range tex {
		tex[i] = byte(rng.IntN(8)) // sensor-like noise: a few levels
	}
	frames := make([]*board.Frame, n)
	start := time.Unix(1700000000, 0)
	for i := range frames {
		b := buf[i*size : (i+1)*size]
		f := &board.Frame{Width: w, Height: h, Y: b[:w*h], Cb: b[w*h : w*h+w*h/4], Cr: b[w*h+w*h/4:],
			Seq: uint64(i), Captured: start.Add(time.Duration(i) * time.Second / 30)}
		drawPattern(f, i, tex)
		frames[i] = f
	}
	return buf, frames
}

func drawPattern(f *board.Frame, i int, tex []byte) {
	w, h := f.Width, f.Height
	off := 4 * i
	bx0 := (i * w / 60) % w
	bx1, by0, by1 := bx0+w/8, h/3, h/3+h/5
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 16 + ((x+y+off)*200/(w+h))%200 + int(tex[((y&255)<<8)|((x+off)&255)])
			if x >= bx0 && x < bx1 && y >= by0 && y < by1 {
				v = 235
			}
			f.Y[y*w+x] = byte(min(v, 255))
		}
	}
	cw := w / 2
	for y := 0; y < h/2; y++ {
		for x := 0; x < cw; x++ {
			f.Cb[y*cw+x] = byte(64 + (x+off/2)%128)
			f.Cr[y*cw+x] = byte(64 + (y*2+off/2)%128)
		}
	}
}

// psnrY is the luma PSNR of got against want, in dB.
func psnrY(want *board.Frame, got []byte, gotStride int) float64 {
	var se float64
	for y := 0; y < want.Height; y++ {
		for x := 0; x < want.Width; x++ {
			d := float64(want.Y[y*want.Width+x]) - float64(got[y*gotStride+x])
			se += d * d
		}
	}
	mse := se / float64(want.Width*want.Height)
	if mse == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/mse)
}
