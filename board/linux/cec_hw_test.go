//go:build hw

package linux

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cecModeExclFollowerPassthru makes an adapter hand every received message to us.
const cecModeExclFollowerPassthru = 0x30

type cecNode struct {
	path, name string
}

// vividCECNodes lists vivid's CEC adapters: "vivid-000-vid-cap0" is the HDMI input (it
// plays the TV), "vivid-000-vid-out0" an HDMI output (a playback device, us).
func vividCECNodes(t *testing.T) (tv, out cecNode) {
	t.Helper()
	paths, _ := filepath.Glob("/dev/cec*")
	var seen []string
	for _, p := range paths {
		fd, err := unix.Open(p, unix.O_RDWR, 0)
		if err != nil {
			continue
		}
		var caps cecCaps
		err = ioctl(fd, ioctlCECGCaps, unsafe.Pointer(&caps), "caps")
		unix.Close(fd)
		if err != nil {
			continue
		}
		name := string(bytes.TrimRight(caps.Name[:], "\x00"))
		seen = append(seen, p+"="+name)
		switch {
		case strings.Contains(name, "vid-cap") && tv.path == "":
			tv = cecNode{p, name}
		case strings.Contains(name, "vid-out") && out.path == "":
			out = cecNode{p, name}
		}
	}
	if tv.path == "" || out.path == "" {
		t.Fatalf("vivid CEC adapters not found (have %v): is the kernel built with CONFIG_VIDEO_VIVID_CEC?", seen)
	}
	return tv, out
}

// openTV configures the input adapter as the TV (logical address 0) and follows all messages.
func openTV(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	la := cecLogAddrs{NumLogAddrs: 1, CECVersion: cecVersion14, VendorID: cecVendorNone}
	copy(la.OSDName[:], "TV")
	la.PrimaryDeviceType[0] = 0 // TV
	la.LogAddrType[0] = 0       // CEC_LOG_ADDR_TYPE_TV
	la.AllDeviceTypes[0] = 0x80 // CEC_OP_ALL_DEVTYPE_TV
	if err := ioctl(fd, ioctlCECSLogAddrs, unsafe.Pointer(&la), "tv claim"); err != nil {
		t.Fatal(err)
	}
	mode := uint32(cecModeInitiator | cecModeExclFollowerPassthru)
	if err := ioctl(fd, ioctlCECSMode, unsafe.Pointer(&mode), "tv follower mode"); err != nil {
		t.Fatal(err)
	}
	return fd
}

// receive waits for the next message with opcode op at the TV.
func receive(fd int, op byte) ([]byte, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m := cecMsg{Timeout: 1000}
		if err := ioctl(fd, ioctlCECReceive, unsafe.Pointer(&m), "receive"); err != nil {
			if errors.Is(err, unix.ETIMEDOUT) {
				continue
			}
			return nil, err
		}
		if m.Len >= 2 && m.Msg[1] == op {
			return append([]byte(nil), m.Msg[:m.Len]...), nil
		}
	}
	return nil, fmt.Errorf("no message with opcode %#x in 10 s", op)
}

func TestCECVivid(t *testing.T) {
	needGuest(t)
	var tv, out cecNode
	eventually(t, 30*time.Second, func() error {
		if m, _ := filepath.Glob("/dev/cec*"); len(m) == 0 {
			return fmt.Errorf("no /dev/cec* devices")
		}
		return nil
	})
	tv, out = vividCECNodes(t)
	t.Logf("TV %s (%s), source %s (%s)", tv.path, tv.name, out.path, out.name)
	tvfd := openTV(t, tv.path)

	a, err := OpenCEC(out.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.PowerOn(); err != nil {
		t.Fatal(err)
	}
	ivo, err := receive(tvfd, cecOpImageViewOn)
	if err != nil {
		t.Fatal(err)
	}
	from := ivo[0] >> 4
	if ivo[0]&0xf != cecAddrTV {
		t.Errorf("image view on %x not addressed to the TV", ivo)
	}
	as, err := receive(tvfd, cecOpActiveSrc)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 4 || as[0] != from<<4|cecAddrBroadcast {
		t.Errorf("active source %x: want a broadcast from %d with a physical address", as, from)
	}
	if err := a.Standby(); err != nil {
		t.Fatal(err)
	}
	sb, err := receive(tvfd, cecOpStandby)
	if err != nil {
		t.Fatal(err)
	}
	if sb[0] != from<<4|cecAddrTV {
		t.Errorf("standby %x, want from %d to the TV", sb, from)
	}
	t.Logf("source logical address %d, physical %s", from, cecPhysString(uint16(as[2])<<8|uint16(as[3])))
}
