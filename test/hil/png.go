package hil

import (
	"fmt"
	"image"
	"image/png"
	"os"
)

// writePNG saves a picture for a failure's diagnosis.
func writePNG(path string, pic image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save picture: %w", err)
	}
	if err := png.Encode(f, pic); err != nil {
		f.Close()
		return fmt.Errorf("save picture: %w", err)
	}
	return f.Close()
}
