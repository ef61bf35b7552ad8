package e2ee_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
)

// BenchmarkFrame measures SFrame encrypt+decrypt of one frame and reports its cost as a ratio
// to copying the same frame twice (what a pipeline without e2ee does at most), both measured
// in this run.
func BenchmarkFrame(b *testing.B) {
	mt := newMeeting(b)
	alice, bob := mt.join("alice"), mt.join("bob")
	vp8 := append([]byte{0x31, 0x10, 0x00}, bytes.Repeat([]byte{0x5a, 0xa5, 0x3c}, 10_000)...) // ~30 KB 720p delta frame
	for _, c := range []struct {
		name  string
		codec e2ee.Codec
		frame []byte
	}{
		{"vp8-30KB", e2ee.CodecVP8, vp8},
		{"opus-160B", e2ee.CodecOpus, bytes.Repeat([]byte{0x78}, 160)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.frame)))
			var sink []byte
			start := time.Now()
			for range b.N {
				x := append([]byte(nil), c.frame...)
				sink = append([]byte(nil), x...)
			}
			copyNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
			_ = sink
			b.ResetTimer()
			for range b.N {
				enc, err := alice.s.EncryptFrame(c.codec, c.frame)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bob.s.DecryptFrame("alice", c.codec, enc); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(copyNs, "copy-ns/op")
			b.ReportMetric(perOp/copyNs, "x-copy")
		})
	}
}
