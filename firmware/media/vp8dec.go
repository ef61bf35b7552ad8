package media

/*
#include <stdlib.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8dx.h>

typedef struct {
	vpx_codec_ctx_t ctx;
	int inited;
} stoa_vp8dec;

static int stoa_vp8dec_open(stoa_vp8dec *d) {
	vpx_codec_dec_cfg_t cfg = {0};
	cfg.threads = 1;
	vpx_codec_err_t err = vpx_codec_dec_init(&d->ctx, vpx_codec_vp8_dx(), &cfg, 0);
	if (err == VPX_CODEC_OK) d->inited = 1;
	return err;
}

static int stoa_vp8dec_decode(stoa_vp8dec *d, const unsigned char *buf, unsigned int n) {
	return vpx_codec_decode(&d->ctx, buf, n, NULL, 0);
}

static vpx_image_t *stoa_vp8dec_frame(stoa_vp8dec *d) {
	vpx_codec_iter_t iter = NULL;
	return vpx_codec_get_frame(&d->ctx, &iter);
}

static void stoa_vp8dec_close(stoa_vp8dec *d) {
	if (d->inited) vpx_codec_destroy(&d->ctx);
	d->inited = 0;
}

static unsigned char *stoa_img_plane(vpx_image_t *img, int i) { return img->planes[i]; }
static int stoa_img_stride(vpx_image_t *img, int i) { return img->stride[i]; }
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"unsafe"
)

// VideoDecoder turns a codec's compressed frames back into pictures.
type VideoDecoder interface {
	// Decode decodes one whole compressed frame. It returns nil (and no error) when the frame
	// carries no picture to show. The picture is the caller's.
	Decode(frame []byte) (*image.YCbCr, error)
	Close() error
}

// NewVideoDecoder opens a decoder for codec ("vp8").
func NewVideoDecoder(codec string) (VideoDecoder, error) {
	switch codec {
	case "vp8", "VP8", "video/VP8":
		return newVP8Decoder()
	default:
		return nil, fmt.Errorf("open video decoder: codec %q is not supported (want vp8)", codec)
	}
}

type vp8Decoder struct {
	mu sync.Mutex
	d  *C.stoa_vp8dec
}

func newVP8Decoder() (*vp8Decoder, error) {
	d := (*C.stoa_vp8dec)(C.calloc(1, C.size_t(unsafe.Sizeof(C.stoa_vp8dec{}))))
	if d == nil {
		return nil, errors.New("open vp8 decoder: out of memory")
	}
	if rc := C.stoa_vp8dec_open(d); rc != C.VPX_CODEC_OK {
		C.free(unsafe.Pointer(d))
		return nil, fmt.Errorf("open vp8 decoder: %s", C.GoString(C.vpx_codec_err_to_string(C.vpx_codec_err_t(rc))))
	}
	return &vp8Decoder{d: d}, nil
}

// maxCompressedFrame bounds what is handed to libvpx; a VP8 frame of any sane size is far below.
const maxCompressedFrame = 16 << 20

// maxDecodePixels bounds the picture a remote keyframe may ask the decoder to allocate (4K UHD):
// VP8 sizes go up to 16383x16383, which would cost gigabytes.
const maxDecodePixels = 3840 * 2160

// vp8KeyframeSize reads the picture size from a keyframe header (RFC 6386 9.1).
func vp8KeyframeSize(b []byte) (w, h int, ok bool) {
	if !IsVP8Keyframe(b) {
		return 0, 0, false
	}
	return int(b[6]) | int(b[7]&0x3f)<<8, int(b[8]) | int(b[9]&0x3f)<<8, true
}

func (v *vp8Decoder) Decode(frame []byte) (*image.YCbCr, error) {
	if len(frame) == 0 {
		return nil, errors.New("vp8 decode: empty frame")
	}
	if len(frame) > maxCompressedFrame {
		return nil, fmt.Errorf("vp8 decode: frame of %d bytes is too large", len(frame))
	}
	if w, h, ok := vp8KeyframeSize(frame); ok && (w == 0 || h == 0 || w*h > maxDecodePixels) {
		return nil, fmt.Errorf("vp8 decode: keyframe of %dx%d is outside 1..%d pixels", w, h, maxDecodePixels)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.d == nil {
		return nil, fmt.Errorf("vp8 decode: %w", ErrClosed)
	}
	if rc := C.stoa_vp8dec_decode(v.d, (*C.uchar)(&frame[0]), C.uint(len(frame))); rc != C.VPX_CODEC_OK {
		msg := C.GoString(C.vpx_codec_err_to_string(C.vpx_codec_err_t(rc)))
		if d := C.vpx_codec_error_detail(&v.d.ctx); d != nil {
			msg += ": " + C.GoString(d)
		}
		return nil, fmt.Errorf("vp8 decode: %s", msg)
	}
	img := C.stoa_vp8dec_frame(v.d)
	if img == nil {
		return nil, nil
	}
	if img.fmt != C.VPX_IMG_FMT_I420 {
		return nil, fmt.Errorf("vp8 decode: unexpected image format %d", int(img.fmt))
	}
	w, h := int(img.d_w), int(img.d_h)
	out := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	copyPlane(out.Y, out.YStride, C.stoa_img_plane(img, 0), int(C.stoa_img_stride(img, 0)), w, h)
	cw, ch := (w+1)/2, (h+1)/2
	copyPlane(out.Cb, out.CStride, C.stoa_img_plane(img, 1), int(C.stoa_img_stride(img, 1)), cw, ch)
	copyPlane(out.Cr, out.CStride, C.stoa_img_plane(img, 2), int(C.stoa_img_stride(img, 2)), cw, ch)
	return out, nil
}

// copyPlane copies a w x h plane out of the decoder's buffer (valid until the next decode).
func copyPlane(dst []byte, dstStride int, src *C.uchar, srcStride, w, h int) {
	s := unsafe.Slice((*byte)(unsafe.Pointer(src)), srcStride*(h-1)+w)
	for y := 0; y < h; y++ {
		copy(dst[y*dstStride:y*dstStride+w], s[y*srcStride:y*srcStride+w])
	}
}

func (v *vp8Decoder) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.d != nil {
		C.stoa_vp8dec_close(v.d)
		C.free(unsafe.Pointer(v.d))
		v.d = nil
	}
	return nil
}
