package media

import (
	"math"
	"testing"
)

// tone is n samples of a sine at freq Hz and amplitude amp (of full scale) at rate Hz.
func tone(n, rate int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * 32767 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

func TestOpusToneRoundTrip(t *testing.T) {
	tests := []struct {
		name          string
		rate, bitrate int
		freq          float64
	}{
		{"440Hz 48k 32kbps", 48000, 32000, 440},
		{"1kHz 48k default", 48000, 0, 1000},
		{"440Hz 16k 16kbps", 16000, 16000, 440},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := NewOpusEncoder(tc.rate, 1, tc.bitrate)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			dec, err := NewOpusDecoder(tc.rate, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			in := tone(tc.rate, tc.rate, tc.freq, 0.5) // 1 s
			frame := enc.FrameSamples()
			var out []int16
			pcm := make([]int16, dec.MaxFrameSamples())
			for off := 0; off+frame <= len(in); off += frame {
				pkt, err := enc.Encode(in[off : off+frame])
				if err != nil {
					t.Fatal(err)
				}
				n, err := dec.Decode(pkt, pcm)
				if err != nil {
					t.Fatal(err)
				}
				if n != frame {
					t.Fatalf("decoded %d samples, want %d", n, frame)
				}
				out = append(out, pcm[:n]...)
			}
			got := DominantFrequency(out[len(out)/5:], tc.rate)
			t.Logf("sent %.0f Hz, decoded %.1f Hz, level %.1f dBFS", tc.freq, got, PowerDB(out[len(out)/5:]))
			if math.Abs(got-tc.freq) > 5 {
				t.Fatalf("decoded tone at %.1f Hz, want %.0f ± 5 Hz", got, tc.freq)
			}
			if lvl := PowerDB(out[len(out)/5:]); math.Abs(lvl-PowerDB(in)) > 3 {
				t.Fatalf("decoded level %.1f dBFS, sent %.1f", lvl, PowerDB(in))
			}
			// A lost packet is concealed: a whole frame of samples comes back.
			if n, err := dec.Decode(nil, pcm[:frame]); err != nil || n != frame {
				t.Fatalf("concealment: %d samples, %v; want %d", n, err, frame)
			}
		})
	}
}

func TestOpusRejects(t *testing.T) {
	tests := []struct {
		name                    string
		rate, channels, bitrate int
	}{
		{"rate", 44100, 1, 0},
		{"channels", 48000, 3, 0},
		{"bitrate", 48000, 1, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := NewOpusEncoder(tc.rate, tc.channels, tc.bitrate); err == nil {
				e.Close()
				t.Fatal("encoder opened")
			}
		})
	}
	enc, err := NewOpusEncoder(48000, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if _, err := enc.Encode(make([]int16, 100)); err == nil {
		t.Fatal("encoded a 100-sample frame")
	}
	dec, err := NewOpusDecoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	if _, err := dec.Decode([]byte{1}, nil); err == nil {
		t.Fatal("decoded into an empty buffer")
	}
}
