//go:build hw

package linux

import (
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

	// Wait for the tone to arrive (the first periods are silence), then analyse 200 ms.
	pcm := make([]int16, rate/5)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := r.Read(pcm); err != nil {
			t.Fatal(err)
		}
		if goertzel(pcm, 1000, rate) > 1e3*goertzel(pcm, 3000, rate) && zeroCrossFreq(pcm, rate) > 900 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 1 kHz tone captured in 20 s (zero-crossing estimate %.0f Hz)", zeroCrossFreq(pcm, rate))
		}
	}
	if _, err := r.Read(pcm); err != nil {
		t.Fatal(err)
	}
	est := zeroCrossFreq(pcm, rate)
	if math.Abs(est-1000) > 20 {
		t.Errorf("captured tone at %.1f Hz, want 1000±20", est)
	}
	p1k := goertzel(pcm, 1000, rate)
	for _, other := range []float64{500, 1500, 2000} {
		if po := goertzel(pcm, other, rate); p1k < 100*po {
			t.Errorf("1 kHz power %.3g not 20 dB above %v Hz power %.3g", p1k, other, po)
		}
	}
	t.Logf("captured tone: %.1f Hz by zero crossings", est)
}
