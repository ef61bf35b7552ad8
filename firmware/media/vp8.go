package media

/*
#include <stdlib.h>
#include <string.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vp8cx.h>

typedef struct {
	vpx_codec_ctx_t ctx;
	vpx_codec_enc_cfg_t cfg;
	vpx_image_t img;
	vpx_codec_pts_t pts;
	int inited;
} stoa_vp8enc;

// stoa_vp8enc_open configures a realtime VP8 encoder: one pass, no lag (every input frame
// leaves as soon as it is encoded), error resilient (a lost packet spoils only what refers to
// it), CBR so the rate follows the router's estimate, and a fixed realtime speed (8 by default).
// cpu-used is given negative: a positive value makes VP8 pick its speed from how long past frames
// took (a CPU-share target), so output quality would drift with machine load; negative fixes
// the speed, as WebRTC does (6 on x86, 12 on ARM).
static int stoa_vp8enc_open(stoa_vp8enc *e, int w, int h, int fps, int kbps, int kfint, int threads, int speed) {
	vpx_codec_err_t err = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &e->cfg, 0);
	if (err != VPX_CODEC_OK) return err;
	e->cfg.g_w = w;
	e->cfg.g_h = h;
	e->cfg.g_timebase.num = 1;
	e->cfg.g_timebase.den = fps;
	e->cfg.g_threads = threads;
	e->cfg.g_lag_in_frames = 0;
	e->cfg.g_pass = VPX_RC_ONE_PASS;
	e->cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	e->cfg.rc_end_usage = VPX_CBR;
	e->cfg.rc_target_bitrate = kbps;
	e->cfg.rc_min_quantizer = 2;
	e->cfg.rc_max_quantizer = 56;
	e->cfg.rc_undershoot_pct = 100;
	e->cfg.rc_overshoot_pct = 15;
	e->cfg.rc_buf_initial_sz = 500;
	e->cfg.rc_buf_optimal_sz = 600;
	e->cfg.rc_buf_sz = 1000;
	e->cfg.rc_dropframe_thresh = 0;
	e->cfg.kf_mode = VPX_KF_AUTO;
	e->cfg.kf_min_dist = 0;
	e->cfg.kf_max_dist = kfint;
	err = vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), &e->cfg, 0);
	if (err != VPX_CODEC_OK) return err;
	e->inited = 1;
	vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, -speed);
	vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
	vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1);
	vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, 300);
	// The image header is set up once; stoa_vp8enc_encode points its planes at each frame.
	vpx_img_wrap(&e->img, VPX_IMG_FMT_I420, w, h, 1, (unsigned char *)1);
	return VPX_CODEC_OK;
}

static int stoa_vp8enc_set_bitrate(stoa_vp8enc *e, int kbps) {
	e->cfg.rc_target_bitrate = kbps;
	return vpx_codec_enc_config_set(&e->ctx, &e->cfg);
}

// stoa_vp8enc_encode encodes one I420 frame whose planes live in the caller's memory for the
// duration of the call only (the encoder copies what it keeps).
static int stoa_vp8enc_encode(stoa_vp8enc *e, unsigned char *y, unsigned char *u, unsigned char *v, int force_key) {
	e->img.planes[VPX_PLANE_Y] = y;
	e->img.planes[VPX_PLANE_U] = u;
	e->img.planes[VPX_PLANE_V] = v;
	e->img.stride[VPX_PLANE_Y] = e->cfg.g_w;
	e->img.stride[VPX_PLANE_U] = e->cfg.g_w / 2;
	e->img.stride[VPX_PLANE_V] = e->cfg.g_w / 2;
	vpx_enc_frame_flags_t flags = force_key ? VPX_EFLAG_FORCE_KF : 0;
	vpx_codec_err_t err = vpx_codec_encode(&e->ctx, &e->img, e->pts, 1, flags, VPX_DL_REALTIME);
	e->img.planes[VPX_PLANE_Y] = e->img.planes[VPX_PLANE_U] = e->img.planes[VPX_PLANE_V] = NULL;
	e->pts++;
	return err;
}

// stoa_vp8enc_next returns the next compressed frame packet of the last encode, or NULL.
static const vpx_codec_cx_pkt_t *stoa_vp8enc_next(stoa_vp8enc *e, vpx_codec_iter_t *iter) {
	const vpx_codec_cx_pkt_t *p;
	while ((p = vpx_codec_get_cx_data(&e->ctx, iter)) != NULL) {
		if (p->kind == VPX_CODEC_CX_FRAME_PKT) return p;
	}
	return NULL;
}

static void *stoa_pkt_buf(const vpx_codec_cx_pkt_t *p) { return p->data.frame.buf; }
static size_t stoa_pkt_size(const vpx_codec_cx_pkt_t *p) { return p->data.frame.sz; }

static void stoa_vp8enc_close(stoa_vp8enc *e) {
	if (e->inited) vpx_codec_destroy(&e->ctx);
	e->inited = 0;
}

// stoa_vp8enc_direct is the benchmark baseline: libvpx's own encode loop over count frames
// taken round-robin from nframes contiguous I420 frames, with no Go in between. It returns the
// compressed bytes produced, or -1 on an error.
static long long stoa_vp8enc_direct(stoa_vp8enc *e, unsigned char *frames, int nframes, int count) {
	size_t ysz = (size_t)e->cfg.g_w * e->cfg.g_h, csz = ysz / 4;
	long long total = 0;
	for (int i = 0; i < count; i++) {
		unsigned char *y = frames + (size_t)(i % nframes) * (ysz + 2 * csz);
		if (stoa_vp8enc_encode(e, y, y + ysz, y + ysz + csz, 0) != VPX_CODEC_OK) return -1;
		vpx_codec_iter_t iter = NULL;
		const vpx_codec_cx_pkt_t *p;
		while ((p = stoa_vp8enc_next(e, &iter)) != NULL) total += p->data.frame.sz;
	}
	return total;
}

static const char *stoa_vpx_err(stoa_vp8enc *e) { return vpx_codec_error_detail(&e->ctx); }
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/stoa-rooms/stoa/board"
)

// EncoderConfig is what a video encoder is opened with.
type EncoderConfig struct {
	Codec         string // "vp8" (libvpx) or "h264" (x264, Annex-B, constrained baseline)
	Width, Height int    // even; every frame given to Encode must have this size
	FPS           int
	BitrateKbps   int
	// KeyframeInterval is the longest distance between keyframes in frames; 0 means 10 s.
	KeyframeInterval int
	// Speed is libvpx's realtime speed, 4..16: higher costs less CPU per frame for a little
	// quality; 0 means 8. A small board (rpi4) wants 12 or more for 720p30. (VP8 only.)
	Speed int
}

// VideoEncoder turns I420 frames into a codec's bitstream, one compressed frame per call.
type VideoEncoder interface {
	// Encode compresses f (of the configured size); forceKey makes it a keyframe (answer to a
	// PLI). It returns nil when the encoder drops the frame. The result is the caller's.
	Encode(f *board.Frame, forceKey bool) ([]byte, error)
	// SetBitrate changes the target rate from the next frame on.
	SetBitrate(kbps int) error
	Close() error
}

// ErrClosed is returned by a codec used after Close.
var ErrClosed = errors.New("codec is closed")

// NewVideoEncoder opens an encoder for c.Codec.
func NewVideoEncoder(c EncoderConfig) (VideoEncoder, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("open video encoder: %w", err)
	}
	switch c.Codec {
	case "vp8", "VP8", "video/VP8":
		return newVP8Encoder(c)
	case "h264", "H264", "video/H264":
		return newH264Encoder(c)
	default:
		return nil, fmt.Errorf("open video encoder: codec %q is not supported (want vp8 or h264)", c.Codec)
	}
}

func (c *EncoderConfig) check() error {
	switch {
	case c.Width <= 0 || c.Height <= 0 || c.Width%2 != 0 || c.Height%2 != 0:
		return fmt.Errorf("size %dx%d must be positive and even", c.Width, c.Height)
	case c.Width > 8192 || c.Height > 8192:
		return fmt.Errorf("size %dx%d is too large", c.Width, c.Height)
	case c.FPS <= 0 || c.FPS > 240:
		return fmt.Errorf("frame rate %d out of range 1..240", c.FPS)
	case c.BitrateKbps <= 0 || c.BitrateKbps > 100000:
		return fmt.Errorf("bitrate %d kbps out of range 1..100000", c.BitrateKbps)
	case c.KeyframeInterval < 0:
		return fmt.Errorf("keyframe interval %d is negative", c.KeyframeInterval)
	}
	if c.Speed == 0 {
		c.Speed = 8
	}
	if c.Speed < 4 || c.Speed > 16 {
		return fmt.Errorf("speed %d out of range 4..16", c.Speed)
	}
	if c.KeyframeInterval == 0 {
		c.KeyframeInterval = 10 * c.FPS
	}
	return nil
}

// encoderThreads is how many threads libvpx may use: one below VGA-ish sizes (the slicing
// costs more than it saves), otherwise up to the CPUs there are, at most 4.
func encoderThreads(w, h int) int {
	if w*h < 640*480 {
		return 1
	}
	return min(runtime.NumCPU(), 4)
}

type vp8Encoder struct {
	mu  sync.Mutex
	cfg EncoderConfig
	e   *C.stoa_vp8enc // C memory: libvpx keeps pointers into it
}

func newVP8Encoder(c EncoderConfig) (*vp8Encoder, error) {
	e := (*C.stoa_vp8enc)(C.calloc(1, C.size_t(unsafe.Sizeof(C.stoa_vp8enc{}))))
	if e == nil {
		return nil, errors.New("open vp8 encoder: out of memory")
	}
	rc := C.stoa_vp8enc_open(e, C.int(c.Width), C.int(c.Height), C.int(c.FPS), C.int(c.BitrateKbps),
		C.int(c.KeyframeInterval), C.int(encoderThreads(c.Width, c.Height)), C.int(c.Speed))
	if rc != C.VPX_CODEC_OK {
		msg := C.GoString(C.vpx_codec_err_to_string(C.vpx_codec_err_t(rc)))
		C.stoa_vp8enc_close(e)
		C.free(unsafe.Pointer(e))
		return nil, fmt.Errorf("open vp8 encoder %dx%d: %s", c.Width, c.Height, msg)
	}
	return &vp8Encoder{cfg: c, e: e}, nil
}

func (v *vp8Encoder) Encode(f *board.Frame, forceKey bool) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.e == nil {
		return nil, fmt.Errorf("vp8 encode: %w", ErrClosed)
	}
	if err := checkFrame(f, v.cfg.Width, v.cfg.Height); err != nil {
		return nil, fmt.Errorf("vp8 encode: %w", err)
	}
	key := C.int(0)
	if forceKey {
		key = 1
	}
	rc := C.stoa_vp8enc_encode(v.e, (*C.uchar)(&f.Y[0]), (*C.uchar)(&f.Cb[0]), (*C.uchar)(&f.Cr[0]), key)
	if rc != C.VPX_CODEC_OK {
		return nil, fmt.Errorf("vp8 encode frame %d: %s", f.Seq, v.errString(rc))
	}
	var out []byte
	var iter C.vpx_codec_iter_t
	for p := C.stoa_vp8enc_next(v.e, &iter); p != nil; p = C.stoa_vp8enc_next(v.e, &iter) {
		out = append(out, unsafe.Slice((*byte)(C.stoa_pkt_buf(p)), int(C.stoa_pkt_size(p)))...)
	}
	return out, nil
}

func (v *vp8Encoder) errString(rc C.int) string {
	msg := C.GoString(C.vpx_codec_err_to_string(C.vpx_codec_err_t(rc)))
	if d := C.stoa_vpx_err(v.e); d != nil {
		msg += ": " + C.GoString(d)
	}
	return msg
}

func (v *vp8Encoder) SetBitrate(kbps int) error {
	if kbps <= 0 || kbps > 100000 {
		return fmt.Errorf("vp8 set bitrate: %d kbps out of range 1..100000", kbps)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.e == nil {
		return fmt.Errorf("vp8 set bitrate: %w", ErrClosed)
	}
	if rc := C.stoa_vp8enc_set_bitrate(v.e, C.int(kbps)); rc != C.VPX_CODEC_OK {
		return fmt.Errorf("vp8 set bitrate %d kbps: %s", kbps, v.errString(rc))
	}
	v.cfg.BitrateKbps = kbps
	return nil
}

func (v *vp8Encoder) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.e != nil {
		C.stoa_vp8enc_close(v.e)
		C.free(unsafe.Pointer(v.e))
		v.e = nil
	}
	return nil
}

// checkFrame makes sure f is an I420 frame of w x h whose planes are large enough, so C never
// reads past a Go slice.
func checkFrame(f *board.Frame, w, h int) error {
	if f == nil {
		return errors.New("nil frame")
	}
	if f.Width != w || f.Height != h {
		return fmt.Errorf("frame is %dx%d, encoder is %dx%d", f.Width, f.Height, w, h)
	}
	cs := (w / 2) * (h / 2)
	if len(f.Y) < w*h || len(f.Cb) < cs || len(f.Cr) < cs {
		return fmt.Errorf("frame planes %d/%d/%d bytes are short for %dx%d I420", len(f.Y), len(f.Cb), len(f.Cr), w, h)
	}
	return nil
}

// IsVP8Keyframe reports whether b is a VP8 keyframe: bit 0 of the frame tag (RFC 6386 9.1) is
// 0 for keyframes, and a keyframe carries the start code 9d 01 2a.
func IsVP8Keyframe(b []byte) bool {
	return len(b) >= 10 && b[0]&1 == 0 && b[3] == 0x9d && b[4] == 0x01 && b[5] == 0x2a
}

// encodeDirectVP8 encodes count frames (round-robin from frames, contiguous I420 of the
// encoder's size) in one C loop: the benchmark's baseline for what the Go pipeline costs.
func encodeDirectVP8(enc VideoEncoder, frames []byte, count int) (int64, error) {
	v, ok := enc.(*vp8Encoder)
	if !ok {
		return 0, fmt.Errorf("direct vp8 encode: %T is not a vp8 encoder", enc)
	}
	size := v.cfg.Width * v.cfg.Height * 3 / 2
	if len(frames) < size || len(frames)%size != 0 {
		return 0, fmt.Errorf("direct vp8 encode: %d bytes is not a whole number of %dx%d frames", len(frames), v.cfg.Width, v.cfg.Height)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.e == nil {
		return 0, fmt.Errorf("direct vp8 encode: %w", ErrClosed)
	}
	n := C.stoa_vp8enc_direct(v.e, (*C.uchar)(&frames[0]), C.int(len(frames)/size), C.int(count))
	if n < 0 {
		return 0, fmt.Errorf("direct vp8 encode: %s", C.GoString(C.stoa_vpx_err(v.e)))
	}
	return int64(n), nil
}
