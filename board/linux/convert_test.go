package linux

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"

	"github.com/stoa-rooms/stoa/board"
)

// yuyvOf builds a YUYV buffer of w×h at stride from per-pixel Y and per-pair U/V functions.
func yuyvOf(w, h, stride int, px func(x, y int) (yy, u, v byte)) []byte {
	b := make([]byte, stride*h)
	for y := range h {
		for x := 0; x < w; x += 2 {
			y0, u, v := px(x, y)
			y1, _, _ := px(x+1, y)
			o := y*stride + x*2
			b[o], b[o+1], b[o+2], b[o+3] = y0, u, y1, v
		}
	}
	return b
}

func TestYUYVToI420(t *testing.T) {
	tests := []struct {
		name         string
		w, h, stride int
	}{
		{"tight", 4, 4, 8},
		{"padded stride", 6, 2, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Y counts pixels; U differs between the two rows of a pair (averaged), V by column.
			src := yuyvOf(tc.w, tc.h, tc.stride, func(x, y int) (byte, byte, byte) {
				return byte(y*tc.w + x), byte(100 + 10*(y%2)), byte(200 + x/2)
			})
			var f board.Frame
			if err := yuyvToI420(&f, src, tc.w, tc.h, tc.stride); err != nil {
				t.Fatal(err)
			}
			for y := range tc.h {
				for x := range tc.w {
					if got := f.Y[y*tc.w+x]; got != byte(y*tc.w+x) {
						t.Fatalf("Y(%d,%d) = %d, want %d", x, y, got, y*tc.w+x)
					}
				}
			}
			cw := tc.w / 2
			for y := range tc.h / 2 {
				for x := range cw {
					if got := f.Cb[y*cw+x]; got != 105 {
						t.Errorf("Cb(%d,%d) = %d, want 105 (average of 100 and 110)", x, y, got)
					}
					if got := f.Cr[y*cw+x]; got != byte(200+x) {
						t.Errorf("Cr(%d,%d) = %d, want %d", x, y, got, 200+x)
					}
				}
			}
		})
	}
}

func TestNV12ToI420(t *testing.T) {
	tests := []struct {
		name         string
		w, h, stride int
	}{
		{"tight", 4, 2, 4},
		{"padded stride", 4, 4, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := make([]byte, tc.stride*(tc.h+tc.h/2))
			for y := range tc.h {
				for x := range tc.w {
					src[y*tc.stride+x] = byte(10*y + x)
				}
			}
			for y := range tc.h / 2 {
				for x := range tc.w / 2 {
					o := (tc.h+y)*tc.stride + 2*x
					src[o], src[o+1] = byte(50+x+y*10), byte(150+x+y*10)
				}
			}
			var f board.Frame
			if err := nv12ToI420(&f, src, tc.w, tc.h, tc.stride); err != nil {
				t.Fatal(err)
			}
			for y := range tc.h {
				for x := range tc.w {
					if got := f.Y[y*tc.w+x]; got != byte(10*y+x) {
						t.Fatalf("Y(%d,%d) = %d, want %d", x, y, got, 10*y+x)
					}
				}
			}
			cw := tc.w / 2
			for y := range tc.h / 2 {
				for x := range cw {
					if f.Cb[y*cw+x] != byte(50+x+y*10) || f.Cr[y*cw+x] != byte(150+x+y*10) {
						t.Errorf("chroma(%d,%d) = %d,%d, want %d,%d", x, y, f.Cb[y*cw+x], f.Cr[y*cw+x], 50+x+y*10, 150+x+y*10)
					}
				}
			}
		})
	}
}

func TestConvertRejectsShortBuffers(t *testing.T) {
	var f board.Frame
	if err := yuyvToI420(&f, make([]byte, 4*4*2-1), 4, 4, 8); !errors.Is(err, errShortBuffer) {
		t.Errorf("yuyv short: %v, want errShortBuffer", err)
	}
	if err := nv12ToI420(&f, make([]byte, 4*4+4*2-1), 4, 4, 4); !errors.Is(err, errShortBuffer) {
		t.Errorf("nv12 short: %v, want errShortBuffer", err)
	}
	if err := yuyvToI420(&f, make([]byte, 64), 4, 4, 4); err == nil {
		t.Error("yuyv with a stride smaller than a row: no error")
	}
}

// TestMJPEGToI420 encodes flat colours with image/jpeg (4:2:0 and 4:4:4 sources via
// YCbCr images) and checks the limited-range result within JPEG's rounding.
func TestMJPEGToI420(t *testing.T) {
	tests := []struct {
		name      string
		ratio     image.YCbCrSubsampleRatio
		stripDHT  bool
		y, cb, cr byte // full range
	}{
		{"420 grey", image.YCbCrSubsampleRatio420, false, 128, 128, 128},
		{"444 red-ish", image.YCbCrSubsampleRatio444, false, 76, 85, 255},
		{"422 white", image.YCbCrSubsampleRatio422, false, 255, 128, 128},
		{"420 black without DHT", image.YCbCrSubsampleRatio420, true, 0, 128, 128},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const w, h = 32, 16
			src := image.NewYCbCr(image.Rect(0, 0, w, h), tc.ratio)
			for i := range src.Y {
				src.Y[i] = tc.y
			}
			for i := range src.Cb {
				src.Cb[i], src.Cr[i] = tc.cb, tc.cr
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			if tc.stripDHT {
				data = stripDHT(t, data)
			}
			var f board.Frame
			if err := mjpegToI420(&f, data, w, h); err != nil {
				t.Fatal(err)
			}
			wantY := 16 + float64(tc.y)*219/255
			wantCb := 128 + (float64(tc.cb)-128)*224/255
			wantCr := 128 + (float64(tc.cr)-128)*224/255
			near := func(name string, got byte, want float64) {
				if d := float64(got) - want; d > 3 || d < -3 {
					t.Errorf("%s = %d, want %.1f±3", name, got, want)
				}
			}
			near("Y", f.Y[w*h/2+5], wantY)
			near("Cb", f.Cb[len(f.Cb)/2], wantCb)
			near("Cr", f.Cr[len(f.Cr)/2], wantCr)
			if f.Width != w || f.Height != h || len(f.Cb) != (w/2)*(h/2) {
				t.Errorf("frame %dx%d with %d chroma bytes", f.Width, f.Height, len(f.Cb))
			}
		})
	}
	t.Run("size mismatch", func(t *testing.T) {
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil)
		var f board.Frame
		if err := mjpegToI420(&f, buf.Bytes(), 32, 16); err == nil {
			t.Error("a 16x16 picture in a 32x16 stream: no error")
		}
	})
	t.Run("gray", func(t *testing.T) {
		g := image.NewGray(image.Rect(0, 0, 16, 16))
		for i := range g.Pix {
			g.Pix[i] = 255
		}
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, g, nil)
		var f board.Frame
		if err := mjpegToI420(&f, buf.Bytes(), 16, 16); err != nil {
			t.Fatal(err)
		}
		if f.Y[0] < 233 || f.Cb[0] != 128 {
			t.Errorf("white gray picture gave Y %d Cb %d, want ≈235 and 128", f.Y[0], f.Cb[0])
		}
	})
}

// stripDHT removes every DHT segment, as UVC cameras send MJPEG.
func stripDHT(t *testing.T, b []byte) []byte {
	t.Helper()
	out := append([]byte{}, b[:2]...)
	i, removed := 2, 0
	for i+4 <= len(b) && b[i] == 0xff && b[i+1] != 0xda {
		n := int(b[i+2])<<8 | int(b[i+3])
		if b[i+1] != 0xc4 {
			out = append(out, b[i:i+2+n]...)
		} else {
			removed++
		}
		i += 2 + n
	}
	if removed == 0 {
		t.Fatal("no DHT segment to strip")
	}
	return append(out, b[i:]...)
}

func TestFull2LimitedTables(t *testing.T) {
	tests := []struct {
		in        int
		luma, chr byte
	}{{0, 16, 16}, {255, 235, 240}, {128, 126, 128}}
	for _, tc := range tests {
		if lumaFull2Limited[tc.in] != tc.luma || chromaFull2Limited[tc.in] != tc.chr {
			t.Errorf("%d → luma %d chroma %d, want %d %d", tc.in, lumaFull2Limited[tc.in], chromaFull2Limited[tc.in], tc.luma, tc.chr)
		}
	}
}

func FuzzYUYVToI420(f *testing.F) {
	f.Add(yuyvOf(4, 4, 8, func(x, y int) (byte, byte, byte) { return 1, 2, 3 }), 4, 4, 8)
	f.Add([]byte{1, 2, 3}, 2, 2, 4)
	f.Fuzz(func(t *testing.T, data []byte, w, h, stride int) {
		if w <= 0 || h <= 0 || w > 64 || h > 64 || stride > 256 {
			return
		}
		var fr board.Frame
		if err := yuyvToI420(&fr, data, w, h, stride); err == nil && len(fr.Y) != w*h {
			t.Fatalf("ok with %d luma bytes for %dx%d", len(fr.Y), w, h)
		}
	})
}

func FuzzNV12ToI420(f *testing.F) {
	f.Add(make([]byte, 24), 4, 4, 4)
	f.Fuzz(func(t *testing.T, data []byte, w, h, stride int) {
		if w <= 0 || h <= 0 || w > 64 || h > 64 || stride > 256 {
			return
		}
		var fr board.Frame
		_ = nv12ToI420(&fr, data, w, h, stride)
	})
}

func FuzzMJPEGToI420(f *testing.F) {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio422), nil)
	whole := buf.Bytes()
	f.Add(whole)
	f.Add(whole[:len(whole)/2]) // truncated mid-scan, as a camera unplugged mid-frame sends
	f.Add(whole[:20])
	f.Add([]byte{0xff, 0xd8, 0xff, 0xda, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr board.Frame
		if err := mjpegToI420(&fr, data, 16, 16); err == nil && (len(fr.Y) != 256 || len(fr.Cb) != 64) {
			t.Fatalf("ok with planes %d/%d", len(fr.Y), len(fr.Cb))
		}
	})
}
