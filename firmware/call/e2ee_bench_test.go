package call_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/token"
)

// BenchmarkRoomVideoE2EE is the room's per-frame video work in a meeting — VP8 encode of a
// 640x360 camera frame, then decode at the far end — with SFrame (seal after encoding, open
// before decoding, as firmware/call does) against the same frames without it, both measured
// in this run as process CPU time (getrusage). It reports CPU per frame each way, their ratio,
// and the seal+open time per frame on its own.
func BenchmarkRoomVideoE2EE(b *testing.B) {
	send, recv := benchSessions(b)
	const w, h = 640, 360
	frame := media.NewFrame(w, h)
	enc, err := media.NewVideoEncoder(media.EncoderConfig{Codec: "vp8", Width: w, Height: h, FPS: 30, BitrateKbps: 800, KeyframeInterval: 30})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	dec, err := media.NewVideoDecoder("vp8")
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	// Plain and e2ee frames alternate in blocks of one keyframe interval, so warm-up and
	// picture content weigh the same on both sides.
	var plain, secured, sframe time.Duration
	var bytes, nPlain, nSecured int
	b.ResetTimer()
	for i := range 2 * b.N {
		e2eeOn := (i/30)%2 == 1
		for j := range frame.Y {
			frame.Y[j] = byte(j + i*7) // a moving picture: the encoder works every frame
		}
		start := cpuTime(b)
		data, err := enc.Encode(frame, i%30 == 0)
		if err != nil || data == nil {
			b.Fatalf("encode: %v", err)
		}
		if e2eeOn {
			s0 := time.Now() // wall time: getrusage is too coarse for microseconds
			if data, err = send.EncryptFrame(e2ee.CodecVP8, data); err != nil {
				b.Fatal(err)
			}
			bytes += len(data)
			if data, err = recv.DecryptFrame("room", e2ee.CodecVP8, data); err != nil {
				b.Fatal(err)
			}
			sframe += time.Since(s0)
		}
		if _, err := dec.Decode(data); err != nil {
			b.Fatal(err)
		}
		if d := cpuTime(b) - start; e2eeOn {
			secured += d
			nSecured++
		} else {
			plain += d
			nPlain++
		}
	}
	b.StopTimer()
	if nPlain == 0 || nSecured == 0 {
		return // too few frames for both sides (-benchtime below 31x)
	}
	perPlain := float64(plain.Nanoseconds()) / float64(nPlain)
	perSecured := float64(secured.Nanoseconds()) / float64(nSecured)
	b.ReportMetric(perPlain, "cpu-ns/frame-plain")
	b.ReportMetric(perSecured, "cpu-ns/frame-e2ee")
	b.ReportMetric(float64(sframe.Nanoseconds())/float64(nSecured), "sframe-ns/frame")
	b.ReportMetric(float64(bytes)/float64(nSecured), "B/frame")
	b.ReportMetric(perSecured/perPlain, "e2ee/plain")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSessions are the room's sending session and a receiver holding its key, exchanged as
// in a meeting (portal-signed tokens, HPKE key message).
func benchSessions(b *testing.B) (*e2ee.Session, *e2ee.Session) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	mk := func(id string) (*e2ee.Session, string) {
		k, err := e2ee.GenerateKey()
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		tok, err := token.Sign(token.Claims{Meeting: "1234567890", Participant: id, Name: id, Kind: token.KindUser,
			Perms: []string{token.PermPublish}, Router: "r", IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(),
			Nonce: id + "-n", E2EEKey: e2ee.EncodePublicKey(k.PublicKey())}, priv)
		if err != nil {
			b.Fatal(err)
		}
		s, err := e2ee.NewSession(e2ee.Config{Meeting: "1234567890", Self: id, Private: k, PortalKey: pub})
		if err != nil {
			b.Fatal(err)
		}
		return s, tok
	}
	room, roomTok := mk("room")
	peer, peerTok := mk("peer")
	out, err := room.AddPeer("peer", peerTok, false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := peer.AddPeer("room", roomTok, false); err != nil {
		b.Fatal(err)
	}
	if err := peer.HandleKey("room", out.Key); err != nil {
		b.Fatal(err)
	}
	return room, peer
}
