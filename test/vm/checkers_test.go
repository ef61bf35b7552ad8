package vm

import (
	"image"

	"github.com/stoa-rooms/stoa/test/vm/vmkit"
)

// checkers are the screen checks a guest test can ask for with `STOA-VM SCREENDUMP <name>`.
func checkers() map[string]func(image.Image) error {
	return map[string]func(image.Image) error{
		// board/linux's display test and test/vm/smoke paint red, green / blue, white.
		"quadrants": func(img image.Image) error { return vmkit.CheckQuadrants(img, 40) },
	}
}
