package call_test

import (
	"context"
	"log/slog"
	"math"
	"os"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/token"
)

// TestCallEchoCancellation measures the room's echo cancellation through a real call: a far-end
// participant talks (speech-like audio), the room plays it, the sim board's echo path (30 ms,
// -6 dB) feeds the speaker back into the otherwise silent microphone, and what the room sends
// is decoded by the participant. Without cancellation the room would send the echo itself, whose
// power is exactly what the speaker played plus the path's gain (the sim's echo path is a pure
// delay and gain); the room's decoded audio must be at least 20 dB below that (ERLE). Then the
// room's own tone is switched on while the far end keeps talking: it must come through.
// testLog shows the call's debug log on stderr when STOA_CALL_DEBUG is set.
func testLog() *slog.Logger {
	if os.Getenv("STOA_CALL_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestCallEchoCancellation(t *testing.T) {
	r := startRouter(t)
	b, hw := simBoard(t)
	delay, gainDB := hw.Air.Echo()
	if err := hw.Air.SetSource(sim.Silence(), 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	// Audio only: the measurement needs no video, and on a loaded machine encoding it would
	// only starve the audio loops.
	audio := *b
	audio.Camera = nil
	c, err := call.Start(ctx, call.Options{Join: r.join(t, "Boardroom", token.KindRoom), Board: &audio, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Leave()
	p, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: r.url, Token: r.join(t, "Alice", token.KindUser).Token},
		Sound: sim.Speech(), Level: 0.3, AudioOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	const window = 2 * 1.7 * 48000 // two cycles of the speech source's talk and pause
	waitFor(t, 20*time.Second, "the room playing Alice's speech", func() bool {
		return media.PowerDB(hw.Speaker.Played(4800)) > -40
	})
	// Let the canceller converge on about 4 s of speech, then measure over two speech cycles.
	converged := hw.Speaker.PlayedTotal() + 4*48000
	waitFor(t, 20*time.Second, "4 s of speech played", func() bool { return hw.Speaker.PlayedTotal() >= converged+window })

	t.Run("far-end speech echo is attenuated by at least 20 dB", func(t *testing.T) {
		played := hw.Speaker.Played(window)
		sent, err := p.WaitAudio(ctx, c.ID(), window)
		if err != nil {
			t.Fatal(err)
		}
		echoDB := media.PowerDB(played) + gainDB
		sentDB := media.PowerDB(sent)
		erle := echoDB - sentDB
		t.Logf("echo at the microphone %.1f dBFS (path %v, %.0f dB), room sent %.1f dBFS: ERLE %.1f dB", echoDB, delay, gainDB, sentDB, erle)
		if echoDB < -35 {
			t.Fatalf("the echo is only %.1f dBFS: the far end's speech did not reach the room's speaker", echoDB)
		}
		if erle < 20 {
			// Where it leaked: the sent audio per 200 ms (it lags what was played by the
			// network's delay, so segments are compared by power only).
			for at := 0; at+9600 <= len(sent); at += 9600 {
				t.Logf("  %.1f s: played %.1f dBFS, sent %.1f dBFS", float64(at)/48000, media.PowerDB(played[at:at+9600]), media.PowerDB(sent[at:at+9600]))
			}
			t.Fatalf("ERLE %.1f dB, want at least 20", erle)
		}
	})
	t.Run("near-end tone passes while the far end talks", func(t *testing.T) {
		const level = 0.25
		if err := hw.Air.SetSource(sim.Tone(440), level); err != nil {
			t.Fatal(err)
		}
		toneDB := 20*math.Log10(level) - 3 // a sine's power against the full-scale square
		// A noise suppressor learns a steady sound as noise within a second or two: judge
		// the tone after 3 s.
		since := hw.Speaker.PlayedTotal()
		waitFor(t, 20*time.Second, "3 s of the tone", func() bool { return hw.Speaker.PlayedTotal() >= since+3*48000 })
		sent := p.Audio(c.ID(), 48000)
		f, sentDB := media.DominantFrequency(sent, 48000), media.PowerDB(sent)
		t.Logf("near-end tone %.1f dBFS at the microphone, sent %.1f dBFS at %.1f Hz", toneDB, sentDB, f)
		if math.Abs(f-440) > 5 || sentDB < toneDB-6 {
			t.Fatalf("the room sent %.1f dBFS at %.1f Hz, want its 440 Hz tone at %.1f dBFS (±6 dB)", sentDB, f, toneDB)
		}
	})
}
