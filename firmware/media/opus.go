package media

/*
#include <opus/opus.h>

// The ctl calls are variadic macros cgo cannot call; these fix their argument types.
static int stoa_opus_set_bitrate(OpusEncoder *e, int bps) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(bps)); }
static int stoa_opus_set_fec(OpusEncoder *e, int on) { return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(on)); }
static int stoa_opus_set_loss(OpusEncoder *e, int pct) { return opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(pct)); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// OpusFrameMs is the frame duration OpusEncoder.Encode takes: 20 ms, what WebRTC sends.
const OpusFrameMs = 20

// maxOpusPacket is the largest packet libopus produces for one frame.
const maxOpusPacket = 4000

// OpusEncoder encodes 20 ms frames of 16-bit interleaved PCM for speech (OPUS_APPLICATION_VOIP)
// with in-band FEC on, so the far end can recover a lost packet from the next one.
type OpusEncoder struct {
	mu       sync.Mutex
	e        *C.OpusEncoder
	channels int
	frame    int // samples per channel in one frame
	buf      [maxOpusPacket]byte
}

func checkOpusFormat(rate, channels int) error {
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return fmt.Errorf("sample rate %d is not one Opus takes (8000, 12000, 16000, 24000, 48000)", rate)
	}
	if channels != 1 && channels != 2 {
		return fmt.Errorf("%d channels: Opus takes 1 or 2", channels)
	}
	return nil
}

// NewOpusEncoder opens an encoder; bitrateBps 0 lets libopus choose.
func NewOpusEncoder(rate, channels, bitrateBps int) (*OpusEncoder, error) {
	if err := checkOpusFormat(rate, channels); err != nil {
		return nil, fmt.Errorf("open opus encoder: %w", err)
	}
	if bitrateBps != 0 && (bitrateBps < 6000 || bitrateBps > 510000) {
		return nil, fmt.Errorf("open opus encoder: bitrate %d out of range 6000..510000", bitrateBps)
	}
	var rc C.int
	e := C.opus_encoder_create(C.opus_int32(rate), C.int(channels), C.OPUS_APPLICATION_VOIP, &rc)
	if rc != C.OPUS_OK || e == nil {
		return nil, fmt.Errorf("open opus encoder: %s", C.GoString(C.opus_strerror(rc)))
	}
	if bitrateBps != 0 {
		if rc := C.stoa_opus_set_bitrate(e, C.int(bitrateBps)); rc != C.OPUS_OK {
			C.opus_encoder_destroy(e)
			return nil, fmt.Errorf("open opus encoder: set bitrate %d: %s", bitrateBps, C.GoString(C.opus_strerror(rc)))
		}
	}
	C.stoa_opus_set_fec(e, 1)
	C.stoa_opus_set_loss(e, 5)
	return &OpusEncoder{e: e, channels: channels, frame: rate * OpusFrameMs / 1000}, nil
}

// FrameSamples is how many int16 values Encode takes (samples per channel x channels).
func (o *OpusEncoder) FrameSamples() int { return o.frame * o.channels }

// Encode compresses one 20 ms frame; the packet is the caller's.
func (o *OpusEncoder) Encode(pcm []int16) ([]byte, error) {
	if len(pcm) != o.frame*o.channels {
		return nil, fmt.Errorf("opus encode: got %d samples, want %d (20 ms x %d channels)", len(pcm), o.frame*o.channels, o.channels)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.e == nil {
		return nil, fmt.Errorf("opus encode: %w", ErrClosed)
	}
	n := C.opus_encode(o.e, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(o.frame),
		(*C.uchar)(unsafe.Pointer(&o.buf[0])), C.opus_int32(len(o.buf)))
	if n < 0 {
		return nil, fmt.Errorf("opus encode: %s", C.GoString(C.opus_strerror(n)))
	}
	return append([]byte(nil), o.buf[:n]...), nil
}

// SetBitrate changes the target rate.
func (o *OpusEncoder) SetBitrate(bps int) error {
	if bps < 6000 || bps > 510000 {
		return fmt.Errorf("opus set bitrate: %d out of range 6000..510000", bps)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.e == nil {
		return fmt.Errorf("opus set bitrate: %w", ErrClosed)
	}
	if rc := C.stoa_opus_set_bitrate(o.e, C.int(bps)); rc != C.OPUS_OK {
		return fmt.Errorf("opus set bitrate %d: %s", bps, C.GoString(C.opus_strerror(rc)))
	}
	return nil
}

// Close frees the encoder.
func (o *OpusEncoder) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.e != nil {
		C.opus_encoder_destroy(o.e)
		o.e = nil
	}
	return nil
}

// OpusDecoder decodes Opus packets to 16-bit interleaved PCM.
type OpusDecoder struct {
	mu       sync.Mutex
	d        *C.OpusDecoder
	channels int
	rate     int
}

// NewOpusDecoder opens a decoder producing rate Hz, channels interleaved.
func NewOpusDecoder(rate, channels int) (*OpusDecoder, error) {
	if err := checkOpusFormat(rate, channels); err != nil {
		return nil, fmt.Errorf("open opus decoder: %w", err)
	}
	var rc C.int
	d := C.opus_decoder_create(C.opus_int32(rate), C.int(channels), &rc)
	if rc != C.OPUS_OK || d == nil {
		return nil, fmt.Errorf("open opus decoder: %s", C.GoString(C.opus_strerror(rc)))
	}
	return &OpusDecoder{d: d, channels: channels, rate: rate}, nil
}

// MaxFrameSamples is a pcm length Decode always has room in: 120 ms (Opus' longest packet).
func (o *OpusDecoder) MaxFrameSamples() int { return o.rate * 120 / 1000 * o.channels }

// Decode decodes pkt into pcm and returns the samples decoded per channel. A nil or empty pkt
// means the packet was lost: libopus conceals it, filling len(pcm)/channels samples (which
// should then be one frame, 20 ms).
func (o *OpusDecoder) Decode(pkt []byte, pcm []int16) (int, error) {
	perCh := len(pcm) / o.channels
	if perCh == 0 {
		return 0, errors.New("opus decode: output buffer is empty")
	}
	if len(pkt) > maxCompressedFrame {
		return 0, fmt.Errorf("opus decode: packet of %d bytes is too large", len(pkt))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.d == nil {
		return 0, fmt.Errorf("opus decode: %w", ErrClosed)
	}
	var data *C.uchar
	if len(pkt) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&pkt[0]))
	}
	n := C.opus_decode(o.d, data, C.opus_int32(len(pkt)), (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(perCh), 0)
	if n < 0 {
		return 0, fmt.Errorf("opus decode %d bytes: %s", len(pkt), C.GoString(C.opus_strerror(n)))
	}
	return int(n), nil
}

// Close frees the decoder.
func (o *OpusDecoder) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.d != nil {
		C.opus_decoder_destroy(o.d)
		o.d = nil
	}
	return nil
}
