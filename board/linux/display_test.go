package linux

import (
	"image"
	"image/color"
	"testing"
	"unsafe"
)

func TestUAPIStructSizes(t *testing.T) {
	// Sizes from the kernel headers (pahole on x86-64 and arm64 agree: no long members differ).
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"drm_mode_card_res", unsafe.Sizeof(drmModeCardRes{}), 64},
		{"drm_mode_modeinfo", unsafe.Sizeof(drmModeInfo{}), 68},
		{"drm_mode_get_connector", unsafe.Sizeof(drmModeGetConnector{}), 80},
		{"drm_mode_get_encoder", unsafe.Sizeof(drmModeGetEncoder{}), 20},
		{"drm_mode_create_dumb", unsafe.Sizeof(drmModeCreateDumb{}), 32},
		{"drm_mode_map_dumb", unsafe.Sizeof(drmModeMapDumb{}), 16},
		{"drm_mode_fb_cmd", unsafe.Sizeof(drmModeFBCmd{}), 28},
		{"drm_mode_crtc", unsafe.Sizeof(drmModeCRTC{}), 104},
		{"drm_mode_crtc_page_flip", unsafe.Sizeof(drmModeCRTCPageFlip{}), 24},
		{"fb_var_screeninfo", unsafe.Sizeof(fbVarScreeninfo{}), 160},
		{"fb_fix_screeninfo", unsafe.Sizeof(fbFixScreeninfo{}), 80},
		{"cec_msg", unsafe.Sizeof(cecMsg{}), 56},
		{"cec_log_addrs", unsafe.Sizeof(cecLogAddrs{}), 92},
		{"cec_caps", unsafe.Sizeof(cecCaps{}), 76},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %d bytes, kernel has %d", tc.name, tc.got, tc.want)
		}
	}
	// Known ioctl numbers from the headers.
	if ioctlPageFlip != 0xC01864B0 || ioctlSetCRTC != 0xC06864A2 || ioctlCECTransmit != 0xC0386105 {
		t.Errorf("ioctl numbers: page flip %#x, setcrtc %#x, cec transmit %#x", ioctlPageFlip, ioctlSetCRTC, ioctlCECTransmit)
	}
}

func TestChooseDisplayMode(t *testing.T) {
	mode := func(w, h, hz int, preferred bool) drmModeInfo {
		m := drmModeInfo{HDisplay: uint16(w), VDisplay: uint16(h), VRefresh: uint32(hz)}
		if preferred {
			m.Type = drmModeTypePreferred
		}
		return m
	}
	edid := []drmModeInfo{mode(1024, 768, 60, true), mode(1280, 720, 50, false), mode(1280, 720, 60, false), mode(1920, 1080, 60, false)}
	tests := []struct {
		name      string
		modes     []drmModeInfo
		w, h      int
		wantW, wH int
		wantHz    int
		ok        bool
	}{
		{"exact size, highest refresh", edid, 1280, 720, 1280, 720, 60, true},
		{"zero size: preferred", edid, 0, 0, 1024, 768, 60, true},
		{"size not offered: preferred", edid, 800, 600, 1024, 768, 60, true},
		{"no preferred: first", []drmModeInfo{mode(640, 480, 60, false), mode(800, 600, 60, false)}, 0, 0, 640, 480, 60, true},
		{"exact preferred beats faster", []drmModeInfo{mode(1920, 1080, 120, false), mode(1920, 1080, 60, true)}, 1920, 1080, 1920, 1080, 60, true},
		{"no modes", nil, 0, 0, 0, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := chooseDisplayMode(tc.modes, tc.w, tc.h)
			if ok != tc.ok || int(m.HDisplay) != tc.wantW || int(m.VDisplay) != tc.wH || int(m.VRefresh) != tc.wantHz {
				t.Errorf("got %dx%d@%d ok=%v, want %dx%d@%d ok=%v", m.HDisplay, m.VDisplay, m.VRefresh, ok, tc.wantW, tc.wH, tc.wantHz, tc.ok)
			}
		})
	}
}

func TestRGBAToXRGB(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	img.Set(1, 0, color.RGBA{G: 200, A: 255})
	img.Set(2, 1, color.RGBA{B: 100, A: 255})
	pitch := 16 // padded rows, as dumb buffers have
	dst := make([]byte, pitch*2)
	rgbaToXRGB(dst, pitch, img)
	tests := []struct {
		off  int
		want [4]byte
	}{{0, [4]byte{0, 0, 255, 255}}, {4, [4]byte{0, 200, 0, 255}}, {pitch + 8, [4]byte{100, 0, 0, 255}}}
	for _, tc := range tests {
		if got := [4]byte(dst[tc.off : tc.off+4]); got != tc.want {
			t.Errorf("bytes at %d = %v, want %v (B, G, R, X)", tc.off, got, tc.want)
		}
	}
	// A buffer too small for the picture is filled as far as it goes, never overrun.
	rgbaToXRGB(make([]byte, 20), pitch, img)
}

func TestDrawFB(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.RGBA{R: 255, G: 255, B: 255, A: 255})
	img.Set(1, 0, color.RGBA{R: 255, A: 255})
	tests := []struct {
		name    string
		bpp     int
		r, g, b fbBitfield
		want    []byte
	}{
		{"xrgb8888", 32, fbBitfield{Offset: 16, Length: 8}, fbBitfield{Offset: 8, Length: 8}, fbBitfield{Length: 8}, []byte{255, 255, 255, 0, 0, 0, 255, 0}},
		{"rgb565", 16, fbBitfield{Offset: 11, Length: 5}, fbBitfield{Offset: 5, Length: 6}, fbBitfield{Length: 5}, []byte{0xff, 0xff, 0x00, 0xf8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := make([]byte, len(tc.want))
			drawFB(mem, len(tc.want), tc.bpp, tc.r, tc.g, tc.b, img)
			if string(mem) != string(tc.want) {
				t.Errorf("got % x, want % x", mem, tc.want)
			}
		})
	}
}
