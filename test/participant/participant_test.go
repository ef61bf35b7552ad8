package participant_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/router"
	"github.com/stoa-rooms/stoa/services/token"
	testmedia "github.com/stoa-rooms/stoa/test/media"
	"github.com/stoa-rooms/stoa/test/participant"
)

// TestThreeParticipantsThroughSFU runs three synthetic participants through the real in-process
// router: each publishes the fixtures as three simulcast layers plus audio, and each must decode
// the other two's frame numbers, never going backwards except where the sender loops its
// fixture, and receive their audio.
func TestThreeParticipantsThroughSFU(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	set, err := testmedia.Load(ctx, testmedia.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sfu := router.New(router.Options{ID: "router-1", TokenKey: func() ed25519.PublicKey { return pub }})
	mux := http.NewServeMux()
	mux.Handle("GET /rtc", sfu.Handler())
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/rtc"

	var ps []*participant.Participant
	for i := range 3 {
		now := time.Now()
		id := fmt.Sprintf("p%d", i+1)
		tok, err := token.Sign(token.Claims{
			Meeting: "1234567890", Participant: id, Name: "Synthetic " + id, Kind: token.KindUser,
			Perms: []string{token.PermPublish, token.PermSubscribe}, Router: "router-1",
			IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Nonce: id + "-nonce",
		}, priv)
		if err != nil {
			t.Fatal(err)
		}
		p, err := participant.Join(ctx, participant.Options{Client: rtcclient.Options{SignalURL: url, Token: tok}, Media: set})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		ps = append(ps, p)
	}
	for _, p := range ps {
		// 10 decoded frames (the decoder may skip while busy) and 1 s of audio from each other.
		if err := p.WaitMedia(ctx, 2, 10, 50); err != nil {
			t.Error(err)
		}
	}
	for _, p := range ps {
		r := p.Report()
		for _, other := range ps {
			if other == p {
				continue
			}
			rr, ok := r.Remote[other.ID()]
			if !ok {
				t.Fatalf("%s got nothing from %s: %+v", r.ID, other.ID(), r.Remote)
			}
			if rr.Backwards != 0 {
				t.Errorf("%s saw %s's frame numbers go backwards %d times: %v", r.ID, other.ID(), rr.Backwards, rr.Frames)
			}
			t.Logf("%s from %s: decoded %d (skipped %d, undecodable %d), widths %v, audio %d",
				r.ID, other.ID(), rr.Decoded, rr.Skipped, rr.Undecodable, rr.Widths, rr.AudioPackets)
		}
		if len(r.Remote) != 2 {
			t.Errorf("%s got media from %d others, want 2: %v", r.ID, len(r.Remote), r.Remote)
		}
	}
}
