package media

import (
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// cpuTime is the user+system CPU time this process has used (every thread, libvpx's too).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ringSource stands in for a camera's VideoStream: it hands out the next of a ring of
// pre-rendered frames (rendering is the camera's work, not the pipeline's), stamping Seq and
// Captured as a driver does.
type ringSource struct {
	frames []*board.Frame
	seq    uint64
}

func (r *ringSource) ReadFrame() *board.Frame {
	f := r.frames[r.seq%uint64(len(r.frames))]
	f.Seq, f.Captured = r.seq, time.Now()
	r.seq++
	return f
}

// BenchmarkEncode720p measures capture->encode of 1280x720 at 30 fps, 2.5 Mbit/s VP8 (cpu-used
// 8, realtime), two ways over the same raw frames in the same run:
//   - libvpx-direct: a C loop calling vpx_codec_encode on the frames, the codec's own speed;
//   - pipeline: what roomd does per frame: take the camera frame, copy/scale it into the
//     layer's own frame (ScaleI420; the camera's buffer is reused by the next ReadFrame), and
//     Encode through the Go wrapper (a cgo call, the compressed bytes copied into Go memory).
//
// Each reports frames/s, ns/frame and cpu-ns/frame (process CPU time, so libvpx's threads
// count); pipeline, run second, also reports fps-ratio (pipeline fps / direct fps) and
// cpu-ratio (pipeline CPU per frame / direct CPU per frame). On a shared, loaded machine the
// two sub-benchmarks may see different load, so "interleaved" alternates blocks of 10 frames
// of each on one encoder and reports the same two ratios from times taken side by side.
func BenchmarkEncode720p(b *testing.B) {
	const w, h, ring = 1280, 720, 30
	raw, frames := patternFrames(w, h, ring)
	cfg := EncoderConfig{Codec: "vp8", Width: w, Height: h, FPS: 30, BitrateKbps: 2500}
	type result struct{ nsPerFrame, cpuPerFrame float64 }
	var direct result

	measure := func(b *testing.B, run func(b *testing.B, enc VideoEncoder)) result {
		enc, err := NewVideoEncoder(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer enc.Close()
		// Warm up: the first frames are keyframes and rate-control start-up.
		if _, err := encodeDirectVP8(enc, raw, ring); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		cpu0, t0 := cpuTime(b), time.Now()
		run(b, enc)
		elapsed, cpu := time.Since(t0), cpuTime(b)-cpu0
		b.StopTimer()
		r := result{float64(elapsed.Nanoseconds()) / float64(b.N), float64(cpu.Nanoseconds()) / float64(b.N)}
		b.ReportMetric(1e9/r.nsPerFrame, "frames/s")
		b.ReportMetric(r.nsPerFrame, "ns/frame")
		b.ReportMetric(r.cpuPerFrame, "cpu-ns/frame")
		return r
	}

	b.Run("libvpx-direct", func(b *testing.B) {
		direct = measure(b, func(b *testing.B, enc VideoEncoder) {
			if _, err := encodeDirectVP8(enc, raw, b.N); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("pipeline", func(b *testing.B) {
		src := &ringSource{frames: frames}
		layer := &board.Frame{Width: w, Height: h}
		r := measure(b, func(b *testing.B, enc VideoEncoder) {
			for i := 0; i < b.N; i++ {
				if err := ScaleI420(layer, src.ReadFrame()); err != nil {
					b.Fatal(err)
				}
				if _, err := enc.Encode(layer, false); err != nil {
					b.Fatal(err)
				}
			}
		})
		if direct.nsPerFrame > 0 {
			b.ReportMetric(direct.nsPerFrame/r.nsPerFrame, "fps-ratio")
			b.ReportMetric(r.cpuPerFrame/direct.cpuPerFrame, "cpu-ratio")
		}
	})
	b.Run("interleaved", func(b *testing.B) {
		enc, err := NewVideoEncoder(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer enc.Close()
		if _, err := encodeDirectVP8(enc, raw, ring); err != nil {
			b.Fatal(err)
		}
		src := &ringSource{frames: frames}
		layer := &board.Frame{Width: w, Height: h}
		const block = 10
		var dWall, pWall, dCPU, pCPU time.Duration
		var nd, np int
		b.ResetTimer()
		// One benchmark op is one frame; the ring's frames are encoded in order, blocks of
		// them alternately by the C loop and by the pipeline, so the picture moves smoothly.
		size := len(raw) / ring
		for done := 0; done < b.N; {
			n := min(block, b.N-done)
			c0, t0 := cpuTime(b), time.Now()
			if _, err := encodeDirectVP8(enc, raw[(done%ring)*size:], n); err != nil {
				b.Fatal(err)
			}
			c1, t1 := cpuTime(b), time.Now()
			done += n
			m := min(block, b.N-done)
			src.seq = uint64(done)
			for i := 0; i < m; i++ {
				if err := ScaleI420(layer, src.ReadFrame()); err != nil {
					b.Fatal(err)
				}
				if _, err := enc.Encode(layer, false); err != nil {
					b.Fatal(err)
				}
			}
			c2, t2 := cpuTime(b), time.Now()
			done += m
			dWall, dCPU, pWall, pCPU = dWall+t1.Sub(t0), dCPU+c1-c0, pWall+t2.Sub(t1), pCPU+c2-c1
			nd, np = nd+n, np+m
		}
		if np == 0 {
			return // b.N too small for a pipeline block: the framework runs again with more
		}
		b.StopTimer()
		b.ReportMetric(float64(np)/pWall.Seconds(), "pipeline-frames/s")
		b.ReportMetric(float64(nd)/dWall.Seconds(), "direct-frames/s")
		b.ReportMetric(float64(pCPU.Nanoseconds())/float64(np), "pipeline-cpu-ns/frame")
		b.ReportMetric(float64(dCPU.Nanoseconds())/float64(nd), "direct-cpu-ns/frame")
		b.ReportMetric((float64(np)/pWall.Seconds())/(float64(nd)/dWall.Seconds()), "fps-ratio")
		b.ReportMetric((float64(pCPU)/float64(np))/(float64(dCPU)/float64(nd)), "cpu-ratio")
	})
}
