package media

import (
	"math"
	"math/rand/v2"
	"testing"
)

// speechLike is n samples of a deterministic speech-like signal: voiced "syllables" of 150-400
// ms (a gliding pitch of 90-250 Hz with 1/k harmonics up to 4 kHz, some breath noise, a smooth
// envelope) separated by pauses of 50-350 ms.
func speechLike(n, rate int, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]int16, n)
	for i := 0; i < n; {
		talk := rate * (150 + rng.IntN(250)) / 1000
		f0 := 90 + rng.Float64()*160
		glide := (rng.Float64() - 0.5) * 60
		amp := 0.15 + rng.Float64()*0.15
		phase := 0.0
		for j := 0; j < talk && i+j < n; j++ {
			pos := float64(j) / float64(talk)
			f := f0 + glide*pos
			phase += 2 * math.Pi * f / float64(rate)
			env := math.Sin(math.Pi * pos)
			var s float64
			for k := 1; float64(k)*f < 4000; k++ {
				s += math.Sin(float64(k)*phase) / float64(k)
			}
			s = 0.6*s + 0.15*(rng.Float64()*2-1)
			out[i+j] = sat16(int32(amp * env * s * 32767))
		}
		i += talk + rate*(50+rng.IntN(300))/1000
	}
	return out
}

// echoPath is what the room does to the speaker's signal before the microphone hears it: a
// delay, a short decaying impulse response (the direct path and a dozen early reflections over
// 8 ms; sparse, so the simulation is cheap), a gain.
func echoPath(far []int16, rate int, delay float64, gainDB float64) []int16 {
	rng := rand.New(rand.NewPCG(3, 4))
	type tap struct {
		at int
		h  float64
	}
	taps := []tap{{0, 1}}
	for k := 0; k < 12; k++ {
		at := 1 + rng.IntN(rate*8/1000)
		taps = append(taps, tap{at, 0.5 * math.Exp(-float64(at)/float64(rate*3/1000)) * (rng.Float64()*2 - 1)})
	}
	g := math.Pow(10, gainDB/20)
	d := int(delay * float64(rate))
	out := make([]int16, len(far))
	for i := range out {
		var s float64
		for _, tp := range taps {
			if j := i - d - tp.at; j >= 0 {
				s += tp.h * float64(far[j])
			}
		}
		out[i] = sat16(int32(g * s))
	}
	return out
}

// noise is low-level white noise: a real microphone never delivers digital silence.
func noise(n int, amp float64, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 9))
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * 32767 * (rng.Float64()*2 - 1))
	}
	return out
}

// cancel runs mic and far through a canceller frame by frame and returns its output.
func cancel(t *testing.T, rate, frame, tailMs int, mic, far []int16) []int16 {
	t.Helper()
	ec, err := NewEchoCanceller(rate, frame, tailMs)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	out := make([]int16, len(mic))
	for off := 0; off+frame <= len(mic); off += frame {
		if err := ec.Process(mic[off:off+frame], far[off:off+frame], out[off:off+frame]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestEchoCancellerERLE(t *testing.T) {
	tests := []struct {
		name                string
		rate, frame, tailMs int
	}{
		{"48k 10ms frames 100ms tail", 48000, 480, 100},
		{"48k 20ms frames 100ms tail", 48000, 960, 100},
		{"16k 10ms frames 100ms tail", 16000, 160, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 5 * tc.rate
			far := speechLike(n, tc.rate, 11)
			echo := echoPath(far, tc.rate, 0.030, -6)
			mic := make([]int16, n)
			copy(mic, echo)
			Mix(mic, noise(n, 0.0003, 5)) // near end silent but for a -70 dBFS noise floor
			out := cancel(t, tc.rate, tc.frame, tc.tailMs, mic, far)
			last := n - 2*tc.rate // after convergence: the last 2 of 5 seconds
			erle := ERLE(echo[last:], out[last:])
			t.Logf("far %.1f dBFS, echo %.1f dBFS, out %.1f dBFS: ERLE %.1f dB (first second %.1f dB)",
				PowerDB(far[last:]), PowerDB(echo[last:]), PowerDB(out[last:]), erle, ERLE(echo[:tc.rate], out[:tc.rate]))
			if erle < 20 {
				t.Fatalf("ERLE %.1f dB, want >= 20", erle)
			}
		})
	}
}

func TestEchoCancellerDoubleTalk(t *testing.T) {
	const rate, frame = 48000, 480
	n := 5 * rate
	far := speechLike(n, rate, 21)
	echo := echoPath(far, rate, 0.030, -6)
	mic := make([]int16, n)
	copy(mic, echo)
	Mix(mic, noise(n, 0.0003, 6))
	// The room talks (a 440 Hz tone at -15 dBFS) from second 3 on, while the far end goes on.
	start := 3 * rate
	near := tone(n-start, rate, 440, 0.25)
	Mix(mic[start:], near)
	out := cancel(t, rate, frame, 100, mic, far)
	win := out[start+rate/2:] // let the canceller notice the double talk
	f := DominantFrequency(win, rate)
	loss := PowerDB(near[rate/2:]) - PowerDB(win)
	t.Logf("near-end tone %.1f dBFS, output %.1f dBFS at %.1f Hz (loss %.1f dB)", PowerDB(near[rate/2:]), PowerDB(win), f, loss)
	if math.Abs(f-440) > 5 {
		t.Fatalf("output's dominant frequency %.1f Hz, want the near-end 440 Hz tone", f)
	}
	if loss > 6 {
		t.Fatalf("near-end tone lost %.1f dB in double talk, want at most 6", loss)
	}
}

func TestEchoCancellerRejects(t *testing.T) {
	tests := []struct {
		name                string
		rate, frame, tailMs int
	}{
		{"rate", 4000, 40, 100},
		{"frame", 48000, 0, 100},
		{"frame too long", 48000, 9600, 100},
		{"tail", 48000, 480, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ec, err := NewEchoCanceller(tc.rate, tc.frame, tc.tailMs); err == nil {
				ec.Close()
				t.Fatal("opened")
			}
		})
	}
	ec, err := NewEchoCanceller(48000, 480, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if err := ec.Process(make([]int16, 480), make([]int16, 10), make([]int16, 480)); err == nil {
		t.Fatal("short far-end frame accepted")
	}
	// out may be mic itself.
	buf := tone(480, 48000, 440, 0.1)
	if err := ec.Process(buf, make([]int16, 480), buf); err != nil {
		t.Fatal(err)
	}
}
