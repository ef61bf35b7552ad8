package linux

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DRMDisplay drives one connector of a DRM/KMS card with two dumb buffers: Draw fills the
// back buffer and page-flips to it, so the screen never shows a half-drawn picture. Cards
// without page flipping get SETCRTC per picture instead.
type DRMDisplay struct {
	fd          int
	path        string
	log         *slog.Logger
	crtc, conn  uint32
	mode        drmModeInfo
	bufs        [2]dumbBuffer
	front       int
	flipPending bool
	noFlip      bool
	savedCRTC   drmModeCRTC
}

type dumbBuffer struct {
	handle, fb, pitch uint32
	mem               []byte
}

// OpenDRM opens card (e.g. /dev/dri/card0) and sets a mode of width×height on its first
// connected connector (0×0: the connector's preferred mode).
func OpenDRM(card string, width, height int, log *slog.Logger) (*DRMDisplay, error) {
	if log == nil {
		log = slog.Default()
	}
	fd, err := unix.Open(card, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open display %s: %w", card, err)
	}
	d := &DRMDisplay{fd: fd, path: card, log: log.With("device", "display", "card", card)}
	if err := d.setup(width, height); err != nil {
		d.release()
		return nil, fmt.Errorf("open display %s: %w", card, err)
	}
	return d, nil
}

func (d *DRMDisplay) setup(width, height int) error {
	c := drmGetCap{Capability: drmCapDumbBuffer}
	if err := ioctl(d.fd, ioctlGetCap, unsafe.Pointer(&c), "get dumb buffer cap"); err != nil || c.Value == 0 {
		return fmt.Errorf("card has no dumb buffers (%v)", err)
	}
	var res drmModeCardRes
	if err := ioctl(d.fd, ioctlGetResources, unsafe.Pointer(&res), "get resources"); err != nil {
		return err
	}
	crtcs := make([]uint32, res.CountCRTCs)
	conns := make([]uint32, res.CountConnectors)
	encs := make([]uint32, res.CountEncoders)
	res2 := drmModeCardRes{CRTCIDPtr: ptr(crtcs), ConnectorIDPtr: ptr(conns), EncoderIDPtr: ptr(encs),
		CountCRTCs: res.CountCRTCs, CountConnectors: res.CountConnectors, CountEncoders: res.CountEncoders}
	err := ioctl(d.fd, ioctlGetResources, unsafe.Pointer(&res2), "get resources")
	runtime.KeepAlive(crtcs)
	runtime.KeepAlive(conns)
	runtime.KeepAlive(encs)
	if err != nil {
		return err
	}
	var tried []string
	for _, id := range conns[:min(len(conns), int(res2.CountConnectors))] {
		conn, modes, encIDs, err := d.connector(id)
		if err != nil {
			return err
		}
		if conn.Connection != drmModeConnected || len(modes) == 0 {
			tried = append(tried, fmt.Sprintf("connector %d not connected", id))
			continue
		}
		mode, ok := chooseDisplayMode(modes, width, height)
		if !ok {
			continue
		}
		crtc, err := d.pickCRTC(conn.EncoderID, encIDs, crtcs)
		if err != nil {
			tried = append(tried, fmt.Sprintf("connector %d: %v", id, err))
			continue
		}
		d.conn, d.crtc, d.mode = id, crtc, mode
		return d.start()
	}
	return fmt.Errorf("no connected connector with a mode (%v)", tried)
}

func (d *DRMDisplay) connector(id uint32) (drmModeGetConnector, []drmModeInfo, []uint32, error) {
	// Ask twice: once for the counts, once with arrays of that size.
	c := drmModeGetConnector{ConnectorID: id}
	if err := ioctl(d.fd, ioctlGetConnector, unsafe.Pointer(&c), "get connector"); err != nil {
		return c, nil, nil, err
	}
	modes := make([]drmModeInfo, c.CountModes)
	encs := make([]uint32, c.CountEncoders)
	c2 := drmModeGetConnector{ConnectorID: id, ModesPtr: ptr(modes), EncodersPtr: ptr(encs), CountModes: c.CountModes, CountEncoders: c.CountEncoders}
	err := ioctl(d.fd, ioctlGetConnector, unsafe.Pointer(&c2), "get connector")
	runtime.KeepAlive(modes)
	runtime.KeepAlive(encs)
	if err != nil {
		return c2, nil, nil, err
	}
	return c2, modes[:min(len(modes), int(c2.CountModes))], encs[:min(len(encs), int(c2.CountEncoders))], nil
}

// pickCRTC prefers the CRTC the connector's current encoder drives, else the first CRTC any
// of its encoders can drive.
func (d *DRMDisplay) pickCRTC(current uint32, encIDs, crtcs []uint32) (uint32, error) {
	ids := encIDs
	if current != 0 {
		ids = append([]uint32{current}, encIDs...)
	}
	for _, eid := range ids {
		e := drmModeGetEncoder{EncoderID: eid}
		if err := ioctl(d.fd, ioctlGetEncoder, unsafe.Pointer(&e), "get encoder"); err != nil {
			continue
		}
		if e.CRTCID != 0 {
			return e.CRTCID, nil
		}
		for i, c := range crtcs {
			if e.PossibleCRTCs&(1<<i) != 0 {
				return c, nil
			}
		}
	}
	return 0, errors.New("no usable CRTC")
}

// chooseDisplayMode picks the mode of exactly w×h (preferred, then highest refresh), or the
// connector's preferred mode, or its first.
func chooseDisplayMode(modes []drmModeInfo, w, h int) (drmModeInfo, bool) {
	if len(modes) == 0 {
		return drmModeInfo{}, false
	}
	better := func(a, b drmModeInfo) bool { // a better than b
		ap, bp := a.Type&drmModeTypePreferred != 0, b.Type&drmModeTypePreferred != 0
		if ap != bp {
			return ap
		}
		return a.VRefresh > b.VRefresh
	}
	found := false
	var best drmModeInfo
	if w > 0 && h > 0 {
		for _, m := range modes {
			if int(m.HDisplay) == w && int(m.VDisplay) == h && (!found || better(m, best)) {
				best, found = m, true
			}
		}
		if found {
			return best, true
		}
	}
	for _, m := range modes {
		if m.Type&drmModeTypePreferred != 0 {
			return m, true
		}
	}
	return modes[0], true
}

// start allocates the two buffers and shows the first.
func (d *DRMDisplay) start() error {
	saved := drmModeCRTC{CRTCID: d.crtc}
	if err := ioctl(d.fd, ioctlGetCRTC, unsafe.Pointer(&saved), "get crtc"); err == nil {
		d.savedCRTC = saved
	}
	for i := range d.bufs {
		b, err := d.createBuffer(int(d.mode.HDisplay), int(d.mode.VDisplay))
		if err != nil {
			return err
		}
		d.bufs[i] = b
	}
	if err := d.setCRTC(d.bufs[0].fb); err != nil {
		return err
	}
	d.front = 0
	d.log.Info("display mode set", "connector", d.conn, "crtc", d.crtc, "mode", fmt.Sprintf("%dx%d@%d", d.mode.HDisplay, d.mode.VDisplay, d.mode.VRefresh))
	return nil
}

func (d *DRMDisplay) createBuffer(w, h int) (dumbBuffer, error) {
	c := drmModeCreateDumb{Width: uint32(w), Height: uint32(h), BPP: 32}
	if err := ioctl(d.fd, ioctlCreateDumb, unsafe.Pointer(&c), "create dumb buffer"); err != nil {
		return dumbBuffer{}, err
	}
	b := dumbBuffer{handle: c.Handle, pitch: c.Pitch}
	fb := drmModeFBCmd{Width: uint32(w), Height: uint32(h), Pitch: c.Pitch, BPP: 32, Depth: 24, Handle: c.Handle}
	if err := ioctl(d.fd, ioctlAddFB, unsafe.Pointer(&fb), "add framebuffer"); err != nil {
		d.destroy(b)
		return dumbBuffer{}, err
	}
	b.fb = fb.FBID
	m := drmModeMapDumb{Handle: c.Handle}
	if err := ioctl(d.fd, ioctlMapDumb, unsafe.Pointer(&m), "map dumb buffer"); err != nil {
		d.destroy(b)
		return dumbBuffer{}, err
	}
	mem, err := unix.Mmap(d.fd, int64(m.Offset), int(c.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		d.destroy(b)
		return dumbBuffer{}, fmt.Errorf("mmap dumb buffer: %w", err)
	}
	b.mem = mem
	clear(b.mem)
	return b, nil
}

func (d *DRMDisplay) destroy(b dumbBuffer) {
	if b.mem != nil {
		_ = unix.Munmap(b.mem)
	}
	if b.fb != 0 {
		fb := b.fb
		_ = ioctl(d.fd, ioctlRmFB, unsafe.Pointer(&fb), "remove framebuffer")
	}
	if b.handle != 0 {
		h := b.handle
		_ = ioctl(d.fd, ioctlDestroyDumb, unsafe.Pointer(&h), "destroy dumb buffer")
	}
}

func (d *DRMDisplay) setCRTC(fb uint32) error {
	conns := []uint32{d.conn}
	c := drmModeCRTC{SetConnectorsPtr: ptr(conns), CountConnectors: 1, CRTCID: d.crtc, FBID: fb, ModeValid: 1, Mode: d.mode}
	err := ioctl(d.fd, ioctlSetCRTC, unsafe.Pointer(&c), "set crtc")
	runtime.KeepAlive(conns)
	return err
}

// Size is the mode's size.
func (d *DRMDisplay) Size() (int, int) { return int(d.mode.HDisplay), int(d.mode.VDisplay) }

// Draw converts img into the back buffer and flips to it.
func (d *DRMDisplay) Draw(img *image.RGBA) error {
	w, h := d.Size()
	if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
		return fmt.Errorf("draw on %s: picture is not %dx%d", d.path, w, h)
	}
	// The back buffer may still be on screen until the last flip completed.
	if err := d.waitFlip(time.Second); err != nil {
		return fmt.Errorf("draw on %s: %w", d.path, err)
	}
	back := 1 - d.front
	b := d.bufs[back]
	rgbaToXRGB(b.mem, int(b.pitch), img)
	if !d.noFlip {
		f := drmModeCRTCPageFlip{CRTCID: d.crtc, FBID: b.fb, Flags: drmModePageFlipEvent}
		err := ioctl(d.fd, ioctlPageFlip, unsafe.Pointer(&f), "page flip")
		switch {
		case err == nil:
			d.flipPending, d.front = true, back
			return nil
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
			d.log.Info("page flip unsupported, using SETCRTC", "err", err)
			d.noFlip = true
		default:
			return fmt.Errorf("draw on %s: %w", d.path, err)
		}
	}
	if err := d.setCRTC(b.fb); err != nil {
		return fmt.Errorf("draw on %s: %w", d.path, err)
	}
	d.front = back
	return nil
}

// waitFlip reads the DRM event queue until the pending flip completed.
func (d *DRMDisplay) waitFlip(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1024)
	for d.flipPending {
		left := time.Until(deadline)
		if left <= 0 {
			// A flip that never completes (display off) must not wedge the firmware.
			d.log.Warn("page flip did not complete, going on")
			d.flipPending = false
			return nil
		}
		ready, err := waitReadable(d.fd, left)
		if err != nil {
			return err
		}
		if !ready {
			continue
		}
		n, err := unix.Read(d.fd, buf)
		if err != nil {
			return fmt.Errorf("read drm events: %w", err)
		}
		for off := 0; off+8 <= n; {
			typ := *(*uint32)(unsafe.Pointer(&buf[off]))
			l := int(*(*uint32)(unsafe.Pointer(&buf[off+4])))
			if typ == drmEventFlipComplete {
				d.flipPending = false
			}
			if l < 8 {
				break
			}
			off += l
		}
	}
	return nil
}

// rgbaToXRGB writes img into dst (XRGB8888 little-endian: B, G, R, X bytes) with pitch.
func rgbaToXRGB(dst []byte, pitch int, img *image.RGBA) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for y := range h {
		if y*pitch+w*4 > len(dst) {
			return
		}
		o := img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y)
		src := img.Pix[o : o+w*4]
		row := dst[y*pitch : y*pitch+w*4]
		for x := 0; x < w*4; x += 4 {
			s := src[x : x+4 : x+4]
			r := row[x : x+4 : x+4]
			r[0], r[1], r[2], r[3] = s[2], s[1], s[0], 0xff
		}
	}
}

// Close restores the CRTC as it was and frees the buffers.
func (d *DRMDisplay) Close() error {
	_ = d.waitFlip(200 * time.Millisecond)
	if d.savedCRTC.CRTCID != 0 && d.savedCRTC.FBID != 0 {
		conns := []uint32{d.conn}
		s := d.savedCRTC
		s.SetConnectorsPtr, s.CountConnectors = ptr(conns), 1
		_ = ioctl(d.fd, ioctlSetCRTC, unsafe.Pointer(&s), "restore crtc")
		runtime.KeepAlive(conns)
	}
	d.release()
	return nil
}

func (d *DRMDisplay) release() {
	for _, b := range d.bufs {
		d.destroy(b)
	}
	d.bufs = [2]dumbBuffer{}
	if d.fd >= 0 {
		_ = unix.Close(d.fd)
		d.fd = -1
	}
}
