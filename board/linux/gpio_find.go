package linux

import (
	"errors"
	"fmt"
	"strings"

	"github.com/warthog618/go-gpiocdev"

	"github.com/stoa-rooms/stoa/board"
)

// gpioLine is a role's line resolved to a chip and offset.
type gpioLine struct {
	role   string
	def    board.GPIOLineDef
	chip   string
	offset int
}

func (l gpioLine) String() string {
	if l.def.Name != "" {
		return fmt.Sprintf("gpio %s (line %q, %s:%d)", l.role, l.def.Name, l.chip, l.offset)
	}
	return fmt.Sprintf("gpio %s (%s:%d)", l.role, l.chip, l.offset)
}

// findLine resolves def: chip + offset as given, a name on the given chip, or a name searched
// across every chip (first match in chip order, as libgpiod does).
func findLine(role string, def board.GPIOLineDef) (gpioLine, error) {
	l := gpioLine{role: role, def: def, chip: def.Chip}
	chips := []string{def.Chip}
	if def.Chip == "" {
		chips = gpiocdev.Chips()
		if len(chips) == 0 {
			return l, fmt.Errorf("gpio %s: no GPIO chips (/dev/gpiochip*) on this system", role)
		}
	}
	var errs []error
	for _, name := range chips {
		c, err := gpiocdev.NewChip(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		off, err := resolveOn(c, def)
		c.Close()
		if err == nil {
			l.chip, l.offset = c.Name, off
			return l, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	what := fmt.Sprintf("line %q", def.Name)
	if def.Name == "" {
		what = fmt.Sprintf("offset %d", *def.Offset)
	}
	if def.Chip == "" {
		return l, fmt.Errorf("gpio %s: no %s on any chip (%s)", role, what, strings.Join(chips, ", "))
	}
	return l, fmt.Errorf("gpio %s: %s: %w", role, what, errors.Join(errs...))
}

func resolveOn(c *gpiocdev.Chip, def board.GPIOLineDef) (int, error) {
	if def.Offset != nil {
		if *def.Offset >= c.Lines() {
			return 0, fmt.Errorf("offset %d is beyond the chip's %d lines", *def.Offset, c.Lines())
		}
		if def.Name != "" { // both given: the name must match, or the definition is wrong
			info, err := c.LineInfo(*def.Offset)
			if err != nil {
				return 0, err
			}
			if info.Name != def.Name {
				return 0, fmt.Errorf("offset %d is named %q, not %q", *def.Offset, info.Name, def.Name)
			}
		}
		return *def.Offset, nil
	}
	off, err := c.FindLine(def.Name)
	if err != nil {
		return 0, fmt.Errorf("no line named %q", def.Name)
	}
	return off, nil
}

// busyError explains a refused request, naming who holds the line.
func busyError(l gpioLine, err error) error {
	c, cerr := gpiocdev.NewChip(l.chip)
	if cerr == nil {
		defer c.Close()
		if info, ierr := c.LineInfo(l.offset); ierr == nil && info.Used {
			return fmt.Errorf("%s: line busy (used by %q): %w", l, info.Consumer, err)
		}
	}
	return fmt.Errorf("%s: request: %w", l, err)
}
