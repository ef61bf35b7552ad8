//go:build hw

package smoke

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScreendumpQuadrants paints the "quadrants" picture straight into the bochs DRM device's
// fbdev emulation and asks the host to check a QMP screendump of it: the checkpoint's plumbing,
// independent of board/linux's display code.
func TestScreendumpQuadrants(t *testing.T) {
	size, err := readTrim("/sys/class/graphics/fb0/virtual_size")
	if err != nil {
		t.Fatal(err)
	}
	w, h, err := parseSize(size)
	if err != nil {
		t.Fatal(err)
	}
	bpp, _ := readTrim("/sys/class/graphics/fb0/bits_per_pixel")
	stride, _ := readTrim("/sys/class/graphics/fb0/stride")
	if bpp != "32" {
		t.Fatalf("fb0 has %s bits per pixel, this test paints 32", bpp)
	}
	t.Logf("fb0: virtual_size %s, %s bpp, stride %s", size, bpp, stride)
	pitch, err := strconv.Atoi(stride)
	if err != nil {
		pitch = w * 4
	}
	// XRGB8888 in memory order B, G, R, X; quadrants red, green / blue, white.
	colours := [4][4]byte{{0, 0, 255, 0}, {0, 255, 0, 0}, {255, 0, 0, 0}, {255, 255, 255, 0}}
	buf := make([]byte, pitch*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			copy(buf[y*pitch+x*4:], colours[q][:])
		}
	}
	if err := os.WriteFile("/dev/fb0", buf, 0); err != nil {
		t.Fatalf("paint /dev/fb0: %v", err)
	}
	fmt.Println("STOA-VM SCREENDUMP quadrants")
	time.Sleep(4 * time.Second) // the contract: the host takes its screendump meanwhile
	// Leave a black screen: a later display test whose drawing silently fails must not pass on
	// this test's picture.
	if err := os.WriteFile("/dev/fb0", make([]byte, pitch*h), 0); err != nil {
		t.Fatalf("clear /dev/fb0: %v", err)
	}
}

func parseSize(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, ",")
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("fb0 virtual_size %q: want W,H", s)
	}
	return w, h, nil
}
