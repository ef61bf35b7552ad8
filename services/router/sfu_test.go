package router

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// Three participants each publish Opus + VP8 and receive the other two intact; a new joiner
// makes the router renegotiate with those already there; the loudest RFC 6464 level wins the
// active speaker; mute stops forwarding and tells the others; leave removes the tracks; and
// DTLS-SRTP negotiated AES-128-GCM.
func TestMeetingForwardsEveryoneToEveryone(t *testing.T) {
	e := newTestEnv(t, nil)
	a := dialClient(t, e, "m1", "alice", clientOpts{audio: true, video: true, level: 10})
	b := dialClient(t, e, "m1", "bob", clientOpts{audio: true, video: true, level: 127})
	waitFor(t, 10*time.Second, "alice and bob exchange media", func() bool {
		return a.track("bob", "video-bob").packets.Load() > 5 && b.track("alice", "video-alice").packets.Load() > 5
	})
	offersA, offersB := a.offerCount(), b.offerCount()
	c := dialClient(t, e, "m1", "carol", clientOpts{audio: true, video: true, level: 127})
	clients := []*testClient{a, b, c}

	t.Run("everyone receives everyone intact", func(t *testing.T) {
		for _, rx := range clients {
			for _, tx := range clients {
				if rx == tx {
					continue
				}
				for _, tr := range []string{"audio-" + tx.id, "video-" + tx.id} {
					r := rx.track(tx.id, tr)
					waitFor(t, 15*time.Second, fmt.Sprintf("%s receives %s/%s", rx.id, tx.id, tr), func() bool { return r.packets.Load() >= 20 })
					if bad := r.bad.Load(); bad != 0 {
						t.Errorf("%s got %d corrupted packets from %s/%s", rx.id, bad, tx.id, tr)
					}
				}
			}
		}
	})
	t.Run("new joiner renegotiates existing participants", func(t *testing.T) {
		if a.offerCount() <= offersA || b.offerCount() <= offersB {
			t.Errorf("router offers before/after carol joined: alice %d/%d bob %d/%d", offersA, a.offerCount(), offersB, b.offerCount())
		}
		for _, x := range []*testClient{a, b} {
			if !x.message(api.SigTypeParticipantJoined, func(m api.SigMessage) bool {
				p, err := api.DecodeSigParticipant(m)
				return err == nil && p.ID == "carol"
			}) {
				t.Errorf("%s was not told carol joined", x.id)
			}
		}
	})
	t.Run("srtp profile is AES-128-GCM", func(t *testing.T) {
		st := e.sfu.Stats()
		if len(st.Participants) != 3 {
			t.Fatalf("stats list %d participants, want 3", len(st.Participants))
		}
		for _, p := range st.Participants {
			if p.SRTPProfile != "SRTP_AEAD_AES_128_GCM" {
				t.Errorf("%s: srtp profile %q", p.ID, p.SRTPProfile)
			}
			if len(p.Received) != 4 || len(p.Published) != 2 {
				t.Errorf("%s: receives %d tracks, publishes %d; want 4 and 2", p.ID, len(p.Received), len(p.Published))
			}
		}
		if b, err := json.Marshal(st); err != nil || len(b) == 0 {
			t.Errorf("stats do not encode: %v", err)
		}
	})
	t.Run("active speaker is the loud one", func(t *testing.T) {
		waitFor(t, 10*time.Second, "active_speaker alice at bob and carol", func() bool {
			ok := func(m api.SigMessage) bool {
				s, err := api.DecodeSigActiveSpeaker(m)
				return err == nil && s.ParticipantID == "alice"
			}
			return b.message(api.SigTypeActiveSpeaker, ok) && c.message(api.SigTypeActiveSpeaker, ok)
		})
	})
	t.Run("mute stops forwarding and notifies", func(t *testing.T) {
		a.sendMsg(api.SigTypeMute, api.SigMute{TrackID: "audio-alice", Muted: true})
		waitFor(t, 5*time.Second, "bob and carol see alice's audio muted", func() bool {
			ok := func(m api.SigMessage) bool {
				ev, err := api.DecodeSigTrackEvent(m)
				return err == nil && ev.Participant == "alice" && ev.Track.ID == "audio-alice" && ev.Track.Muted
			}
			return b.message(api.SigTypeTrack, ok) && c.message(api.SigTypeTrack, ok)
		})
		audio, video := b.track("alice", "audio-alice"), b.track("alice", "video-alice")
		time.Sleep(200 * time.Millisecond) // let packets in flight land
		na, nv := audio.packets.Load(), video.packets.Load()
		waitFor(t, 5*time.Second, "alice's video keeps flowing while muted", func() bool { return video.packets.Load() > nv+10 })
		if got := audio.packets.Load(); got > na+2 {
			t.Errorf("muted audio still forwarded: %d → %d packets", na, got)
		}
		a.sendMsg(api.SigTypeMute, api.SigMute{TrackID: "audio-alice", Muted: false})
		waitFor(t, 5*time.Second, "audio resumes after unmute", func() bool { return audio.packets.Load() > na+10 })
	})
	t.Run("leave removes tracks", func(t *testing.T) {
		c.sendMsg(api.SigTypeLeave, api.SigEmpty{})
		for _, x := range []*testClient{a, b} {
			waitFor(t, 5*time.Second, x.id+" told carol left", func() bool {
				return x.message(api.SigTypeParticipantLeft, func(m api.SigMessage) bool {
					l, err := api.DecodeSigParticipantLeft(m)
					return err == nil && l.ID == "carol"
				})
			})
		}
		waitFor(t, 5*time.Second, "router forgets carol's tracks", func() bool {
			st := e.sfu.Stats()
			if len(st.Participants) != 2 {
				return false
			}
			for _, p := range st.Participants {
				for _, r := range p.Received {
					if r.Publisher == "carol" {
						return false
					}
				}
			}
			return true
		})
		time.Sleep(200 * time.Millisecond)
		n := a.track("carol", "video-carol").packets.Load()
		m := a.track("bob", "video-bob").packets.Load()
		waitFor(t, 5*time.Second, "bob's media keeps flowing to alice", func() bool { return a.track("bob", "video-bob").packets.Load() > m+10 })
		if got := a.track("carol", "video-carol").packets.Load(); got != n {
			t.Errorf("alice still receives carol's video after leave: %d → %d", n, got)
		}
	})
}
