package linux

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/host/v3/sysfs"

	"github.com/stoa-rooms/stoa/board"
)

// openI2CBus opens /dev/i2c-N as a periph i2c.Bus: SMBus transactions when the adapter can read
// and write word data (what the sensor needs; also what i2c-stub and PC SMBus controllers
// offer), else plain I2C transfers through periph's sysfs bus when the adapter reports
// I2C_FUNC_I2C.
func openI2CBus(path string) (interface {
	i2c.Bus
	io.Closer
}, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open i2c bus: %w", err)
	}
	funcs, err := i2cFunctionality(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open i2c bus %s: %w", path, err)
	}
	const word = i2cFuncSMBusReadWordData | i2cFuncSMBusWriteWordDat
	if funcs&word == word {
		return &smbusBus{f: f, path: path, funcs: funcs}, nil
	}
	f.Close()
	if funcs&i2cFuncI2C == 0 {
		return nil, fmt.Errorf("open i2c bus %s: the adapter does neither SMBus word data nor plain I2C (functionality 0x%08x)", path, funcs)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(path, "/dev/i2c-"))
	if err != nil {
		return nil, fmt.Errorf("open i2c bus %s: not a /dev/i2c-N path", path)
	}
	b, err := sysfs.NewI2C(n)
	if err != nil {
		return nil, fmt.Errorf("open i2c bus %s: %w", path, err)
	}
	return b, nil
}

// OpenLightSensor opens the definition's ambient-light sensor. Supported: "veml7700".
func OpenLightSensor(def board.I2CDef) (board.LightSensor, error) {
	if def.Light != "veml7700" {
		return nil, fmt.Errorf("open light sensor: %q is not a supported sensor (supported: veml7700)", def.Light)
	}
	bus, err := openI2CBus(def.Bus)
	if err != nil {
		return nil, fmt.Errorf("open light sensor veml7700: %w", err)
	}
	s, err := newVEML7700(&i2c.Dev{Bus: bus, Addr: def.Addr}, bus)
	if err != nil {
		bus.Close()
		return nil, fmt.Errorf("open light sensor veml7700 at %s 0x%02x: %w", def.Bus, def.Addr, err)
	}
	return s, nil
}

var errSensor = errors.New("veml7700")
