//go:build hw

package linux

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// goertzel returns the power of freq in pcm.
func goertzel(pcm []int16, freq float64, rate int) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range pcm {
		s := float64(v) + k*s1 - s2
		s2, s1 = s1, s
	}
	return s1*s1 + s2*s2 - k*s1*s2
}

// zeroCrossFreq estimates the frequency of a pure tone from its sign changes.
func zeroCrossFreq(pcm []int16, rate int) float64 {
	n := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			n++
		}
	}
	return float64(n) / 2 / (float64(len(pcm)) / float64(rate))
}

func TestAudioLoopbackTone(t *testing.T) {
	needGuest(t)
	const rate = 48000
	f := board.AudioFormat{Rate: rate, Channels: 1}
	a := NewAudio(board.AudioDef{Playback: "hw:Loopback,0,0", Capture: "hw:Loopback,1,0", Rate: rate}, nil)
	// Playback first: snd-aloop makes the capture side take the playback side's parameters.
	w, err := a.Speaker().OpenPlayback(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Microphone().OpenCapture(f)
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]int16, rate/100)
		n := 0
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := range buf {
				buf[i] = int16(12000 * math.Sin(2*math.Pi*1000*float64(n)/rate))
				n++
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		w.Close() // wakes a blocked Write
		wg.Wait()
		r.Close()
	}()

	// The tone arrives after a few periods of silence, and a loaded guest may underrun the
	// playback (silence inserted) or overrun the capture (samples lost): a 200 ms window with
	// such a dropout says nothing about the path. Wait for a window that measures right — the
	// tone at 1000±20 Hz by zero crossings, 20 dB above its neighbours — and fail when none
	// comes: a wrong rate, format or channel mapping never gives one.
	pcm := make([]int16, rate/5)
	const within = 60 * time.Second
	deadline := time.Now().Add(within)
	for window := 1; ; window++ {
		if _, err := r.Read(pcm); err != nil {
			t.Fatal(err)
		}
		problem := toneProblem(pcm, rate)
		if problem == "" {
			t.Logf("captured tone: %.1f Hz by zero crossings (200 ms window %d)", zeroCrossFreq(pcm, rate), window)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 ms window of the 1 kHz tone captured right in %v (%d windows); the last: %s", within, window, problem)
		}
	}
}

// toneProblem says what keeps pcm from being a clean 1 kHz tone, "" when nothing does.
func toneProblem(pcm []int16, rate int) string {
	if est := zeroCrossFreq(pcm, rate); math.Abs(est-1000) > 20 {
		return fmt.Sprintf("tone at %.1f Hz by zero crossings, want 1000±20", est)
	}
	p1k := goertzel(pcm, 1000, rate)
	for _, other := range []float64{500, 1500, 2000} {
		if po := goertzel(pcm, other, rate); p1k < 100*po {
			return fmt.Sprintf("1 kHz power %.3g not 20 dB above %v Hz power %.3g", p1k, other, po)
		}
	}
	return ""
}
