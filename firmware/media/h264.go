package media

/*
#include <stdint.h>
#include <stdlib.h>
#include <x264.h>

typedef struct {
	x264_t *h;
	x264_param_t p;
	x264_picture_t pic;
	int64_t pts;
} stoa_x264;

static void stoa_x264_rate(x264_param_t *p, int kbps) {
	p->rc.i_rc_method = X264_RC_ABR;
	p->rc.i_bitrate = kbps;
	p->rc.i_vbv_max_bitrate = kbps;
	p->rc.i_vbv_buffer_size = kbps / 2; // half a second: a realtime buffer
}

// stoa_x264_open configures x264 for conferencing: the veryfast preset tuned zerolatency (no
// lookahead, no B-frames: each frame leaves as it is encoded), constrained baseline profile
// (what every WebRTC H.264 decoder takes), Annex-B output with SPS/PPS before every keyframe
// (a subscriber that joins late can start at any keyframe).
static int stoa_x264_open(stoa_x264 *e, int w, int h, int fps, int kbps, int kfint, int threads) {
	if (x264_param_default_preset(&e->p, "veryfast", "zerolatency") < 0) return -1;
	e->p.i_width = w;
	e->p.i_height = h;
	e->p.i_csp = X264_CSP_I420;
	e->p.i_fps_num = fps;
	e->p.i_fps_den = 1;
	e->p.i_timebase_num = 1;
	e->p.i_timebase_den = fps;
	e->p.i_keyint_max = kfint;
	e->p.i_threads = threads;
	e->p.b_sliced_threads = threads > 1;
	e->p.b_repeat_headers = 1;
	e->p.b_annexb = 1;
	e->p.i_log_level = X264_LOG_NONE;
	stoa_x264_rate(&e->p, kbps);
	if (x264_param_apply_profile(&e->p, "baseline") < 0) return -2;
	e->h = x264_encoder_open(&e->p);
	if (e->h == NULL) return -3;
	x264_picture_init(&e->pic);
	e->pic.img.i_csp = X264_CSP_I420;
	e->pic.img.i_plane = 3;
	return 0;
}

static int stoa_x264_set_bitrate(stoa_x264 *e, int kbps) {
	stoa_x264_rate(&e->p, kbps);
	return x264_encoder_reconfig(e->h, &e->p);
}

// stoa_x264_encode encodes one frame; *out points at the whole access unit (x264 lays the NAL
// units out back to back), valid until the next call. Returns its size, 0 when x264 kept the
// frame back, <0 on error.
static int stoa_x264_encode(stoa_x264 *e, uint8_t *y, uint8_t *u, uint8_t *v, int force_key, uint8_t **out) {
	x264_nal_t *nals;
	int n;
	x264_picture_t pic_out;
	e->pic.img.plane[0] = y;
	e->pic.img.plane[1] = u;
	e->pic.img.plane[2] = v;
	e->pic.img.i_stride[0] = e->p.i_width;
	e->pic.img.i_stride[1] = e->p.i_width / 2;
	e->pic.img.i_stride[2] = e->p.i_width / 2;
	e->pic.i_type = force_key ? X264_TYPE_IDR : X264_TYPE_AUTO;
	e->pic.i_pts = e->pts++;
	int size = x264_encoder_encode(e->h, &nals, &n, &e->pic, &pic_out);
	e->pic.img.plane[0] = e->pic.img.plane[1] = e->pic.img.plane[2] = NULL;
	if (size > 0) *out = nals[0].p_payload;
	return size;
}

static void stoa_x264_close(stoa_x264 *e) {
	if (e->h) x264_encoder_close(e->h);
	e->h = NULL;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/stoa-rooms/stoa/board"
)

// h264Encoder is x264 behind VideoEncoder. Its output is one Annex-B access unit per frame.
type h264Encoder struct {
	mu  sync.Mutex
	cfg EncoderConfig
	e   *C.stoa_x264 // C memory: x264 keeps pointers into its param and picture
}

func newH264Encoder(c EncoderConfig) (*h264Encoder, error) {
	e := (*C.stoa_x264)(C.calloc(1, C.size_t(unsafe.Sizeof(C.stoa_x264{}))))
	if e == nil {
		return nil, errors.New("open h264 encoder: out of memory")
	}
	if rc := C.stoa_x264_open(e, C.int(c.Width), C.int(c.Height), C.int(c.FPS), C.int(c.BitrateKbps),
		C.int(c.KeyframeInterval), C.int(encoderThreads(c.Width, c.Height))); rc != 0 {
		C.stoa_x264_close(e)
		C.free(unsafe.Pointer(e))
		return nil, fmt.Errorf("open h264 encoder %dx%d: x264 refused the parameters (step %d)", c.Width, c.Height, int(rc))
	}
	return &h264Encoder{cfg: c, e: e}, nil
}

func (x *h264Encoder) Encode(f *board.Frame, forceKey bool) ([]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.e == nil {
		return nil, fmt.Errorf("h264 encode: %w", ErrClosed)
	}
	if err := checkFrame(f, x.cfg.Width, x.cfg.Height); err != nil {
		return nil, fmt.Errorf("h264 encode: %w", err)
	}
	key := C.int(0)
	if forceKey {
		key = 1
	}
	var out *C.uint8_t
	n := C.stoa_x264_encode(x.e, (*C.uint8_t)(&f.Y[0]), (*C.uint8_t)(&f.Cb[0]), (*C.uint8_t)(&f.Cr[0]), key, &out)
	if n < 0 {
		return nil, fmt.Errorf("h264 encode frame %d: x264 failed", f.Seq)
	}
	if n == 0 {
		return nil, nil
	}
	return C.GoBytes(unsafe.Pointer(out), n), nil
}

func (x *h264Encoder) SetBitrate(kbps int) error {
	if kbps <= 0 || kbps > 100000 {
		return fmt.Errorf("h264 set bitrate: %d kbps out of range 1..100000", kbps)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.e == nil {
		return fmt.Errorf("h264 set bitrate: %w", ErrClosed)
	}
	if rc := C.stoa_x264_set_bitrate(x.e, C.int(kbps)); rc < 0 {
		return fmt.Errorf("h264 set bitrate %d kbps: x264 refused it", kbps)
	}
	x.cfg.BitrateKbps = kbps
	return nil
}

func (x *h264Encoder) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.e != nil {
		C.stoa_x264_close(x.e)
		C.free(unsafe.Pointer(x.e))
		x.e = nil
	}
	return nil
}
