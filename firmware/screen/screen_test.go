package screen

import (
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
)

// decodeQR reads the QR code in img with gozxing, as the HIL test reads a screendump.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR from the screen: %v", err)
	}
	return res.GetText()
}

func TestPairingScreenQR(t *testing.T) {
	now := time.Date(2026, 3, 4, 9, 41, 0, 0, time.UTC)
	urls := map[string]string{
		"short": "https://portal.example/pair?c=123456789012",
		"long":  "https://conference-portal.corp.example.com:8443/admin/rooms/pair?code=1234-5678-9012&room=meeting-room-4th-floor-north",
	}
	for _, size := range [][2]int{{1280, 720}, {800, 480}, {1920, 1080}} {
		for name, url := range urls {
			t.Run(name+"/"+fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
				d := &sim.Display{W: size[0], H: size[1]}
				r := New(d, Options{Now: func() time.Time { return now }})
				s := board.Screen{Title: "Pair this room", Lines: []string{"On the portal: Admin → Rooms → Pair", "then enter the code below"},
					Code: "1234 5678 9012", QR: url}
				if err := r.Show(s); err != nil {
					t.Fatal(err)
				}
				pic := d.Picture()
				if pic == nil || pic.Rect.Dx() != size[0] || pic.Rect.Dy() != size[1] {
					t.Fatalf("display picture %v", pic)
				}
				if got := decodeQR(t, pic); got != url {
					t.Fatalf("QR reads %q, want %q", got, url)
				}
				if r.Last().Code != s.Code || d.Last().QR != url {
					t.Fatalf("Last() = %+v, display Last() = %+v", r.Last(), d.Last())
				}
				// The code is drawn large in the accent colour somewhere in the left half.
				if n := countColour(pic, image.Rect(0, 0, size[0]/2, size[1]), colAccent); n < 2000 {
					t.Fatalf("pairing code: %d accent pixels", n)
				}
			})
		}
	}
}

func countColour(img *image.RGBA, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

func TestQRIsPureBlackOnWhiteWithModulesOfFourPixels(t *testing.T) {
	url := "https://portal.example/pair?c=123456789012"
	d := &sim.Display{W: 800, H: 480}
	if err := New(d, Options{}).Show(board.Screen{Title: "Pair", QR: url}); err != nil {
		t.Fatal(err)
	}
	pic := d.Picture()
	mods, _ := qrModules(url)
	// Find the QR's white quiet zone: the first white pixel on the row through the code's middle,
	// scanning from the right margin.
	black := countColour(pic, pic.Rect, colBlack)
	if black == 0 {
		t.Fatal("no black modules")
	}
	// Each module is a whole square of m x m pixels, m >= 4: the black pixel count is a multiple
	// of m*m with m the same for every module.
	on := 0
	for _, row := range mods {
		for _, v := range row {
			if v {
				on++
			}
		}
	}
	if black%on != 0 {
		t.Fatalf("%d black pixels for %d dark modules: modules are not whole squares", black, on)
	}
	m2 := black / on
	m := 0
	for m*m < m2 {
		m++
	}
	if m*m != m2 || m < minModule {
		t.Fatalf("module area %d px: want a square of side >= %d", m2, minModule)
	}
}

func TestIdleScreenClockAndTitle(t *testing.T) {
	now := time.Date(2026, 3, 4, 9, 41, 0, 0, time.UTC)
	d := &sim.Display{W: 1280, H: 720}
	r := New(d, Options{Now: func() time.Time { return now }})
	if err := r.Show(board.Screen{Title: "Huddle room ✓ Ünïcödé 会议室 " + strings.Repeat("very long name ", 20), Lines: []string{"Paired", "\x00\x1b[31m bad \xff bytes"}}); err != nil {
		t.Fatal(err)
	}
	first := d.Picture()
	now = now.Add(time.Minute)
	if err := r.Refresh(); err != nil {
		t.Fatal(err)
	}
	second := d.Picture()
	clock := image.Rect(1280*3/4, 0, 1280, 720/8)
	title := image.Rect(0, 0, 1280/2, 720/6)
	if same(first, second, clock) {
		t.Fatal("the clock did not change after a minute")
	}
	if !same(first, second, title) || countColour(first, title, colWhite) < 500 {
		t.Fatal("title missing or changed by a clock refresh")
	}
	if err := r.ShowCall(CallView{Meeting: "m"}); err != nil {
		t.Fatal(err)
	}
	inCall := d.Picture()
	if err := r.Refresh(); err != nil {
		t.Fatal(err)
	}
	if !same(inCall, d.Picture(), inCall.Rect) {
		t.Fatal("Refresh drew the idle screen over a call")
	}
}

func same(a, b *image.RGBA, r image.Rectangle) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if string(a.Pix[a.PixOffset(r.Min.X, y):a.PixOffset(r.Max.X, y)]) != string(b.Pix[b.PixOffset(r.Min.X, y):b.PixOffset(r.Max.X, y)]) {
			return false
		}
	}
	return true
}
