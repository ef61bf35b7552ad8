package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/test/browser"
	testmedia "github.com/stoa-rooms/stoa/test/media"
	"github.com/stoa-rooms/stoa/test/participant"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestTURNOnly joins a Go participant restricted to relay candidates (rtcclient RelayOnly) and
// a Chromium with the page's ?relay=1 (iceTransportPolicy "relay") to one meeting: neither
// uses a host candidate, so both must reach the router through the proxy's TURN server, whose
// URLs and short-lived credentials come in the join response. Media flows both ways, both
// selected candidate pairs are relay on the local side, and the proxy's metrics count the
// allocations and the relayed bytes in both directions.
func TestTURNOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	set, err := testmedia.Load(ctx, testmedia.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	loop := set.Spec.Frames
	camera := cfPatternY4M(t, cfCameraW, cfCameraH, set.Spec.FPS, loop)
	stack := stoatest.Start(t, stoatest.Options{})
	sess := stack.Login(t)
	conf := cfPortalTLS(t, stack, sess)
	m := cfCreateMeeting(t, sess, "Relay only", "")
	// The manager hands out TURN servers once the proxy has reported to it; the router may
	// register first.
	cfWaitLog(t, stack, "proxy registered")
	probe := cfWaitRouter(t, sess, m.ID)

	var turnURLs []string
	for _, s := range probe.ICEServers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
				turnURLs = append(turnURLs, u)
				if s.Username == "" || s.Credential == "" {
					t.Errorf("TURN server %v comes without credentials", s.URLs)
				}
			}
		}
	}
	if len(turnURLs) == 0 {
		t.Fatalf("join response has no TURN server: %+v", probe.ICEServers)
	}
	t.Logf("TURN URLs from the join response: %v", turnURLs)
	before := cfGetMetrics(t, stack.ProxyAddr)
	allocsBefore, _ := cfMetric(before, "stoa_turn_allocations_total", "")

	chrome := cfOpenBrowser(t, stack, "Chromium", m.ID, "&relay=1", camera)
	chrome.join(t)
	goer := cfJoinGo(ctx, t, sess, conf, set, m.ID, "Go relay", true)
	chromeID := cfPeerByName(t, goer, "Chromium")
	wg := cfRequestKeyframes(ctx, goer, chromeID, 400*time.Millisecond)
	t.Cleanup(wg.Wait)

	t.Run("media flows both ways through the relay", func(t *testing.T) {
		st := chrome.waitMediaFlows(t, goer.ID())
		seen := chrome.cfFramesAdvance(t, goer.ID(), loop, 3)
		t.Logf("Chromium from Go: %+v, frame numbers on screen %v", st, seen)
		first := cfWaitFrom(ctx, t, goer, chromeID, 3, 50)
		rr := cfWaitFrom(ctx, t, goer, chromeID, first.Decoded+2, first.AudioPackets+25)
		cfSeqAdvanced(t, "Go from Chromium", first, rr)
		cfCheckAdvancing(t, "Go from Chromium", rr.Frames, loop)
		t.Logf("Go from Chromium: keyframes %d, frame numbers %v, video packets %d (RTP seq %d→%d), audio %d",
			rr.Decoded, rr.Frames, rr.VideoPackets, first.VideoSeq, rr.VideoSeq, rr.AudioPackets)
	})

	t.Run("the Go participant's selected pair is relay", func(t *testing.T) {
		pair := cfGoSelectedPair(t, goer)
		if pair.Local.Typ != webrtc.ICECandidateTypeRelay {
			t.Errorf("Go selected pair %s, want a relay local candidate", pair)
		}
		t.Logf("Go selected pair: %s", pair)
	})

	t.Run("Chromium's selected pair is relay", func(t *testing.T) {
		pair := cfChromeSelectedPair(t, chrome)
		if pair.LocalType != "relay" {
			t.Errorf("Chromium selected pair %+v, want a relay local candidate", pair)
		}
		t.Logf("Chromium selected pair: %+v", pair)
	})

	t.Run("the proxy counts allocations and relayed bytes", func(t *testing.T) {
		after := cfGetMetrics(t, stack.ProxyAddr)
		allocs, _ := cfMetric(after, "stoa_turn_allocations_total", "")
		open, _ := cfMetric(after, "stoa_turn_allocations", "")
		toPeer, _ := cfMetric(after, "stoa_turn_relayed_bytes_total", `direction="to_peer"`)
		fromPeer, _ := cfMetric(after, "stoa_turn_relayed_bytes_total", `direction="from_peer"`)
		t.Logf("proxy: %v allocations made (%v before the participants), %v open, %v bytes to peers, %v bytes from peers",
			allocs, allocsBefore, open, toPeer, fromPeer)
		if allocs-allocsBefore < 2 || open < 2 {
			t.Errorf("proxy made %v allocations (%v open), want at least one per participant (2)", allocs-allocsBefore, open)
		}
		// Both directions carry media: at least a second of 15 fps video each way.
		if toPeer < 50_000 || fromPeer < 50_000 {
			t.Errorf("proxy relayed %v bytes to and %v bytes from the router, want media both ways", toPeer, fromPeer)
		}
	})
	browser.RequireNoErrors(t, chrome.ctx)
}

// cfGoSelectedPair is the ICE candidate pair the Go participant's transport selected.
func cfGoSelectedPair(t *testing.T, p *participant.Participant) *webrtc.ICECandidatePair {
	t.Helper()
	for _, s := range p.Client().PeerConnection().GetSenders() {
		if tr := s.Transport(); tr != nil {
			pair, err := tr.ICETransport().GetSelectedCandidatePair()
			if err != nil {
				t.Fatalf("selected pair: %v", err)
			}
			if pair != nil {
				return pair
			}
		}
	}
	t.Fatal("the Go participant has no selected candidate pair")
	return nil
}

// chromePair is the page's selected candidate pair as its own getStats reports it.
type chromePair struct {
	LocalType, RemoteType, LocalAddress, RelayProtocol string
	BytesSent, BytesReceived                           int
}

func cfChromeSelectedPair(t *testing.T, b *meetingBrowser) chromePair {
	t.Helper()
	raw := bsRun(t, b.ctx, chromedp.Evaluate[string](`(async () => {
		const pcs = window.__stoaPCs || [];
		const pc = pcs.filter((p) => p.connectionState === "connected").pop();
		if (!pc) return "{}";
		const report = await pc.getStats();
		let pair = null;
		report.forEach((r) => {
			if (r.type === "transport" && r.selectedCandidatePairId) pair = report.get(r.selectedCandidatePairId);
		});
		if (!pair) return "{}";
		const local = report.get(pair.localCandidateId) || {};
		const remote = report.get(pair.remoteCandidateId) || {};
		return JSON.stringify({
			LocalType: local.candidateType || "", RemoteType: remote.candidateType || "",
			LocalAddress: (local.address || "") + ":" + (local.port || ""), RelayProtocol: local.relayProtocol || "",
			BytesSent: pair.bytesSent || 0, BytesReceived: pair.bytesReceived || 0,
		});
	})()`, chromedp.EvalAwaitPromise))
	var p chromePair
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatalf("Chromium pair %q: %v", raw, err)
	}
	if p.LocalType == "" {
		t.Fatalf("Chromium has no connected peer connection with a selected pair (console: %v)", browser.Console(b.ctx))
	}
	return p
}

// cfWaitLog waits until the stack's log has a line containing msg.
func cfWaitLog(t *testing.T, stack *stoatest.Stack, msg string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stack.Stdout.String(), msg) {
		if time.Now().After(deadline) {
			t.Fatalf("stoa-server never logged %q:\n%s", msg, stack.Stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
