package linux

import (
	"fmt"
	"log/slog"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux CEC uapi (include/uapi/linux/cec.h).
type cecMsg struct {
	TxTS, RxTS                    uint64
	Len, Timeout, Sequence, Flags uint32
	Msg                           [16]byte
	Reply, RxStatus, TxStatus     uint8
	TxArbLost, TxNack, TxLowDrive uint8
	TxError                       uint8
	_                             uint8
}

type cecLogAddrs struct {
	LogAddr           [4]uint8
	LogAddrMask       uint16
	CECVersion        uint8
	NumLogAddrs       uint8
	VendorID          uint32
	Flags             uint32
	OSDName           [15]byte
	PrimaryDeviceType [4]uint8
	LogAddrType       [4]uint8
	AllDeviceTypes    [4]uint8
	Features          [4][12]uint8
	_                 uint8
}

type cecCaps struct {
	Driver, Name                     [32]byte
	AvailableLogAddrs, Caps, Version uint32
}

const (
	cecCapPhysAddr = 1 << 0
	cecCapLogAddrs = 1 << 1

	cecTxStatusOK          = 1 << 0
	cecLogAddrTypePlayback = 3
	cecPrimDevPlayback     = 4
	cecAllDevPlayback      = 0x10
	cecVersion14           = 5
	cecVendorNone          = 0xffffffff
	cecModeInitiator       = 0x1
)

func iocCEC(dir, nr, size uintptr) uintptr {
	return dir<<iocDirShift | size<<iocSizeShift | 'a'<<iocTypeSh | nr
}

var (
	ioctlCECGCaps     = iocCEC(iocRead|iocWrite, 0, unsafe.Sizeof(cecCaps{}))
	ioctlCECGPhysAddr = iocCEC(iocRead, 1, 2)
	ioctlCECSPhysAddr = iocCEC(iocWrite, 2, 2)
	ioctlCECGLogAddrs = iocCEC(iocRead, 3, unsafe.Sizeof(cecLogAddrs{}))
	ioctlCECSLogAddrs = iocCEC(iocRead|iocWrite, 4, unsafe.Sizeof(cecLogAddrs{}))
	ioctlCECTransmit  = iocCEC(iocRead|iocWrite, 5, unsafe.Sizeof(cecMsg{}))
	ioctlCECReceive   = iocCEC(iocRead|iocWrite, 6, unsafe.Sizeof(cecMsg{}))
	ioctlCECSMode     = iocCEC(iocWrite, 9, 4)
)

// CECAdapter sends Image View On / Active Source / Standby through /dev/cecN. When the
// adapter has no logical address yet (nobody ran cec-ctl), it claims one as a playback device.
type CECAdapter struct {
	mu   sync.Mutex
	path string
	fd   int
	log  *slog.Logger
}

// OpenCEC opens the adapter.
func OpenCEC(path string, log *slog.Logger) (*CECAdapter, error) {
	if log == nil {
		log = slog.Default()
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cec %s: %w", path, err)
	}
	var caps cecCaps
	if err := ioctl(fd, ioctlCECGCaps, unsafe.Pointer(&caps), "cec caps"); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open cec %s: %w", path, err)
	}
	return &CECAdapter{path: path, fd: fd, log: log.With("device", "cec", "path", path)}, nil
}

// ensureAddress returns our logical and physical addresses, claiming a logical address when
// the adapter has none.
func (c *CECAdapter) ensureAddress() (uint8, uint16, error) {
	var caps cecCaps
	if err := ioctl(c.fd, ioctlCECGCaps, unsafe.Pointer(&caps), "cec caps"); err != nil {
		return 0, 0, err
	}
	var phys uint16
	if err := ioctl(c.fd, ioctlCECGPhysAddr, unsafe.Pointer(&phys), "cec get physical address"); err != nil {
		return 0, 0, err
	}
	if phys == 0xffff && caps.Caps&cecCapPhysAddr != 0 {
		// Adapters without EDID access (no HDMI receiver behind them) leave it to us.
		phys = 0x1000
		if err := ioctl(c.fd, ioctlCECSPhysAddr, unsafe.Pointer(&phys), "cec set physical address"); err != nil {
			return 0, 0, err
		}
	}
	var la cecLogAddrs
	if err := ioctl(c.fd, ioctlCECGLogAddrs, unsafe.Pointer(&la), "cec get logical addresses"); err != nil {
		return 0, 0, err
	}
	if la.NumLogAddrs == 0 || la.LogAddr[0] == 0xff {
		if caps.Caps&cecCapLogAddrs == 0 {
			return 0, 0, fmt.Errorf("adapter has no logical address and does not let us claim one")
		}
		la = cecLogAddrs{NumLogAddrs: 1, CECVersion: cecVersion14, VendorID: cecVendorNone}
		copy(la.OSDName[:], "Stoa")
		la.PrimaryDeviceType[0] = cecPrimDevPlayback
		la.LogAddrType[0] = cecLogAddrTypePlayback
		la.AllDeviceTypes[0] = cecAllDevPlayback
		// Blocks until the kernel has polled the bus for a free playback address.
		if err := ioctl(c.fd, ioctlCECSLogAddrs, unsafe.Pointer(&la), "cec claim logical address"); err != nil {
			return 0, 0, err
		}
		c.log.Info("cec logical address claimed", "log_addr", la.LogAddr[0], "phys", cecPhysString(phys))
	}
	if la.LogAddr[0] == 0xff {
		return 0, 0, fmt.Errorf("no free logical address on the bus")
	}
	return la.LogAddr[0], phys, nil
}

func (c *CECAdapter) transmit(frame []byte, what string) error {
	m := cecMsg{Len: uint32(len(frame))}
	copy(m.Msg[:], frame)
	if err := ioctl(c.fd, ioctlCECTransmit, unsafe.Pointer(&m), "cec transmit"); err != nil {
		return fmt.Errorf("cec %s on %s: %w", what, c.path, err)
	}
	// Broadcasts are never acknowledged; a directed message the TV did not ACK failed.
	if m.TxStatus&cecTxStatusOK == 0 && frame[0]&0xf != cecAddrBroadcast {
		return fmt.Errorf("cec %s on %s: not acknowledged (tx status %#x)", what, c.path, m.TxStatus)
	}
	return nil
}

// PowerOn sends Image View On to the TV, then Active Source.
func (c *CECAdapter) PowerOn() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	from, phys, err := c.ensureAddress()
	if err != nil {
		return fmt.Errorf("cec power on %s: %w", c.path, err)
	}
	ivo, err := cecImageViewOn(from)
	if err != nil {
		return err
	}
	if err := c.transmit(ivo, "image view on"); err != nil {
		return err
	}
	as, err := cecActiveSource(from, phys)
	if err != nil {
		return fmt.Errorf("cec power on %s: %w", c.path, err)
	}
	return c.transmit(as, "active source")
}

// Standby sends Standby to the TV.
func (c *CECAdapter) Standby() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	from, _, err := c.ensureAddress()
	if err != nil {
		return fmt.Errorf("cec standby %s: %w", c.path, err)
	}
	sb, err := cecStandby(from)
	if err != nil {
		return err
	}
	return c.transmit(sb, "standby")
}

func (c *CECAdapter) Close() error {
	if err := unix.Close(c.fd); err != nil {
		return fmt.Errorf("close cec %s: %w", c.path, err)
	}
	return nil
}
