package linux

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/physic"
)

// From linux/i2c-dev.h and linux/i2c.h (x/sys/unix does not carry them).
const (
	i2cSlave = 0x0703
	i2cFuncs = 0x0705
	i2cSMBus = 0x0720

	i2cFuncI2C               = 0x00000001
	i2cFuncSMBusReadByte     = 0x00020000
	i2cFuncSMBusWriteByte    = 0x00040000
	i2cFuncSMBusReadByteData = 0x00080000
	i2cFuncSMBusWriteByteDat = 0x00100000
	i2cFuncSMBusReadWordData = 0x00200000
	i2cFuncSMBusWriteWordDat = 0x00400000

	smbusRead  = 1
	smbusWrite = 0

	smbusByte     = 1
	smbusByteData = 2
	smbusWordData = 3
)

// smbusIoctlData is struct i2c_smbus_ioctl_data.
type smbusIoctlData struct {
	readWrite uint8
	command   uint8
	size      uint32
	data      *[34]byte // union i2c_smbus_data
}

// smbusBus is a periph i2c.Bus over the I2C_SMBUS ioctl, for adapters that speak SMBus only
// (i2c-stub, many PC SMBus controllers). It maps the transfers a register-based sensor makes
// onto SMBus transactions: register read/write of a byte or a little-endian word.
type smbusBus struct {
	f     *os.File
	path  string
	funcs uint64
	mu    sync.Mutex
	addr  uint16 // the address I2C_SLAVE last set, 0 = none
}

// i2cFunctionality asks the adapter what it can do (I2C_FUNCS).
func i2cFunctionality(f *os.File) (uint64, error) {
	var funcs uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), i2cFuncs, uintptr(unsafe.Pointer(&funcs))); errno != 0 {
		return 0, fmt.Errorf("I2C_FUNCS: %w", errno)
	}
	return funcs, nil
}

func (b *smbusBus) String() string { return b.path + " (SMBus)" }

// SetSpeed is not something SMBus through i2c-dev can change.
func (b *smbusBus) SetSpeed(physic.Frequency) error {
	return fmt.Errorf("%s: the bus speed is set by the kernel driver", b.path)
}

func (b *smbusBus) Close() error { return b.f.Close() }

// Tx runs one SMBus transaction chosen by the shape of w and r.
func (b *smbusBus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if addr != b.addr {
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, b.f.Fd(), i2cSlave, uintptr(addr)); errno != 0 {
			return fmt.Errorf("%s: I2C_SLAVE 0x%02x: %w", b.path, addr, errno)
		}
		b.addr = addr
	}
	var data [34]byte
	switch {
	case len(w) == 1 && len(r) == 2:
		if err := b.xfer(smbusRead, w[0], smbusWordData, &data, i2cFuncSMBusReadWordData); err != nil {
			return err
		}
		copy(r, data[:2])
	case len(w) == 1 && len(r) == 1:
		if err := b.xfer(smbusRead, w[0], smbusByteData, &data, i2cFuncSMBusReadByteData); err != nil {
			return err
		}
		r[0] = data[0]
	case len(w) == 3 && len(r) == 0:
		data[0], data[1] = w[1], w[2]
		return b.xfer(smbusWrite, w[0], smbusWordData, &data, i2cFuncSMBusWriteWordDat)
	case len(w) == 2 && len(r) == 0:
		data[0] = w[1]
		return b.xfer(smbusWrite, w[0], smbusByteData, &data, i2cFuncSMBusWriteByteDat)
	case len(w) == 1 && len(r) == 0:
		return b.xfer(smbusWrite, w[0], smbusByte, nil, i2cFuncSMBusWriteByte)
	case len(w) == 0 && len(r) == 1:
		if err := b.xfer(smbusRead, 0, smbusByte, &data, i2cFuncSMBusReadByte); err != nil {
			return err
		}
		r[0] = data[0]
	default:
		return fmt.Errorf("%s: a %d-byte write + %d-byte read is not an SMBus transaction", b.path, len(w), len(r))
	}
	return nil
}

func (b *smbusBus) xfer(rw, cmd uint8, size uint32, data *[34]byte, need uint64) error {
	if b.funcs&need == 0 {
		return fmt.Errorf("%s: the adapter cannot do SMBus transaction size %d (functionality 0x%08x)", b.path, size, b.funcs)
	}
	args := smbusIoctlData{readWrite: rw, command: cmd, size: size, data: data}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, b.f.Fd(), i2cSMBus, uintptr(unsafe.Pointer(&args))); errno != 0 {
		return fmt.Errorf("%s: SMBus %s register 0x%02x at 0x%02x: %w", b.path, map[uint8]string{smbusRead: "read", smbusWrite: "write"}[rw], cmd, b.addr, errno)
	}
	return nil
}
