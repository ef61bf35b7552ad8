package sim

import (
	"math"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

func simBoard(t *testing.T, clk Clock) (*board.Board, *Hardware) {
	t.Helper()
	def, err := board.LoadDefinition("sim")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewWithOptions(def, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, Devices(b)
}

// readAdvancing reads n samples from r, advancing clk while Read waits for them.
func readAdvancing(t *testing.T, clk *ManualClock, r board.AudioReader, n int, step time.Duration) []int16 {
	t.Helper()
	p := make([]int16, n)
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(p)
		done <- err
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return p
		default:
		}
		if clk.Waiters() > 0 {
			clk.Advance(step)
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

func TestEchoPath(t *testing.T) {
	const rate = 48000
	tests := []struct {
		name   string
		delay  time.Duration
		gainDB float64
	}{
		{"default 30ms -6dB", 30 * time.Millisecond, -6},
		{"no delay 0dB", 0, 0},
		{"100ms -20dB", 100 * time.Millisecond, -20},
		{"off", 30 * time.Millisecond, math.Inf(-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewManualClock(time.UnixMilli(1_760_000_000_000))
			b, hw := simBoard(t, clk)
			if d, g := hw.Air.Echo(); d != 30*time.Millisecond || g != -6 {
				t.Fatalf("default echo %v %v dB", d, g)
			}
			if err := hw.Air.SetSource(Silence(), 0); err != nil {
				t.Fatal(err)
			}
			if err := hw.Air.SetEcho(tc.delay, tc.gainDB); err != nil {
				t.Fatal(err)
			}
			mic, err := b.Microphone.OpenCapture(board.AudioFormat{Rate: rate, Channels: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer mic.Close()
			spk, err := b.Speaker.OpenPlayback(board.AudioFormat{Rate: rate, Channels: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer spk.Close()
			burst := make([]int16, rate/50) // 20 ms of 1 kHz
			for i := range burst {
				burst[i] = int16(10000 * math.Sin(2*math.Pi*1000*float64(i)/rate))
			}
			if n, err := spk.Write(burst); err != nil || n != len(burst) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			got := readAdvancing(t, clk, mic, rate/5, 5*time.Millisecond) // 200 ms
			d := int(tc.delay * rate / time.Second)
			g := math.Pow(10, tc.gainDB/20)
			for i, v := range got {
				want := 0.0
				if j := i - d; j >= 0 && j < len(burst) {
					want = g * float64(burst[j])
				}
				if math.Abs(float64(v)-want) > 1 {
					t.Fatalf("mic sample %d = %d, want %.1f (echo of speaker sample %d)", i, v, want, i-d)
				}
			}
			if p := hw.Speaker.Played(0); len(p) != len(burst) || p[10] != burst[10] {
				t.Fatalf("speaker recorded %d samples", len(p))
			}
		})
	}
}

func TestEchoSettingsRejected(t *testing.T) {
	_, hw := simBoard(t, NewManualClock(time.Unix(0, 0)))
	for _, tc := range []struct {
		name  string
		delay time.Duration
		gain  float64
	}{{"negative delay", -time.Millisecond, -6}, {"long delay", 2 * time.Second, -6}, {"NaN gain", 0, math.NaN()}, {"loud", 0, 40}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := hw.Air.SetEcho(tc.delay, tc.gain); err == nil {
				t.Fatal("accepted")
			}
			if d, g := hw.Air.Echo(); d != 30*time.Millisecond || g != -6 {
				t.Fatalf("a refused setting changed the echo to %v %v", d, g)
			}
		})
	}
	if err := hw.Air.SetSource(nil, 0.5); err == nil {
		t.Fatal("nil source accepted")
	}
}

// zeroCrossingHz estimates a tone's frequency.
func zeroCrossingHz(p []int16, rate int) float64 {
	n := 0
	for i := 1; i < len(p); i++ {
		if (p[i-1] < 0) != (p[i] < 0) {
			n++
		}
	}
	return float64(n) / 2 / (float64(len(p)) / float64(rate))
}

func TestMicrophoneSources(t *testing.T) {
	tests := []struct {
		name   string
		src    Source
		ch     int
		wantHz float64
	}{
		{"default 440 Hz", nil, 1, 440},
		{"1 kHz stereo", Tone(1000), 2, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewManualClock(time.Unix(100, 0))
			b, hw := simBoard(t, clk)
			if tc.src != nil {
				if err := hw.Air.SetSource(tc.src, 0.5); err != nil {
					t.Fatal(err)
				}
			}
			mic, err := b.Microphone.OpenCapture(board.AudioFormat{Rate: 48000, Channels: tc.ch})
			if err != nil {
				t.Fatal(err)
			}
			defer mic.Close()
			p := readAdvancing(t, clk, mic, 48000*tc.ch/2, 10*time.Millisecond)
			mono := make([]int16, 0, len(p)/tc.ch)
			for i := 0; i < len(p); i += tc.ch {
				if tc.ch == 2 && p[i] != p[i+1] {
					t.Fatalf("stereo channels differ at %d", i)
				}
				mono = append(mono, p[i])
			}
			if hz := zeroCrossingHz(mono, 48000); math.Abs(hz-tc.wantHz) > tc.wantHz*0.02 {
				t.Fatalf("tone at %.1f Hz, want %.0f", hz, tc.wantHz)
			}
		})
	}
	t.Run("speech has pauses and voice", func(t *testing.T) {
		p := make([]float64, 48000*2)
		Speech().Fill(p, 0, 48000)
		var silent, loud int
		for _, v := range p {
			switch {
			case v == 0:
				silent++
			case math.Abs(v) > 0.3:
				loud++
			}
		}
		if silent < len(p)/10 || loud < len(p)/20 {
			t.Fatalf("speech: %d silent and %d loud samples of %d", silent, loud, len(p))
		}
	})
	t.Run("wrong rate", func(t *testing.T) {
		b, _ := simBoard(t, NewManualClock(time.Unix(0, 0)))
		if _, err := b.Microphone.OpenCapture(board.AudioFormat{Rate: 8000, Channels: 1}); err == nil {
			t.Fatal("8 kHz accepted")
		}
		if _, err := b.Speaker.OpenPlayback(board.AudioFormat{Rate: 48000, Channels: 6}); err == nil {
			t.Fatal("6 channels accepted")
		}
	})
}

// TestSpeakerBlocksWhenFull: Write queues at most the device buffer (60 ms) ahead of the present.
func TestSpeakerBlocksWhenFull(t *testing.T) {
	clk := NewManualClock(time.Unix(0, 0))
	b, hw := simBoard(t, clk)
	spk, err := b.Speaker.OpenPlayback(board.AudioFormat{Rate: 48000, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := spk.Write(make([]int16, 48000/5)) // 200 ms
		done <- err
	}()
	waitFor(t, "Write to block", func() bool { return clk.Waiters() > 0 })
	if n := hw.Speaker.PlayedTotal(); n != 2880 {
		t.Fatalf("queued %d samples before blocking, want 2880 (60 ms)", n)
	}
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if n := hw.Speaker.PlayedTotal(); n != 9600 {
				t.Fatalf("played %d samples, want 9600", n)
			}
			if err := spk.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := spk.Write(make([]int16, 10)); err == nil {
				t.Fatal("Write after Close succeeded")
			}
			return
		default:
		}
		if clk.Waiters() > 0 {
			clk.Advance(10 * time.Millisecond)
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}
