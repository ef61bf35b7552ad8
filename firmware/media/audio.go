package media

import (
	"math"
	"math/cmplx"
)

// Mix adds every src into dst sample by sample, saturating at the int16 limits instead of
// wrapping (a wrap is a loud click). A src shorter than dst adds silence after its end.
func Mix(dst []int16, srcs ...[]int16) {
	for _, s := range srcs {
		n := min(len(s), len(dst))
		for i := 0; i < n; i++ {
			dst[i] = sat16(int32(dst[i]) + int32(s[i]))
		}
	}
}

// Gain scales pcm in place by percent (100 = unchanged, 0 = silence), saturating.
func Gain(pcm []int16, percent int) {
	if percent == 100 {
		return
	}
	p := int64(max(percent, 0))
	for i, v := range pcm {
		pcm[i] = sat16(int32(max(min(int64(v)*p/100, math.MaxInt16), math.MinInt16)))
	}
}

func sat16(v int32) int16 {
	return int16(max(min(v, math.MaxInt16), math.MinInt16))
}

// PowerDB is the mean power of pcm in dB relative to a full-scale square wave (dBFS); silence
// gives -200 rather than minus infinity so differences stay finite.
func PowerDB(pcm []int16) float64 {
	if len(pcm) == 0 {
		return -200
	}
	var sum float64
	for _, v := range pcm {
		f := float64(v)
		sum += f * f
	}
	ms := sum / float64(len(pcm)) / (32768 * 32768)
	if ms < 1e-20 {
		return -200
	}
	return 10 * math.Log10(ms)
}

// ERLE is the echo return loss enhancement in dB: how much weaker the canceller's output is
// than the echo that went into it, over the same stretch of samples.
func ERLE(echo, residual []int16) float64 {
	return PowerDB(echo) - PowerDB(residual)
}

// DominantFrequency finds the strongest frequency in pcm (mono, rate Hz): the peak of a
// Hann-windowed FFT, refined by a Goertzel scan around it in 0.1 Hz steps. It returns 0 for
// fewer than 64 samples or silence.
func DominantFrequency(pcm []int16, rate int) float64 {
	if len(pcm) < 64 || rate <= 0 {
		return 0
	}
	n := 1
	for n*2 <= len(pcm) && n < 1<<16 {
		n *= 2
	}
	seg := pcm[(len(pcm)-n)/2:][:n] // the middle, away from start-up transients
	x := make([]complex128, n)
	win := make([]float64, n)
	for i := range x {
		win[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		x[i] = complex(float64(seg[i])*win[i], 0)
	}
	fft(x)
	peak, peakMag := 0, 0.0
	for k := 1; k < n/2; k++ {
		if m := cmplx.Abs(x[k]); m > peakMag {
			peak, peakMag = k, m
		}
	}
	if peakMag == 0 {
		return 0
	}
	bin := float64(rate) / float64(n)
	best, bestPow := float64(peak)*bin, -1.0
	for f := (float64(peak) - 1) * bin; f <= (float64(peak)+1)*bin; f += 0.1 {
		if p := goertzel(seg, win, f, rate); p > bestPow {
			best, bestPow = f, p
		}
	}
	return best
}

// goertzel is the power of the windowed signal at frequency f.
func goertzel(pcm []int16, win []float64, f float64, rate int) float64 {
	c := 2 * math.Cos(2*math.Pi*f/float64(rate))
	var s1, s2 float64
	for i, v := range pcm {
		s := float64(v)*win[i] + c*s1 - s2
		s2, s1 = s1, s
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// fft is an in-place iterative radix-2 FFT; len(x) is a power of two.
func fft(x []complex128) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := 0; k < size/2; k++ {
				a, b := x[start+k], x[start+k+size/2]*wk
				x[start+k], x[start+k+size/2] = a+b, a-b
				wk *= w
			}
		}
	}
}

// ToneShare is the fraction (0–1) of pcm's energy (mono, rate Hz, Hann-windowed spectrum of its
// middle) that lies within width Hz of freq: near 1 for a clean tone, near width/(rate/2) for
// white noise. Unlike DominantFrequency it tells a tone from noise whose strongest bin happens
// to fall near freq.
func ToneShare(pcm []int16, rate int, freq, width float64) float64 {
	if len(pcm) < 64 || rate <= 0 {
		return 0
	}
	n := 1
	for n*2 <= len(pcm) && n < 1<<16 {
		n *= 2
	}
	seg := pcm[(len(pcm)-n)/2:][:n]
	x := make([]complex128, n)
	for i := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		x[i] = complex(float64(seg[i])*w, 0)
	}
	fft(x)
	bin := float64(rate) / float64(n)
	var total, near float64
	for k := 1; k < n/2; k++ {
		p := real(x[k])*real(x[k]) + imag(x[k])*imag(x[k])
		total += p
		if math.Abs(float64(k)*bin-freq) <= width {
			near += p
		}
	}
	if total == 0 {
		return 0
	}
	return near / total
}
