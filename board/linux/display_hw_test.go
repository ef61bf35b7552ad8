//go:build hw

package linux

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"testing"
	"time"
)

// quadrants paints red, green / blue, white: the picture test/vm's "quadrants" checker expects.
func quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cols := [4]color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}}
	for y := range h {
		for x := range w {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			img.SetRGBA(x, y, cols[q])
		}
	}
	return img
}

func TestDisplayDRMQuadrants(t *testing.T) {
	needGuest(t)
	eventually(t, 30*time.Second, func() error { _, err := os.Stat("/dev/dri/card0"); return err })
	d, err := OpenDRM("/dev/dri/card0", 1280, 720, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, h := d.Size()
	t.Logf("bochs mode %dx%d, page flip: %v", w, h, !d.noFlip)
	if w <= 0 || h <= 0 {
		t.Fatalf("size %dx%d", w, h)
	}
	if err := d.Draw(image.NewRGBA(image.Rect(0, 0, w+1, h))); err == nil {
		t.Error("a picture of the wrong size: no error")
	}
	// A black picture first, then the quadrants: the second Draw waits for the first flip,
	// and the screen must show the last one.
	if err := d.Draw(image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(quadrants(w, h)); err != nil {
		t.Fatal(err)
	}
	if err := d.waitFlip(time.Second); err != nil {
		t.Fatal(err)
	}
	fmt.Println("STOA-VM SCREENDUMP quadrants")
	time.Sleep(4 * time.Second) // the harness takes the screendump meanwhile
}

func TestDisplayFBDev(t *testing.T) {
	needGuest(t)
	d, err := OpenFBDev("/dev/fb0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, h := d.Size()
	if w <= 0 || h <= 0 {
		t.Fatalf("size %dx%d", w, h)
	}
	if err := d.Draw(quadrants(w, h)); err != nil {
		t.Fatal(err)
	}
	// Top-left pixel red in the framebuffer's own layout.
	px := uint32(d.mem[0]) | uint32(d.mem[1])<<8 | uint32(d.mem[2])<<16 | uint32(d.mem[3])<<24
	r := px >> d.r.Offset & (1<<d.r.Length - 1)
	g := px >> d.g.Offset & (1<<d.g.Length - 1)
	if r != 1<<d.r.Length-1 || g != 0 {
		t.Errorf("top-left pixel %#x: red %d green %d, want full red", px, r, g)
	}
}
