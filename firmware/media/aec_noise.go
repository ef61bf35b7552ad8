package media

/*
#include <speex/speex_preprocess.h>

static int stoa_pp_ctl_int(SpeexPreprocessState *pp, int req, int v) { return speex_preprocess_ctl(pp, req, &v); }
*/
import "C"

import "fmt"

// SetNoiseSuppression sets how far the preprocessor may turn down what it takes for the room's
// steady noise, in dB (negative; speexdsp's default is -15). 0 turns noise suppression off:
// a steady near-end sound (a hum, a test tone) is indistinguishable from noise and would
// otherwise be attenuated by that much after a second or two. The residual echo suppression
// stays on either way.
func (e *EchoCanceller) SetNoiseSuppression(db int) error {
	if db > 0 || db < -100 {
		return fmt.Errorf("set noise suppression: %d dB is outside -100..0", db)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pp == nil {
		return fmt.Errorf("set noise suppression: %w", ErrClosed)
	}
	if db == 0 {
		C.stoa_pp_ctl_int(e.pp, C.SPEEX_PREPROCESS_SET_DENOISE, 0)
		return nil
	}
	C.stoa_pp_ctl_int(e.pp, C.SPEEX_PREPROCESS_SET_DENOISE, 1)
	C.stoa_pp_ctl_int(e.pp, C.SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, C.int(db))
	return nil
}
