package call

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/media"
)

// Audio runs at 48 kHz mono in 20 ms frames end to end.
const (
	audioRate    = 48000
	frameSamples = audioRate / 50
	frameDur     = 20 * time.Millisecond
	// echoTailMs covers targetDelay and the room's reverberation: the reference is found by
	// time and the measured delay (echoref.go, delay.go), so neither queueing nor the output
	// latency needs covering. A short tail adapts fast (firmware/media measured ~30 dB at
	// 100 ms, ~21 dB at 200 ms after 3 s).
	echoTailMs = 120
	// overrunSamples: a microphone reader this far behind the present lost samples (the
	// device overran, or the sim board dropped them) and resumes at the present.
	overrunSamples = audioRate
	opusBitrate    = 32000
	// noiseSuppressDB limits the preprocessor's noise suppression: speexdsp's default -15 dB
	// treats any steady sound in the room (the sim's test tone, a held note) as noise and
	// turns it down by that much within a second or two. At -3 dB it still drives the residual
	// echo suppression (off entirely, the call's echo attenuation fell from ~45 to ~25 dB).
	noiseSuppressDB = -3
)

// audioSender captures the microphone, cancels the far end's echo and publishes Opus.
type audioSender struct {
	c      *Call
	in     board.AudioReader
	pos    int64 // timeline position of the next sample read
	delay  *delayTracker
	aec    *media.EchoCanceller
	enc    *media.OpusEncoder
	track  *rtpTrack
	sender *webrtc.RTPSender

	toldMuted atomic.Bool
	heard     atomic.Bool
	level     atomic.Int32 // last frame's level, -dBov
}

func newAudioSender(c *Call, pc *webrtc.PeerConnection) (*audioSender, error) {
	a := &audioSender{c: c, delay: newDelayTracker()}
	var err error
	if a.in, err = c.o.Board.Microphone.OpenCapture(board.AudioFormat{Rate: audioRate, Channels: 1}); err != nil {
		return nil, fmt.Errorf("open microphone: %w", err)
	}
	a.pos = c.audioTL.pos()
	if a.aec, err = media.NewEchoCanceller(audioRate, frameSamples, echoTailMs); err != nil {
		a.close()
		return nil, err
	}
	if err = a.aec.SetNoiseSuppression(noiseSuppressDB); err != nil {
		a.close()
		return nil, err
	}
	if a.enc, err = media.NewOpusEncoder(audioRate, 1, opusBitrate); err != nil {
		a.close()
		return nil, err
	}
	if a.track, err = newOpusTrack(c.client.ID(), c.sess); err != nil {
		a.close()
		return nil, err
	}
	if a.sender, err = pc.AddTrack(a.track); err != nil {
		a.close()
		return nil, fmt.Errorf("publish audio: %w", err)
	}
	return a, nil
}

func (a *audioSender) start() {
	c := a.c
	c.wg.Add(2)
	go c.readRTCP(a.sender, "", rtcpHandler{heard: a.onHeard})
	go a.loop()
}

func (a *audioSender) onHeard() {
	if !a.heard.Swap(true) {
		a.c.mutes.kick()
	}
}

// loop reads 20 ms of microphone, cancels the echo of what the speaker played at the same
// time on the audio timeline, and sends it, until the call ends. The microphone is read while muted too, so the
// device does not overrun and the canceller keeps tracking the room.
func (a *audioSender) loop() {
	c := a.c
	defer c.wg.Done()
	mic := make([]int16, frameSamples)
	far := make([]int16, frameSamples)
	out := make([]int16, frameSamples)
	silence := make([]int16, frameSamples)
	var evs []playEvent
	for c.ctx.Err() == nil {
		before := c.audioTL.pos()
		if err := readFull(a.in, mic); err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("microphone read failed; audio stops", "err", err)
			}
			return
		}
		// A reader more than overrunSamples behind lost what it did not read (the device
		// overran, as the sim board does past a second) and got the latest samples. The
		// device decided at some moment during the read; when the two ends of the read
		// disagree, the middle is the best guess.
		if after := c.audioTL.pos(); after-a.pos > overrunSamples {
			if at := (before + after) / 2; at-a.pos > overrunSamples {
				c.log.Debug("microphone overran; resuming at the present", "behind_ms", (at-a.pos)*1000/audioRate)
				a.pos = at - int64(len(mic))
				a.delay.lost(-(after-before)/2-1, (after-before)/2+1)
			}
		}
		evs = c.playEvents.take(evs[:0])
		a.delay.played(evs)
		a.delay.ref(c.far, a.pos, far)
		a.pos += int64(len(mic))
		if a.delay.heard(c.far, mic, a.pos) {
			c.log.Debug("echo delay changed", "ms", float64(a.delay.k)/audioRate*1000, "why", a.delay.why)
		}
		if err := a.aec.Process(mic, far, out); err != nil {
			c.log.Warn("echo cancellation", "err", err)
			copy(out, mic)
		}
		pcm := out
		if c.micMuted.Load() {
			if a.toldMuted.Load() {
				a.level.Store(127)
				continue
			}
			pcm = silence
		}
		level := audioLevel(pcm)
		a.level.Store(int32(level))
		pkt, err := a.enc.Encode(pcm)
		if err != nil {
			c.log.Warn("opus encode", "err", err)
			continue
		}
		if err := a.track.writeFrame(pkt, frameDur, level); err != nil && c.ctx.Err() == nil {
			c.log.Debug("write audio", "err", err)
		}
	}
}

// readFull reads exactly len(p) samples.
func readFull(r board.AudioReader, p []int16) error {
	for n := 0; n < len(p); {
		k, err := r.Read(p[n:])
		if err != nil {
			return err
		}
		if k == 0 {
			return fmt.Errorf("read audio: device returned no samples")
		}
		n += k
	}
	return nil
}

// audioLevel is the RFC 6464 level of pcm: its RMS in -dBov, 0 (loudest) to 127 (silence).
func audioLevel(pcm []int16) int {
	var sum float64
	for _, s := range pcm {
		v := float64(s) / 32768
		sum += v * v
	}
	if sum == 0 {
		return 127
	}
	db := 10 * math.Log10(sum/float64(len(pcm)))
	return min(max(int(-db), 0), 127)
}

func (a *audioSender) close() {
	if a.in != nil {
		a.in.Close()
	}
	if a.aec != nil {
		a.aec.Close()
	}
	if a.enc != nil {
		a.enc.Close()
	}
}
