package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/web"
	"github.com/stoa-rooms/stoa/test/browser"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestBrowserMeetingModules runs the meeting client's pure logic and its grid in Chromium,
// served by the real UI handler on loopback: meeting IDs, quality levels, rejoin backoff and
// which join errors stop rejoining; names render as inert text; badges follow mute state.
func TestBrowserMeetingModules(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)
	ctx := browser.New(t)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	bsDo(t, ctx, chromedp.Navigate(srv.URL+"/ui/index.html"), chromedp.WaitVisible(chromedp.CSS("#login-name")))

	eval := func(t *testing.T, expr string) string {
		t.Helper()
		return bsRun(t, ctx, chromedp.Evaluate[string](
			`import("/ui/js/meetingview.js").then((m) => JSON.stringify(`+expr+`))`, chromedp.EvalAwaitPromise))
	}
	tests := []struct{ expr, want string }{
		{`m.formatMeetingID("1234567890")`, `"123 456 7890"`},
		{`m.normalizeMeetingID(" 123 456-7890 ")`, `{"id":"1234567890"}`},
		{`m.normalizeMeetingID("123 456")`, `10 digits; this one has 6`},
		{`m.normalizeMeetingID("123456789x")`, `only digits`},
		{`m.classifyQuality(20, 0)`, `"good"`},
		{`m.classifyQuality(450, 1)`, `"fair"`},
		{`m.classifyQuality(20, 5)`, `"fair"`},
		{`m.classifyQuality(20, 25)`, `"poor"`},
		{`m.classifyQuality(900, 0)`, `"poor"`},
		{`m.classifyQuality(null, null)`, `"unknown"`},
		{`m.lossPercent({received: 100, lost: 0}, {received: 190, lost: 10})`, `10`},
		{`m.lossPercent({received: 100, lost: 0}, {received: 100, lost: 0})`, `null`},
		{`[0, 1, 2, 3, 4, 5, 50].map((n) => m.backoffDelay(n, 0))`, `[500,1000,2000,4000,8000,15000,15000]`},
		{`m.backoffDelay(0, 0.999) <= 600`, `true`},
		{`m.joinErrorIsFatal({status: 403, code: "meeting.pin"})`, `true`},
		{`m.joinErrorIsFatal({status: 403, code: "licence.full"})`, `false`},
		{`m.joinErrorIsFatal({status: 503, code: "router.unavailable"})`, `false`},
		{`m.joinErrorIsFatal({status: 0, code: "network"})`, `false`},
		{`m.joinErrorMessage({code: "licence.full", message: "All 10 licensed seats are in use"})`, `All 10 licensed seats are in use`},
		{`m.signalURL("/api/v1/rtc/r1", "https://portal.example:8443/ui/meeting.html")`, `"wss://portal.example:8443/api/v1/rtc/r1"`},
		{`m.simulcastEncodings().map((e) => e.rid)`, `["q","h","f"]`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			if got := eval(t, tc.expr); !strings.Contains(got, tc.want) {
				t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}

	t.Run("grid renders names as text and follows mute state", func(t *testing.T) {
		const hostile = `<img src=x id=pwned onerror="window.pwned=1">`
		got := bsRun(t, ctx, chromedp.Evaluate[string](`import("/ui/js/meetingtiles.js").then((m) => {
			const root = document.createElement("div");
			document.body.append(root);
			const g = new m.Grid(root, { name: "Me", stream: null, muted: { audio: true, video: false } });
			g.upsert({ id: "p1", name: `+jsString(hostile)+`, tracks: new Map([["a", { kind: "audio", muted: false }], ["v", { kind: "video", muted: true }]]) });
			g.speaker("p1");
			const tile = root.querySelector('[data-participant="p1"]');
			const self = root.querySelector('[data-participant="self"]');
			const out = {
				count: root.dataset.count,
				name: tile.querySelector(".tile-name").textContent,
				img: document.getElementById("pwned") !== null,
				mic: tile.querySelector(".mic-off").hidden,
				cam: tile.querySelector(".cam-off").hidden,
				speaking: tile.classList.contains("speaking"),
				selfMic: self.querySelector(".mic-off").hidden,
				selfMuted: self.querySelector("video").muted,
				remoteMuted: tile.querySelector("video").muted,
			};
			g.remove("p1");
			out.after = root.dataset.count;
			root.remove();
			return JSON.stringify(out);
		})`, chromedp.EvalAwaitPromise))
		type gridState struct {
			Count, Name, After                          string
			Img, Mic, Cam, Speaking, SelfMic, SelfMuted bool
			RemoteMuted                                 bool
		}
		var st gridState
		if err := json.Unmarshal([]byte(got), &st); err != nil {
			t.Fatalf("grid state %q: %v", got, err)
		}
		want := gridState{Count: "2", Name: hostile, After: "1", Mic: true, Speaking: true, SelfMuted: true}
		if st != want {
			t.Errorf("grid state\n got %+v\nwant %+v", st, want)
		}
	})
	browser.RequireNoErrors(t, ctx)
}

// meetingBrowser is one Chromium signed in to the portal and showing a meeting page.
type meetingBrowser struct {
	name string
	ctx  context.Context
}

func openMeeting(t *testing.T, stack *stoatest.Stack, name, meetingID string) *meetingBrowser {
	t.Helper()
	return openMeetingAs(t, stack, stack.AdminName, stack.AdminPassword, name, meetingID)
}

// openMeetingAs signs in as account in a fresh Chromium and opens the meeting's page, where
// the lobby shows the camera preview and the display name is set to name.
func openMeetingAs(t *testing.T, stack *stoatest.Stack, account, password, name, meetingID string) *meetingBrowser {
	t.Helper()
	ctx := browser.New(t, browser.IgnoreCertificateErrors())
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel)
	bsDo(t, ctx,
		chromedp.Navigate(stack.PortalURL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), account),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#app-header")),
		chromedp.Navigate(stack.PortalURL+"/ui/meeting.html?id="+meetingID),
		chromedp.WaitVisible(chromedp.CSS("#join-submit")),
	)
	// The fake camera is live in the preview before anyone joins.
	bsPoll(t, ctx, `document.getElementById("preview").videoWidth > 0`, name+"'s camera preview")
	bsDo(t, ctx, chromedp.SetValue(chromedp.CSS("#join-name"), name))
	return &meetingBrowser{name: name, ctx: ctx}
}

func (b *meetingBrowser) join(t *testing.T) {
	t.Helper()
	bsDo(t, b.ctx, chromedp.Click(chromedp.CSS("#join-submit")))
	bsPoll(t, b.ctx, `document.getElementById("call-state").dataset.state === "connected"`, b.name+" connected")
}

// remoteStats is what window.stoaMeeting.stats() reports for one remote participant.
type remoteStats struct {
	FramesDecoded        int `json:"framesDecoded"`
	FrameWidth           int `json:"frameWidth"`
	AudioSamplesReceived int `json:"audioSamplesReceived"`
	AudioPacketsReceived int `json:"audioPacketsReceived"`
}

type remoteParticipant struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	MicMuted    bool   `json:"micMuted"`
	CameraMuted bool   `json:"cameraMuted"`
}

func (b *meetingBrowser) participants(t *testing.T) []remoteParticipant {
	t.Helper()
	var out []remoteParticipant
	raw := bsRun(t, b.ctx, chromedp.Evaluate[string](`JSON.stringify(window.stoaMeeting.participants())`))
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("%s: participants %q: %v", b.name, raw, err)
	}
	return out
}

func (b *meetingBrowser) stats(t *testing.T) map[string]remoteStats {
	t.Helper()
	out := map[string]remoteStats{}
	raw := bsRun(t, b.ctx, chromedp.Evaluate[string](`window.stoaMeeting.stats().then((s) => JSON.stringify(s))`, chromedp.EvalAwaitPromise))
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("%s: stats %q: %v", b.name, raw, err)
	}
	return out
}

// waitPeer waits until b sees exactly one other participant, named name, and returns it.
func (b *meetingBrowser) waitPeer(t *testing.T, name string) remoteParticipant {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ps := b.participants(t)
		if len(ps) == 1 && ps[0].Name == name {
			return ps[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees participants %+v, want only %s (console: %v)", b.name, ps, name, browser.Console(b.ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMediaFlows polls b's decoder counters for participant id until video frames and audio
// samples have grown twice past their first non-zero reading: media is not only connected but
// keeps flowing.
func (b *meetingBrowser) waitMediaFlows(t *testing.T, id string) remoteStats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var first, last remoteStats
	rises := 0
	for {
		last = b.stats(t)[id]
		switch {
		case first.FramesDecoded == 0 || first.AudioSamplesReceived == 0:
			first = last
		case last.FramesDecoded > first.FramesDecoded && last.AudioSamplesReceived > first.AudioSamplesReceived:
			rises++
			if rises >= 2 {
				return last
			}
			first = last
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: media from %s does not flow: first %+v, last %+v (console: %v)", b.name, id, first, last, browser.Console(b.ctx))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestBrowserMeetingTwoChromiums: two Chromium instances with fake camera and microphone join
// one meeting through the real stoa-server (portal join, WebSocket proxy, router, manager);
// each decodes the other's video and receives its audio; a camera muted in one shows the
// badge in the other; leaving removes the tile. A wrong PIN is refused with the portal's words.
func TestBrowserMeetingTwoChromiums(t *testing.T) {
	stack := stoatest.Start(t, stoatest.Options{})
	sess := stack.Login(t)
	var open, locked api.Meeting
	for _, m := range []struct {
		req api.NewMeeting
		out *api.Meeting
	}{{api.NewMeeting{Name: "Browser call"}, &open}, {api.NewMeeting{Name: "Locked", PIN: "4711"}, &locked}} {
		status, body, err := sess.Do(http.MethodPost, "/api/v1/meetings", m.req, "", m.out)
		if err != nil || status != http.StatusOK && status != http.StatusCreated {
			t.Fatalf("create meeting %q: status %d, %v, %s", m.req.Name, status, err, body)
		}
	}

	// A router registers with the manager a moment after the stack is up; until then joins
	// are refused with 503 router.unavailable.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, err := sess.Do(http.MethodPost, "/api/v1/meetings/"+open.ID+"/join", api.MeetingJoinRequest{Name: "probe"}, "", nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joins still refused after 30 s: %d %v %s", status, err, body)
		}
		time.Sleep(1100 * time.Millisecond) // slower than the join rate limit refills (1/s)
	}

	t.Run("wrong PIN is refused with the portal's message", func(t *testing.T) {
		// The owner needs no PIN, so a plain user who does not own the meeting tries.
		const user, pw = "pin-tester", "correct horse battery staple"
		if status, body, err := sess.Do(http.MethodPost, "/api/v1/users", api.NewUser{Name: user, Role: "user", Password: pw}, "", nil); err != nil || status >= 300 {
			t.Fatalf("create user: %d %v %s", status, err, body)
		}
		b := openMeetingAs(t, stack, user, pw, "Pin Tester", locked.ID)
		bsPoll(t, b.ctx, `!document.getElementById("pin-field").hidden`, "the PIN field")
		bsDo(t, b.ctx, chromedp.SetValue(chromedp.CSS("#join-pin"), "0000"), chromedp.Click(chromedp.CSS("#join-submit")))
		bsPoll(t, b.ctx, `!document.getElementById("join-error").hidden`, "the join error")
		msg := bsText(t, b.ctx, "#join-error")
		var apiErr api.Error
		userSess := stoatest.LoginAs(t, stack.PortalURL, stack.Client(), user, pw)
		status, body, _ := userSess.Do(http.MethodPost, "/api/v1/meetings/"+locked.ID+"/join", api.MeetingJoinRequest{PIN: "0000", Name: "x"}, "", nil)
		if status != http.StatusForbidden || json.Unmarshal(body, &apiErr) != nil || apiErr.Code != "meeting.pin" {
			t.Fatalf("API join with a wrong PIN: %d %s", status, body)
		}
		if !strings.HasPrefix(msg, "Wrong PIN") || !strings.Contains(msg, apiErr.Message) {
			t.Errorf("#join-error %q, want Wrong PIN and the portal's %q", msg, apiErr.Message)
		}
		if state := bsRun(t, b.ctx, chromedp.Evaluate[string](`window.stoaMeeting.state()`)); state == "connected" {
			t.Errorf("call state %q after a wrong PIN", state)
		}
		browser.RequireNoErrors(t, b.ctx, "status of 403")
	})

	alice := openMeeting(t, stack, "Alice", open.ID)
	bob := openMeeting(t, stack, "Bob", open.ID)
	start := time.Now()
	alice.join(t)
	bob.join(t)
	bobSeen := alice.waitPeer(t, "Bob")
	aliceSeen := bob.waitPeer(t, "Alice")
	if bobSeen.ID == aliceSeen.ID {
		t.Fatalf("both participants have ID %s", bobSeen.ID)
	}

	t.Run("each decodes the other's video and hears the audio", func(t *testing.T) {
		a := alice.waitMediaFlows(t, bobSeen.ID)
		b := bob.waitMediaFlows(t, aliceSeen.ID)
		t.Logf("join to flowing media: %v; Alice from Bob %+v; Bob from Alice %+v", time.Since(start).Round(time.Millisecond), a, b)
		for _, who := range []*meetingBrowser{alice, bob} {
			sel := `.tile:not(.self) video`
			bsPoll(t, who.ctx, `(document.querySelector(`+jsString(sel)+`)?.videoWidth || 0) > 0`, who.name+"'s remote video playing")
		}
	})

	t.Run("a muted camera shows in the other browser", func(t *testing.T) {
		bsDo(t, alice.ctx, chromedp.Click(chromedp.CSS("#toggle-cam")))
		badge := `.tile[data-participant="` + aliceSeen.ID + `"] .cam-off`
		bsPoll(t, bob.ctx, `document.querySelector(`+jsString(badge)+`)?.hidden === false`, "Alice's camera-off badge at Bob")
		if p := bob.waitPeer(t, "Alice"); !p.CameraMuted || p.MicMuted {
			t.Errorf("Bob sees Alice as %+v, want camera muted, mic on", p)
		}
		bsDo(t, alice.ctx, chromedp.Click(chromedp.CSS("#toggle-cam")))
		bsPoll(t, bob.ctx, `document.querySelector(`+jsString(badge)+`)?.hidden === true`, "Alice's camera-off badge gone at Bob")
	})

	t.Run("quality indicator measures the connection", func(t *testing.T) {
		bsPoll(t, alice.ctx, `["good", "fair", "poor"].includes(document.getElementById("quality").dataset.level)`, "a quality level")
		t.Logf("Alice's quality: %s", bsText(t, alice.ctx, "#quality"))
	})

	t.Run("leave removes the tile", func(t *testing.T) {
		bsDo(t, bob.ctx, chromedp.Click(chromedp.CSS("#leave")))
		bsPoll(t, bob.ctx, `!document.getElementById("left-notice").hidden`, "Bob's left notice")
		bsPoll(t, alice.ctx, `window.stoaMeeting.participants().length === 0 && !document.querySelector(".tile:not(.self)")`, "Bob gone at Alice")
		bsDo(t, alice.ctx, chromedp.Click(chromedp.CSS("#leave")))
		bsPoll(t, alice.ctx, `!document.getElementById("lobby").hidden`, "Alice back in the lobby")
	})

	for _, b := range []*meetingBrowser{alice, bob} {
		browser.RequireNoErrors(t, b.ctx)
	}
}
