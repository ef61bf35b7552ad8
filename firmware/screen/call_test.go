package screen

import (
	"image"
	"image/color"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board/sim"
)

// solid is a w x h picture of one video-range colour.
func solid(w, h int, y, cb, cr byte) *image.YCbCr {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range m.Y {
		m.Y[i] = y
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = cb, cr
	}
	return m
}

// BT.601 video-range primaries.
var (
	red   = func() *image.YCbCr { return solid(640, 360, 81, 90, 240) }
	green = func() *image.YCbCr { return solid(640, 360, 145, 54, 34) }
	blue  = func() *image.YCbCr { return solid(640, 360, 41, 240, 110) }
	white = func() *image.YCbCr { return solid(320, 180, 235, 128, 128) }
)

// near reports whether c is within 6 of want on every channel.
func near(c, want color.RGBA) bool {
	d := func(a, b uint8) bool { return a-b < 7 || b-a < 7 }
	return d(c.R, want.R) && d(c.G, want.G) && d(c.B, want.B)
}

var (
	rgbRed   = color.RGBA{255, 0, 0, 255}
	rgbGreen = color.RGBA{0, 255, 0, 255}
	rgbBlue  = color.RGBA{0, 0, 255, 255}
	rgbWhite = color.RGBA{255, 255, 255, 255}
)

func centre(r image.Rectangle) image.Point { return image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2) }

func TestComposeSpeakerLayout(t *testing.T) {
	tests := []struct {
		name     string
		speaking int // index of the speaking tile, -1 none
		wantBig  color.RGBA
	}{
		{"first tile large when nobody speaks", -1, rgbRed},
		{"speaking tile large", 1, rgbGreen},
		{"third speaks", 2, rgbBlue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := CallView{Layout: LayoutSpeaker, Meeting: "Weekly", Tiles: []Tile{
				{ID: "a", Name: "Alice", Picture: red()}, {ID: "b", Name: "Bob", Picture: green()}, {ID: "c", Name: "Cleo", Picture: blue()},
			}, Self: &Tile{Name: "Room", Picture: white()}}
			if tc.speaking >= 0 {
				v.Tiles[tc.speaking].Speaking = true
			}
			dst := image.NewRGBA(image.Rect(0, 0, 1280, 720))
			Compose(dst, v)
			rects := Layout(v, 1280, 720)
			if len(rects) != 4 {
				t.Fatalf("%d rects", len(rects))
			}
			big := rects[0]
			if big.Dx() != 1280 || big.Dy() < 720*3/4 {
				t.Fatalf("main area %v", big)
			}
			if c := dst.RGBAAt(centre(big).X, centre(big).Y); !near(c, tc.wantBig) {
				t.Fatalf("main area centre %v, want %v", c, tc.wantBig)
			}
			// The filmstrip below holds the other three, self view (white) last, all the same size.
			for i, r := range rects[1:] {
				if r.Min.Y < big.Max.Y || r.Size() != rects[1].Size() {
					t.Fatalf("filmstrip tile %d at %v (main %v)", i, r, big)
				}
			}
			if c := dst.RGBAAt(centre(rects[3]).X, centre(rects[3]).Y); !near(c, rgbWhite) {
				t.Fatalf("self view centre %v, want white", c)
			}
			// The speaking tile has the highlight border.
			if tc.speaking >= 0 && dst.RGBAAt(big.Min.X+1, big.Min.Y+big.Dy()/2) != colSpeaking {
				t.Fatalf("speaking highlight missing: %v", dst.RGBAAt(big.Min.X+1, big.Min.Y+big.Dy()/2))
			}
		})
	}
}

func TestComposeGrid(t *testing.T) {
	for n := 1; n <= 10; n++ {
		t.Run(strings.Repeat("tile", 1)+string(rune('0'+n%10)), func(t *testing.T) {
			var v CallView
			v.Layout = LayoutGrid
			for i := range n {
				v.Tiles = append(v.Tiles, Tile{ID: string(rune('a' + i)), Name: "P", Picture: []func() *image.YCbCr{red, green, blue}[i%3]()})
			}
			dst := image.NewRGBA(image.Rect(0, 0, 1280, 720))
			Compose(dst, v)
			rects := Layout(v, 1280, 720)
			want := []color.RGBA{rgbRed, rgbGreen, rgbBlue}
			for i, r := range rects {
				if r.Size() != rects[0].Size() {
					t.Fatalf("tile %d is %v, tile 0 %v: the grid does not split evenly", i, r.Size(), rects[0].Size())
				}
				if !r.In(dst.Rect) {
					t.Fatalf("tile %d at %v is off screen", i, r)
				}
				for j := range i {
					if r.Overlaps(rects[j]) {
						t.Fatalf("tiles %d and %d overlap", i, j)
					}
				}
				if c := dst.RGBAAt(centre(r).X, centre(r).Y); !near(c, want[i%3]) {
					t.Fatalf("tile %d centre %v, want %v", i, c, want[i%3])
				}
			}
			if n == 4 && (rects[0].Dx() < 600 || rects[0].Dy() < 340) {
				t.Fatalf("4 tiles should be quadrants, got %v", rects[0])
			}
		})
	}
}

// TestComposeOddInputs: overlays and tiles survive hostile names, missing or malformed pictures,
// odd subsamplings and tiny or offset destinations without crashing.
func TestComposeOddInputs(t *testing.T) {
	broken := solid(64, 36, 100, 128, 128)
	broken.Y = broken.Y[:10]
	sub := solid(640, 360, 81, 90, 240).SubImage(image.Rect(101, 51, 401, 251)).(*image.YCbCr)
	yuv444 := image.NewYCbCr(image.Rect(0, 0, 33, 17), image.YCbCrSubsampleRatio444)
	names := []string{"", strings.Repeat("Bartholomew-Maximilian ", 40), "会议室 🎉 Ünïcödé", "\x00\x1b[2J\xff\xfe", "‮reversed"}
	views := map[string]CallView{
		"nothing":   {},
		"self only": {Self: &Tile{Name: "Room", Picture: white()}},
		"hostile": {Meeting: strings.Repeat("Meeting ✓ ", 50), Banner: strings.Repeat("Reconnecting… ", 30), Layout: LayoutSpeaker, Tiles: []Tile{
			{Name: names[1], Picture: broken, MicMuted: true, Speaking: true},
			{Name: names[2], Picture: sub, CameraMuted: true, MicMuted: true},
			{Name: names[3], Picture: yuv444},
			{Name: names[4]}, {Name: names[0], MicMuted: true},
		}},
		"unknown layout": {Layout: "mosaic", Tiles: []Tile{{Name: "A", Picture: red()}}},
	}
	for _, many := range []int{30} {
		v := CallView{Layout: LayoutGrid}
		for range many {
			v.Tiles = append(v.Tiles, Tile{Name: names[1], MicMuted: true, Picture: red()})
		}
		views["grid of 30"] = v
		v.Layout = LayoutSpeaker
		views["filmstrip of 30"] = v
	}
	sizes := []image.Rectangle{image.Rect(0, 0, 1280, 720), image.Rect(0, 0, 800, 480), image.Rect(0, 0, 64, 48), image.Rect(100, 50, 900, 530), image.Rect(0, 0, 1, 1)}
	for name, v := range views {
		for _, r := range sizes {
			t.Run(name+"/"+r.String(), func(t *testing.T) {
				dst := image.NewRGBA(r)
				Compose(dst, v)
			})
		}
	}
	// A sub-image picture lands with its own colour.
	dst := image.NewRGBA(image.Rect(0, 0, 640, 360))
	Compose(dst, CallView{Tiles: []Tile{{Picture: sub}}})
	if c := dst.RGBAAt(320, 180); !near(c, rgbRed) {
		t.Fatalf("sub-image picture centre %v", c)
	}
}

func TestShowCallDraws(t *testing.T) {
	d := &sim.Display{W: 800, H: 480}
	r := New(d, Options{})
	if err := r.ShowCall(CallView{Tiles: []Tile{{Name: "A", Picture: green()}}}); err != nil {
		t.Fatal(err)
	}
	if c := d.Picture().RGBAAt(400, 240); !near(c, rgbGreen) {
		t.Fatalf("display centre %v", c)
	}
}

// BenchmarkCompose composes a 1280x720 call of four 640x360 tiles (grid and speaker) and
// reports the time against copying a 1280x720 RGBA picture, measured in the same run.
func BenchmarkCompose(b *testing.B) {
	v := CallView{Meeting: "Weekly sync", Tiles: []Tile{
		{Name: "Alice", Picture: red(), Speaking: true}, {Name: "Bob", Picture: green(), MicMuted: true},
		{Name: "Cleo", Picture: blue()}, {Name: "Dan", Picture: red()},
	}}
	src := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	dst := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	// The baseline: copying a 1280x720 RGBA picture, timed here so the ratio compares like
	// with like; CPU time (getrusage) as well as wall time, since a loaded machine inflates the
	// wall clock.
	const copies = 200
	start, cpu0 := time.Now(), cpuTime()
	for range copies {
		copy(dst.Pix, src.Pix)
	}
	copyNs := float64(time.Since(start).Nanoseconds()) / copies
	copyCPU := float64(cpuTime()-cpu0) / copies
	for _, layout := range []string{LayoutGrid, LayoutSpeaker} {
		b.Run(layout, func(b *testing.B) {
			v.Layout = layout
			cpu0 := cpuTime()
			for b.Loop() {
				Compose(dst, v)
			}
			cpu := float64(cpuTime()-cpu0) / float64(b.N)
			b.ReportMetric(copyNs, "copy-ns/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/copyNs, "x-copy")
			b.ReportMetric(cpu, "cpu-ns/op")
			b.ReportMetric(cpu/copyCPU, "x-copy-cpu")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// FuzzComposeText: names, meeting names and banners come from the network; any bytes render
// without a crash.
func FuzzComposeText(f *testing.F) {
	f.Add("Weekly", "Alice", "Reconnecting…", uint8(3))
	f.Add("", "\x00\xff\xfe‮", "", uint8(0))
	f.Add(strings.Repeat("会议", 100), "🎉🎉🎉", "x", uint8(255))
	pic := solid(64, 36, 81, 90, 240)
	f.Fuzz(func(t *testing.T, meeting, name, banner string, flags uint8) {
		v := CallView{Meeting: meeting, Banner: banner, Layout: []string{LayoutSpeaker, LayoutGrid}[flags&1]}
		for i := range int(flags>>1&3) + 1 {
			tl := Tile{Name: name, MicMuted: flags&8 != 0, CameraMuted: flags&16 != 0, Speaking: i == 0 && flags&32 != 0}
			if flags&64 != 0 {
				tl.Picture = pic
			}
			v.Tiles = append(v.Tiles, tl)
		}
		Compose(image.NewRGBA(image.Rect(0, 0, 320, 180)), v)
	})
}
