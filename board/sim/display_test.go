package sim

import (
	"fmt"
	"image"
	"sync"
	"testing"

	"github.com/stoa-rooms/stoa/board"
)

func TestDisplayKeepsLastScreen(t *testing.T) {
	d := &Display{}
	if got := d.Last(); got.Title != "" || d.Shown() != 0 {
		t.Fatalf("fresh display shows %+v", got)
	}
	lines := []string{"a", "b"}
	if err := d.Show(board.Screen{Title: "Pair this room", Lines: lines, Code: "1234 5678 9012"}); err != nil {
		t.Fatal(err)
	}
	lines[0] = "changed by caller"
	got := d.Last()
	if got.Title != "Pair this room" || got.Code != "1234 5678 9012" || got.Lines[0] != "a" {
		t.Fatalf("Last() = %+v", got)
	}
	got.Lines[1] = "changed by reader"
	if d.Last().Lines[1] != "b" {
		t.Fatal("Last() shares its slice with the caller")
	}
}

func TestDisplayConcurrent(t *testing.T) {
	d := &Display{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				_ = d.Show(board.Screen{Title: fmt.Sprint(i, j)})
				_ = d.Last()
			}
		})
	}
	wg.Wait()
	if d.Shown() != 800 {
		t.Fatalf("Shown() = %d, want 800", d.Shown())
	}
}

func TestRegistry(t *testing.T) {
	r := board.Registry{"sim": New}
	tests := []struct {
		name, board string
		ok          bool
	}{
		{"sim", "sim", true},
		{"unknown", "rpi9", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := r.Open(tc.board)
			if tc.ok != (err == nil) {
				t.Fatalf("Open(%q) err = %v", tc.board, err)
			}
			if tc.ok {
				if _, ok := b.Display.(*Display); !ok || b.Name() != "sim" {
					t.Fatalf("Open(%q) = %+v", tc.board, b)
				}
			}
		})
	}
}

func TestDisplayDraw(t *testing.T) {
	d := &Display{W: 64, H: 48}
	if d.Picture() != nil {
		t.Fatal("fresh display has a picture")
	}
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	img.Pix[0] = 200
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	img.Pix[0] = 1 // the display kept its own copy
	if p := d.Picture(); p.Pix[0] != 200 || d.Draws() != 1 {
		t.Fatalf("Picture().Pix[0] = %d, Draws %d", p.Pix[0], d.Draws())
	}
	if err := d.Draw(image.NewRGBA(image.Rect(0, 0, 32, 48))); err == nil || d.Draws() != 1 {
		t.Fatal("a picture of the wrong size was drawn")
	}
}
