package call_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/token"
)

// BenchmarkGlassToGlass measures the time from the sim camera's capture stamp to the
// participant's decoded picture, through the room's pipeline (scale, VP8 encode, packetize,
// SRTP), the real router on loopback and the participant's depacketizer and decoder. It
// reports median and p95 in ms, and as a baseline measured in the same run the time of the
// codec work alone (encode and decode of the same frame size in process), with their ratio.
func BenchmarkGlassToGlass(b *testing.B) {
	r := startRouter(b)
	bd, _ := simBoard(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := call.Start(ctx, call.Options{Join: r.join(b, "Room", token.KindRoom), Board: bd})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Leave()
	p, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: r.url, Token: r.join(b, "Viewer", token.KindUser).Token}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if _, err := p.WaitFrames(ctx, c.ID(), 10); err != nil { // past the start-up keyframe
		b.Fatal(err)
	}
	skip := len(p.Frames(c.ID()))
	b.ResetTimer()
	frames, err := p.WaitFrames(ctx, c.ID(), skip+b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	var lat []float64
	width := 0
	for _, f := range frames[skip:] {
		lat = append(lat, float64(f.Decoded.Sub(f.Captured).Microseconds())/1000)
		width = f.Width
	}
	slices.Sort(lat)
	med, p95 := lat[len(lat)/2], lat[len(lat)*95/100]

	// Baseline: encode + decode of one sim frame at the received size, in process.
	base := codecBaseline(b, width)
	b.ReportMetric(med, "ms-median")
	b.ReportMetric(p95, "ms-p95")
	b.ReportMetric(base, "ms-codec-only")
	b.ReportMetric(med/base, "median/codec")
}

// codecBaseline is the mean time to encode and decode one frame of a second sim camera at
// width (16:9), in ms.
func codecBaseline(b *testing.B, width int) float64 {
	b.Helper()
	bd, _ := simBoard(b)
	w, h := width, width*9/16&^1
	st, err := bd.Camera.Open(board.VideoMode{Width: w, Height: h, FPS: 30})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	enc, err := media.NewVideoEncoder(media.EncoderConfig{Codec: "vp8", Width: w, Height: h, FPS: 30, BitrateKbps: 500})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	dec, err := media.NewVideoDecoder("vp8")
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	var total time.Duration
	n := 0
	for i := range 30 {
		f, err := st.ReadFrame(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		data, err := enc.Encode(f, i == 0)
		if err != nil {
			b.Fatal(err)
		}
		if data == nil {
			continue
		}
		if _, err := dec.Decode(data); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		n++
	}
	return float64(total.Microseconds()) / 1000 / float64(max(n, 1))
}
