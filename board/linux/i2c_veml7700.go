package linux

import (
	"fmt"
	"io"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/stoa-rooms/stoa/board"
)

// VEML7700 registers (Vishay datasheet 84286): 16-bit little-endian words.
const (
	vemlConf = 0x00 // ALS_CONF_0: gain bits 12:11, integration time bits 9:6, shutdown bit 0
	vemlALS  = 0x04 // ALS output
)

// vemlGain maps ALS_GAIN (bits 12:11) to the gain factor.
var vemlGain = [4]float64{1, 2, 1.0 / 8, 1.0 / 4}

// vemlIT maps ALS_IT (bits 9:6) to the integration time in ms; other codes are invalid.
var vemlIT = map[uint16]float64{0b1100: 25, 0b1000: 50, 0b0000: 100, 0b0001: 200, 0b0010: 400, 0b0011: 800}

// vemlLux turns a raw ALS count into lux for a configuration register value. Resolution is
// 0.0036 lx/count at gain 2 and 800 ms, scaling inversely with gain and integration time; above
// 1000 lx the datasheet's polynomial corrects the sensor's non-linearity.
func vemlLux(conf, raw uint16) (float64, error) {
	it, ok := vemlIT[(conf>>6)&0xF]
	if !ok {
		return 0, fmt.Errorf("%w: integration time code 0x%x in config 0x%04x is not valid", errSensor, (conf>>6)&0xF, conf)
	}
	gain := vemlGain[(conf>>11)&0x3]
	lux := float64(raw) * 0.0036 * (800 / it) * (2 / gain)
	if lux > 1000 {
		lux = 6.0135e-13*lux*lux*lux*lux - 9.3924e-9*lux*lux*lux + 8.1488e-5*lux*lux + 1.0023*lux
	}
	return lux, nil
}

// veml7700 is board.LightSensor for Vishay's VEML7700 ambient-light sensor.
type veml7700 struct {
	dev *i2c.Dev
	bus io.Closer
	now func() time.Time
	mu  sync.Mutex
}

// newVEML7700 powers the sensor on when it is shut down, keeping the gain and integration time
// it has (power-on default: gain 1, 100 ms).
func newVEML7700(dev *i2c.Dev, bus io.Closer) (*veml7700, error) {
	s := &veml7700{dev: dev, bus: bus, now: time.Now}
	conf, err := s.reg(vemlConf)
	if err != nil {
		return nil, err
	}
	if conf&1 != 0 {
		conf &^= 1
		if err := dev.Tx([]byte{vemlConf, byte(conf), byte(conf >> 8)}, nil); err != nil {
			return nil, fmt.Errorf("power on (write config): %w", err)
		}
	}
	return s, nil
}

func (s *veml7700) reg(r byte) (uint16, error) {
	var b [2]byte
	if err := s.dev.Tx([]byte{r}, b[:]); err != nil {
		return 0, fmt.Errorf("read register 0x%02x: %w", r, err)
	}
	return uint16(b[0]) | uint16(b[1])<<8, nil
}

// Read reads the configuration (someone may have changed gain or integration time) and the ALS
// count, and converts. The VEML7700 cannot tell presence.
func (s *veml7700) Read() (board.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	conf, err := s.reg(vemlConf)
	if err != nil {
		return board.Reading{}, fmt.Errorf("read light sensor: %w", err)
	}
	if conf&1 != 0 {
		return board.Reading{}, fmt.Errorf("read light sensor: %w: shut down (config 0x%04x)", errSensor, conf)
	}
	raw, err := s.reg(vemlALS)
	if err != nil {
		return board.Reading{}, fmt.Errorf("read light sensor: %w", err)
	}
	lux, err := vemlLux(conf, raw)
	if err != nil {
		return board.Reading{}, fmt.Errorf("read light sensor: %w", err)
	}
	return board.Reading{Lux: lux, Time: s.now()}, nil
}

// Close releases the bus.
func (s *veml7700) Close() error { return s.bus.Close() }
