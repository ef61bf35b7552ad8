package router

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
)

// Hostile input from one participant ends that participant only: alice and bob keep
// exchanging media throughout (their packet counts keep rising after each attack).
func TestHostileParticipantIsCutOffOthersKeepFlowing(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.MessageRate, o.MessageBurst = 50, 100 })
	a := dialClient(t, e, "m", "alice", clientOpts{audio: true, video: true, level: 127})
	b := dialClient(t, e, "m", "bob", clientOpts{audio: true, video: true, level: 127})
	flowing := func(t *testing.T) {
		t.Helper()
		ab := func() int64 { return a.track("bob", "video-bob").packets.Load() }
		ba := func() int64 { return b.track("alice", "audio-alice").packets.Load() }
		n1, n2 := ab(), ba()
		waitFor(t, 10*time.Second, "alice and bob still exchange media", func() bool {
			return ab() > n1+10 && ba() > n2+20
		})
	}
	flowing(t)

	// closedWith waits for the hostile socket to end and checks the close status.
	closedWith := func(t *testing.T, h *testClient, want websocket.StatusCode) {
		t.Helper()
		var err error
		waitFor(t, 10*time.Second, "hostile socket closed", func() bool {
			var done bool
			err, done = h.socketEnded()
			return done
		})
		if got := websocket.CloseStatus(err); got != want {
			t.Errorf("close status %v (%v), want %v", got, err, want)
		}
	}
	raw := func(t *testing.T, id string) *testClient {
		h := connectWS(t, e, e.token(t, "m", id, testRouterID))
		h.id = id
		if m := h.next(t); m.Type != api.SigTypeJoined {
			t.Fatalf("first message %s", m.Type)
		}
		go h.readLoop()
		return h
	}
	tests := []struct {
		name   string
		attack func(t *testing.T, h *testClient)
		status websocket.StatusCode
		code   string // "error" code sent before closing ("" when none is expected)
	}{
		{"oversized message", func(t *testing.T, h *testClient) {
			big := `{"type":"candidate","data":{"candidate":"` + strings.Repeat("a", 70<<10) + `"}}`
			_ = h.ws.Write(h.ctx, websocket.MessageText, []byte(big))
		}, websocket.StatusMessageTooBig, ""},
		{"malformed json", func(t *testing.T, h *testClient) {
			_ = h.ws.Write(h.ctx, websocket.MessageText, []byte(`{"type":"offer","data":{"sdp":`))
		}, websocket.StatusPolicyViolation, codeMalformed},
		{"unknown fields", func(t *testing.T, h *testClient) {
			_ = h.ws.Write(h.ctx, websocket.MessageText, []byte(`{"type":"mute","data":{"track_id":"x","muted":true,"evil":1}}`))
		}, websocket.StatusPolicyViolation, codeMalformed},
		{"unknown type", func(t *testing.T, h *testClient) {
			h.sendMsg("subscribe_everything", map[string]any{})
		}, websocket.StatusPolicyViolation, codeUnknownType},
		{"router-only type", func(t *testing.T, h *testClient) {
			h.sendMsg(api.SigTypeJoined, api.SigJoined{ParticipantID: "x"})
		}, websocket.StatusPolicyViolation, codeUnknownType},
		{"message flood", func(t *testing.T, h *testClient) {
			for i := 0; i < 500; i++ {
				if err := h.ws.Write(h.ctx, websocket.MessageText, []byte(`{"type":"candidate","data":{"candidate":""}}`)); err != nil {
					return
				}
			}
		}, websocket.StatusPolicyViolation, codeRateLimited},
		{"second join", func(t *testing.T, h *testClient) {
			h.sendMsg(api.SigTypeJoin, api.SigJoin{Token: "x"})
		}, websocket.StatusPolicyViolation, codeProtocol},
		{"answer without offer", func(t *testing.T, h *testClient) {
			h.sendMsg(api.SigTypeAnswer, api.SigSDP{SDP: "v=0", Type: "answer"})
		}, websocket.StatusPolicyViolation, codeProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := raw(t, "mallory")
			tc.attack(t, h)
			closedWith(t, h, tc.status)
			if tc.code != "" && !h.message(api.SigTypeError, func(m api.SigMessage) bool {
				er, err := api.DecodeSigError(m)
				return err == nil && er.Code == tc.code
			}) {
				t.Errorf("no error message with code %s", tc.code)
			}
			flowing(t)
			waitFor(t, 5*time.Second, "mallory gone from the router", func() bool { return len(e.sfu.Stats().Participants) == 2 })
		})
	}

	t.Run("garbage rtp", func(t *testing.T) {
		h := dialClient(t, e, "m", "mallory", clientOpts{})
		garbage, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "junk", "junk")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.pc.AddTrack(garbage); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "mallory connected", func() bool { return h.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
		h.renegotiate(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Truncated VP8 descriptors (X bit without its byte), empty payloads, at full speed.
		for i := 0; ctx.Err() == nil; i++ {
			if _, done := h.socketEnded(); done {
				break
			}
			payload := []byte{0x80}
			if i%2 == 1 {
				payload = nil
			}
			err := garbage.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000)}, Payload: payload})
			if err != nil && !errors.Is(err, context.Canceled) {
				time.Sleep(time.Millisecond)
			}
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		closedWith(t, h, websocket.StatusPolicyViolation)
		// The router says why, in an error message and in the close reason; the message can be
		// lost when the client's own teardown races the cut-off, the close reason cannot.
		closeErr, _ := h.socketEnded()
		if !h.message(api.SigTypeError, func(m api.SigMessage) bool {
			er, err := api.DecodeSigError(m)
			return err == nil && er.Code == codeMedia
		}) && (closeErr == nil || !strings.Contains(closeErr.Error(), "malformed")) {
			t.Errorf("cut off without saying the media was malformed (no %s error; close: %v)", codeMedia, closeErr)
		}
		flowing(t)
	})

	t.Run("bad tokens refused", func(t *testing.T) {
		for _, tc := range []struct{ name, tok string }{
			{"wrong router", e.token(t, "m", "eve", "other-router")},
			{"not a token", "garbage"},
		} {
			h := connectWS(t, e, tc.tok)
			go h.readLoop()
			closedWith(t, h, websocket.StatusPolicyViolation)
			if !h.message(api.SigTypeError, func(m api.SigMessage) bool {
				er, err := api.DecodeSigError(m)
				return err == nil && er.Code == codeToken
			}) {
				t.Errorf("%s: no %s error", tc.name, codeToken)
			}
		}
		h := connectWS(t, e, "")
		go h.readLoop()
		h.sendMsg(api.SigTypeOffer, api.SigSDP{SDP: "v=0", Type: "offer"})
		closedWith(t, h, websocket.StatusPolicyViolation)
		flowing(t)
	})
}
