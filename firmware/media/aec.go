package media

/*
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

static int stoa_echo_set_rate(SpeexEchoState *st, int rate) { return speex_echo_ctl(st, SPEEX_ECHO_SET_SAMPLING_RATE, &rate); }
static int stoa_pp_set_echo(SpeexPreprocessState *pp, SpeexEchoState *st) { return speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_ECHO_STATE, st); }
static int stoa_pp_set_int(SpeexPreprocessState *pp, int req, int v) { return speex_preprocess_ctl(pp, req, &v); }
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// EchoCanceller removes from the microphone signal the echo of what the speaker played (the
// far end's voice coming back through the room): speexdsp's adaptive filter (MDF) followed by
// its preprocessor, which suppresses the residual echo the filter leaves and the room's noise.
// Mono only.
type EchoCanceller struct {
	mu    sync.Mutex
	echo  *C.SpeexEchoState
	pp    *C.SpeexPreprocessState
	frame int
}

// NewEchoCanceller opens a canceller for frames of frameSamples at rate Hz; tailMs is the
// longest echo it models (speaker-to-mic delay plus the room's early reverberation). 100 ms
// with 10 or 20 ms frames is what the tests measure (ERLE 27-33 dB at 48 kHz); a longer tail
// adapts more slowly (200 ms gave only ~21 dB after 3 s).
func NewEchoCanceller(rate, frameSamples, tailMs int) (*EchoCanceller, error) {
	switch {
	case rate < 8000 || rate > 48000:
		return nil, fmt.Errorf("open echo canceller: sample rate %d out of range 8000..48000", rate)
	case frameSamples <= 0 || frameSamples > rate/10:
		return nil, fmt.Errorf("open echo canceller: frame of %d samples out of range 1..%d (100 ms)", frameSamples, rate/10)
	case tailMs < 10 || tailMs > 1000:
		return nil, fmt.Errorf("open echo canceller: tail %d ms out of range 10..1000", tailMs)
	}
	tail := rate * tailMs / 1000
	echo := C.speex_echo_state_init(C.int(frameSamples), C.int(tail))
	if echo == nil {
		return nil, fmt.Errorf("open echo canceller: speex_echo_state_init(%d, %d) failed", frameSamples, tail)
	}
	C.stoa_echo_set_rate(echo, C.int(rate))
	pp := C.speex_preprocess_state_init(C.int(frameSamples), C.int(rate))
	if pp == nil {
		C.speex_echo_state_destroy(echo)
		return nil, fmt.Errorf("open echo canceller: speex_preprocess_state_init(%d, %d) failed", frameSamples, rate)
	}
	C.stoa_pp_set_echo(pp, echo)
	// Suppress the residual echo hard while only the far end talks, less while both do, so
	// the room's own voice survives double talk.
	C.stoa_pp_set_int(pp, C.SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, -45)
	C.stoa_pp_set_int(pp, C.SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, -15)
	return &EchoCanceller{echo: echo, pp: pp, frame: frameSamples}, nil
}

// FrameSamples is the frame length Process takes.
func (e *EchoCanceller) FrameSamples() int { return e.frame }

// Process cancels one frame: mic is what the microphone captured, farEnd what the speaker
// played at the same time (the same frame of the playback stream), out receives the cleaned
// signal (it may be mic). Every slice must be FrameSamples long.
func (e *EchoCanceller) Process(mic, farEnd, out []int16) error {
	if len(mic) != e.frame || len(farEnd) != e.frame || len(out) != e.frame {
		return fmt.Errorf("cancel echo: frames of %d/%d/%d samples, want %d", len(mic), len(farEnd), len(out), e.frame)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.echo == nil {
		return fmt.Errorf("cancel echo: %w", ErrClosed)
	}
	res := out
	if unsafe.SliceData(out) == unsafe.SliceData(mic) {
		res = make([]int16, e.frame) // speex needs distinct input and output
	}
	C.speex_echo_cancellation(e.echo, (*C.spx_int16_t)(&mic[0]), (*C.spx_int16_t)(&farEnd[0]), (*C.spx_int16_t)(&res[0]))
	C.speex_preprocess_run(e.pp, (*C.spx_int16_t)(&res[0]))
	if &res[0] != &out[0] {
		copy(out, res)
	}
	return nil
}

// Reset forgets the learned echo path (after the speaker or the room changed).
func (e *EchoCanceller) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.echo != nil {
		C.speex_echo_state_reset(e.echo)
	}
}

// Close frees the canceller.
func (e *EchoCanceller) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.echo != nil {
		C.speex_preprocess_state_destroy(e.pp)
		C.speex_echo_state_destroy(e.echo)
		e.echo, e.pp = nil, nil
	}
	return nil
}
