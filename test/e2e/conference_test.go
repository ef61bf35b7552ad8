package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/test/browser"
	testmedia "github.com/stoa-rooms/stoa/test/media"
	"github.com/stoa-rooms/stoa/test/participant"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// Conference tests drive the real stoa-server with synthetic Go participants (test/participant)
// and a Chromium whose fake camera plays our frame-numbered pattern, so that every direction
// (Go↔Go, Go→Chromium, Chromium→Go) can be checked by reading frame numbers back.

// chromeCamera is the size of the pattern video Chromium's fake camera plays.
const cfCameraW, cfCameraH = 640, 360

// cfPatternY4M writes a YUV4MPEG2 file of the test/media pattern (frames 0..frames-1, which
// Chromium's file-backed fake camera loops) for --use-file-for-fake-video-capture.
func cfPatternY4M(t *testing.T, w, h, fps, frames int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "camera.y4m")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("create y4m: %v", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(bw, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n", w, h, fps)
	for n := range frames {
		img := testmedia.PatternFrame(n, w, h)
		bw.WriteString("FRAME\n")
		for _, plane := range [][]byte{img.Y, img.Cb, img.Cr} {
			bw.Write(plane)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatalf("write y4m: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("write y4m: %v", err)
	}
	return path
}

// cfPortalTLS trusts exactly the certificate the portal serves, pinned by the SHA-256 fingerprint
// the super admin's security page reports (a first-start portal is self-signed).
func cfPortalTLS(t *testing.T, stack *stoatest.Stack, admin *stoatest.Session) *tls.Config {
	t.Helper()
	var st api.SecurityState
	if status, body, err := admin.Do(http.MethodGet, "/api/v1/security/certificate", nil, "", &st); err != nil || status != http.StatusOK {
		t.Fatalf("security state: %d %v %s", status, err, body)
	}
	c, err := tls.Dial("tcp", stack.PortalHost, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}) //nolint:gosec // fetched only to compare with the pinned fingerprint
	if err != nil {
		t.Fatalf("fetch portal certificate: %v", err)
	}
	leaf := c.ConnectionState().PeerCertificates[0]
	c.Close()
	sum := sha256.Sum256(leaf.Raw)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(strings.ReplaceAll(st.Active.SHA256, ":", ""), got) {
		t.Fatalf("portal serves %s, security page says %s", got, st.Active.SHA256)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

func cfCreateMeeting(t *testing.T, sess *stoatest.Session, name, pin string) api.Meeting {
	t.Helper()
	var m api.Meeting
	status, body, err := sess.Do(http.MethodPost, "/api/v1/meetings", api.NewMeeting{Name: name, PIN: pin}, "", &m)
	if err != nil || status != http.StatusOK && status != http.StatusCreated {
		t.Fatalf("create meeting %q: %d %v %s", name, status, err, body)
	}
	return m
}

// cfJoin is POST /api/v1/meetings/{id}/join; it returns the status and, on 200, the
// response, else the API error.
func cfJoin(sess *stoatest.Session, meetingID, name, pin string) (int, api.MeetingJoinResponse, api.Error, error) {
	var jr api.MeetingJoinResponse
	var ae api.Error
	status, body, err := sess.Do(http.MethodPost, "/api/v1/meetings/"+meetingID+"/join", api.MeetingJoinRequest{Name: name, PIN: pin}, "", &jr)
	if err == nil && status != http.StatusOK {
		err = json.Unmarshal(body, &ae)
	}
	return status, jr, ae, err
}

// cfWaitRouter polls joins until the router has registered with the manager (503 before).
func cfWaitRouter(t *testing.T, sess *stoatest.Session, meetingID string) api.MeetingJoinResponse {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, jr, ae, err := cfJoin(sess, meetingID, "probe", "")
		if err == nil && status == http.StatusOK {
			return jr
		}
		if time.Now().After(deadline) {
			t.Fatalf("joins still refused after 30 s: %d %v %+v", status, err, ae)
		}
		// The portal allows a user a burst of 10 joins refilled at one a second: polling more
		// slowly than that keeps the burst for the test's real joins.
		time.Sleep(1100 * time.Millisecond)
	}
}

// cfJoinGo joins a synthetic participant through the portal: join API with the session, then
// signaling through the portal's WebSocket proxy over TLS pinned to the portal's certificate.
func cfJoinGo(ctx context.Context, t *testing.T, sess *stoatest.Session, conf *tls.Config, set *testmedia.Set, meetingID, name string, relayOnly bool) *participant.Participant {
	t.Helper()
	status, jr, ae, err := cfJoin(sess, meetingID, name, "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s: join: %d %v %+v", name, status, err, ae)
	}
	if !strings.HasPrefix(jr.SignalURL, "wss://localhost:") || !strings.Contains(jr.SignalURL, "/api/v1/rtc/") {
		t.Fatalf("%s: signal URL %q is not the portal's proxy", name, jr.SignalURL)
	}
	p, err := participant.Join(ctx, participant.Options{Media: set, Client: rtcclient.Options{
		SignalURL: jr.SignalURL, Token: jr.Token, TLS: conf, ICEServers: jr.ICEServers, RelayOnly: relayOnly}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// cfRequestKeyframes sends a PLI (RFC 4585 section 6.3.1) every interval for every video track
// p receives from participant from, until ctx ends: Chromium sends delta frames, and only its
// keyframes decode on their own with x/image/vp8.
func cfRequestKeyframes(ctx context.Context, p *participant.Participant, from string, interval time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		pc := p.Client().PeerConnection()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var pkts []rtcp.Packet
			for _, r := range pc.GetReceivers() {
				for _, tr := range r.Tracks() {
					if tr.Kind() == webrtc.RTPCodecTypeVideo && tr.StreamID() == from {
						pkts = append(pkts, &rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())})
					}
				}
			}
			if len(pkts) > 0 {
				_ = pc.WriteRTCP(pkts) // best effort; the next tick retries
			}
		}
	}()
	return &wg
}

// cfTrackPCs records every RTCPeerConnection the page creates in window.__stoaPCs, so a test can
// read the page's own getStats (selected candidate pair) without a page-side hook.
const cfTrackPCs = `(() => {
  const Orig = window.RTCPeerConnection;
  const pcs = [];
  Object.defineProperty(window, "__stoaPCs", { value: pcs });
  window.RTCPeerConnection = class extends Orig {
    constructor(...args) { super(...args); pcs.push(this); }
  };
})();`

// cfOpenBrowser signs in as the super admin in a Chromium whose fake camera plays camera (a
// y4m file), opens meeting.html?id=...&query and sets the display name.
func cfOpenBrowser(t *testing.T, stack *stoatest.Stack, name, meetingID, query, camera string) *meetingBrowser {
	t.Helper()
	ctx := browser.New(t, browser.IgnoreCertificateErrors(),
		browser.Flag("use-file-for-fake-video-capture", camera),
		browser.Flag("autoplay-policy", "no-user-gesture-required"))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	bsDo(t, ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cfTrackPCs})
			return err
		}),
		chromedp.Navigate(stack.PortalURL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), stack.AdminName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), stack.AdminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#app-header")),
		chromedp.Navigate(stack.PortalURL+"/ui/meeting.html?id="+meetingID+query),
		chromedp.WaitVisible(chromedp.CSS("#join-submit")),
	)
	bsPoll(t, ctx, `document.getElementById("preview").videoWidth > 0`, name+"'s camera preview")
	bsDo(t, ctx, chromedp.SetValue(chromedp.CSS("#join-name"), name))
	return &meetingBrowser{name: name, ctx: ctx}
}

// cfRemoteFrame draws participant id's remote <video> onto a canvas and reads our frame number
// from the pixels with test/media's ReadPattern. ok is false when no frame is showing or the
// picture does not carry a readable pattern.
func (b *meetingBrowser) cfRemoteFrame(t *testing.T, id string) (n int, ok bool) {
	t.Helper()
	sel := `.tile[data-participant="` + id + `"] video`
	dataURL := bsRun(t, b.ctx, chromedp.Evaluate[string](`(() => {
		const v = document.querySelector(`+jsString(sel)+`);
		if (!v || !v.videoWidth) return "";
		const c = document.createElement("canvas");
		c.width = 320; c.height = 180; // the pattern reads at any scale
		c.getContext("2d").drawImage(v, 0, 0, c.width, c.height);
		return c.toDataURL("image/png");
	})()`))
	raw, found := strings.CutPrefix(dataURL, "data:image/png;base64,")
	if !found {
		return 0, false
	}
	pngBytes, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatalf("%s: canvas data URL: %v", b.name, err)
	}
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("%s: canvas PNG: %v", b.name, err)
	}
	return testmedia.ReadPattern(img)
}

// cfFramesAdvance reads id's frame number off b's screen until it has seen want distinct
// numbers, each ahead of the one before (modulo the sender's loop of loop frames).
func (b *meetingBrowser) cfFramesAdvance(t *testing.T, id string, loop, want int) []int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var seen []int
	for len(seen) < want {
		if n, ok := b.cfRemoteFrame(t, id); ok && (len(seen) == 0 || n != seen[len(seen)-1]) {
			if len(seen) > 0 {
				if fwd := (n - seen[len(seen)-1] + loop) % loop; fwd > loop/2 {
					t.Errorf("%s: frame number from %s went back from %d to %d (seen %v)", b.name, id, seen[len(seen)-1], n, seen)
				}
			}
			seen = append(seen, n)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: read %v from %s's video, want %d advancing frame numbers", b.name, seen, id, want)
		}
		time.Sleep(150 * time.Millisecond)
	}
	return seen
}

// cfPeerByName finds participant name among what p has been told by signaling.
func cfPeerByName(t *testing.T, p *participant.Participant, name string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, sp := range p.Client().Participants() {
			if sp.Name == name {
				return sp.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never heard of %s: %+v", p.ID(), name, p.Client().Participants())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cfWaitFrom polls p's report until remote id delivered at least frames decoded frames and
// audio packets, and returns that report entry.
func cfWaitFrom(ctx context.Context, t *testing.T, p *participant.Participant, id string, frames, audio int) participant.RemoteReport {
	t.Helper()
	for {
		rr := p.Report().Remote[id]
		if rr.Decoded >= frames && rr.AudioPackets >= audio {
			return rr
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s from %s: %d decoded (undecodable %d, skipped %d), %d audio packets; want %d and %d",
				p.ID(), id, rr.Decoded, rr.Undecodable, rr.Skipped, rr.AudioPackets, frames, audio)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cfSeqAdvanced asserts that video RTP kept arriving between two reports of one remote: more
// packets, and a higher (extended) sequence number.
func cfSeqAdvanced(t *testing.T, what string, before, after participant.RemoteReport) {
	t.Helper()
	if after.VideoPackets <= before.VideoPackets || after.VideoSeq <= before.VideoSeq {
		t.Errorf("%s: video RTP did not advance: packets %d→%d, highest sequence number %d→%d",
			what, before.VideoPackets, after.VideoPackets, before.VideoSeq, after.VideoSeq)
	}
}

// cfCheckAdvancing asserts that frame numbers in frames only move forward (modulo the loop).
func cfCheckAdvancing(t *testing.T, what string, frames []int, loop int) {
	t.Helper()
	for i := 1; i < len(frames); i++ {
		if fwd := (frames[i] - frames[i-1] + loop) % loop; fwd > loop/2 {
			t.Errorf("%s: frame number went back from %d to %d: %v", what, frames[i-1], frames[i], frames)
			return
		}
	}
}

// cfMetric sums the samples of a Prometheus counter or gauge (with any labels matching
// labelSub) in a text exposition.
func cfMetric(text, name, labelSub string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if labelSub != "" && !strings.Contains(rest, labelSub) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

func cfGetMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := stoatest.InsecureClient().Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("proxy metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("proxy metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// TestConferenceThreeGoOneChromium is issue 4's acceptance run on `stoa-server all`: three
// synthetic Go participants (joined through the portal's join API with a signed-in session,
// signaling through the portal's WebSocket proxy over TLS pinned to its self-signed
// certificate) and one headless Chromium (fake microphone, fake camera playing our
// frame-numbered pattern) share one meeting. Every participant receives every other's audio and
// video, and frame numbers read back from decoded pictures advance in every direction:
// Go↔Go in the participants' reports, Go→Chromium off a canvas drawing of the page's <video>,
// Chromium→Go from keyframes the Go participants request with PLIs.
func TestConferenceThreeGoOneChromium(t *testing.T) {
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
	m := cfCreateMeeting(t, sess, "Acceptance", "")
	cfWaitRouter(t, sess, m.ID)
	start := time.Now()

	chrome := cfOpenBrowser(t, stack, "Chromium", m.ID, "", camera)
	chrome.join(t)
	names := []string{"Go 1", "Go 2", "Go 3"}
	var gos []*participant.Participant
	for _, name := range names {
		gos = append(gos, cfJoinGo(ctx, t, sess, conf, set, m.ID, name, false))
	}
	chromeID := cfPeerByName(t, gos[0], "Chromium")
	for _, p := range gos {
		wg := cfRequestKeyframes(ctx, p, chromeID, 400*time.Millisecond)
		t.Cleanup(wg.Wait)
	}

	t.Run("Go participants decode each other's advancing frame numbers and hear each other", func(t *testing.T) {
		for _, p := range gos {
			if err := p.WaitMedia(ctx, len(gos)-1, 10, 50); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("join to flowing media between Go participants: %v", time.Since(start).Round(time.Millisecond))
		before := map[string]participant.Report{}
		for _, p := range gos {
			before[p.ID()] = p.Report()
		}
		for _, p := range gos {
			for _, o := range gos {
				if o == p {
					continue
				}
				// More frames and audio arrive after the first check: media keeps flowing.
				rr := cfWaitFrom(ctx, t, p, o.ID(), before[p.ID()].Remote[o.ID()].Decoded+5, before[p.ID()].Remote[o.ID()].AudioPackets+25)
				cfSeqAdvanced(t, p.ID()+" from "+o.ID(), before[p.ID()].Remote[o.ID()], rr)
				if rr.Backwards != 0 {
					t.Errorf("%s saw %s's frame numbers go backwards %d times: %v", p.ID(), o.ID(), rr.Backwards, rr.Frames)
				}
				cfCheckAdvancing(t, p.ID()+" from "+o.ID(), rr.Frames, loop)
				t.Logf("%s from %s: decoded %d (skipped %d, undecodable %d), widths %v, audio %d",
					p.ID(), o.ID(), rr.Decoded, rr.Skipped, rr.Undecodable, rr.Widths, rr.AudioPackets)
			}
		}
	})

	t.Run("Chromium decodes every Go participant and shows their frame numbers advancing", func(t *testing.T) {
		for _, p := range gos {
			st := chrome.waitMediaFlows(t, p.ID())
			seen := chrome.cfFramesAdvance(t, p.ID(), loop, 4)
			t.Logf("Chromium from %s: %+v; frame numbers on screen %v", p.ID(), st, seen)
		}
		if ps := chrome.participants(t); len(ps) != len(gos) {
			t.Errorf("Chromium sees %d participants, want %d: %+v", len(ps), len(gos), ps)
		}
	})

	t.Run("every Go participant decodes Chromium's keyframes with advancing frame numbers", func(t *testing.T) {
		for _, p := range gos {
			first := cfWaitFrom(ctx, t, p, chromeID, 3, 50)
			rr := cfWaitFrom(ctx, t, p, chromeID, first.Decoded+2, first.AudioPackets+25)
			cfSeqAdvanced(t, p.ID()+" from Chromium", first, rr)
			if rr.Backwards != 0 {
				t.Errorf("%s saw Chromium's frame numbers go backwards %d times: %v", p.ID(), rr.Backwards, rr.Frames)
			}
			cfCheckAdvancing(t, p.ID()+" from Chromium", rr.Frames, loop)
			// Frozen means every decoded keyframe shows one number: the fixture loops, so the
			// first and last can match after a whole loop.
			if len(rr.Frames) >= 2 && !slices.ContainsFunc(rr.Frames, func(f int) bool { return f != rr.Frames[0] }) {
				t.Errorf("%s: Chromium's frame number did not move: %v", p.ID(), rr.Frames)
			}
			t.Logf("%s from Chromium (%s): keyframes decoded %d, frame numbers %v, delta frames %d, widths %v, video packets %d (RTP seq %d→%d, %d late), audio %d",
				p.ID(), chromeID, rr.Decoded, rr.Frames, rr.Undecodable, rr.Widths, rr.VideoPackets, first.VideoSeq, rr.VideoSeq, rr.SeqBackwards, rr.AudioPackets)
		}
	})
	browser.RequireNoErrors(t, chrome.ctx)
}

// TestConferenceAdmission starts stoa-server with a manager licence key and a signed 1-seat
// licence file in the manager's data directory: the first join takes the seat, the next is
// refused with 403 licence.full and the manager's words; a meeting with a PIN refuses a wrong
// PIN with 403 meeting.pin (checked before any seat is counted, full or not).
func TestConferenceAdmission(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	lic, err := manager.SignLicence(manager.Licence{Licensee: "Stoa e2e", Seats: 1, NotAfter: time.Now().Add(time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "manager"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "manager", manager.LicenceFile), lic, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "stoa.json")
	cfg := fmt.Sprintf(`{"manager": {"licence_key": %q}}`, base64.StdEncoding.EncodeToString(pub))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	stack := stoatest.Start(t, stoatest.Options{DataDir: data, Args: []string{"--config", cfgPath}})
	admin := stack.Login(t)

	const user, pw = "visitor", "correct horse battery staple"
	if status, body, err := admin.Do(http.MethodPost, "/api/v1/users", api.NewUser{Name: user, Role: "user", Password: pw}, "", nil); err != nil || status >= 300 {
		t.Fatalf("create user: %d %v %s", status, err, body)
	}
	visitor := stoatest.LoginAs(t, stack.PortalURL, stack.Client(), user, pw)
	open := cfCreateMeeting(t, admin, "Open", "")
	locked := cfCreateMeeting(t, admin, "Locked", "4711")

	// The wrong PIN is refused before the manager is asked, so this holds no seat.
	t.Run("wrong PIN before the licence fills", func(t *testing.T) {
		status, _, ae, err := cfJoin(visitor, locked.ID, "Visitor", "0000")
		if err != nil || status != http.StatusForbidden || ae.Code != "meeting.pin" {
			t.Fatalf("join with a wrong PIN: %d %v %+v, want 403 meeting.pin", status, err, ae)
		}
	})
	first := cfWaitRouter(t, admin, open.ID) // the one licensed seat
	if first.Token == "" || first.ParticipantID == "" {
		t.Fatalf("first join answered %+v", first)
	}

	tests := []struct {
		name, meeting, pin string
		sess               *stoatest.Session
		code, message      string
	}{
		{"second participant in the same meeting", open.ID, "", admin, "licence.full", "The 1 licensed seat is in use"},
		{"right PIN, but no seat left", locked.ID, "4711", visitor, "licence.full", "The 1 licensed seat is in use"},
		{"wrong PIN while full", locked.ID, "1234", visitor, "meeting.pin", "wrong meeting PIN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, jr, ae, err := cfJoin(tc.sess, tc.meeting, "Second", tc.pin)
			if err != nil || status != http.StatusForbidden || ae.Code != tc.code {
				t.Fatalf("join: %d %v %+v (token %q), want 403 %s", status, err, ae, jr.Token, tc.code)
			}
			if !strings.Contains(ae.Message, tc.message) {
				t.Errorf("message %q, want it to say %q", ae.Message, tc.message)
			}
		})
	}
}
