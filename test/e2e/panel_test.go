package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/board/visca"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/control"
	"github.com/stoa-rooms/stoa/firmware/panel"
	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/test/browser"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// panelRoom is a sim-board room with its touch panel, in process, paired with a stoa-server.
type panelRoom struct {
	room  *roomd.Room
	pnl   *roomd.Panel
	hw    *sim.Hardware
	cam   *visca.Fake
	url   string // https://127.0.0.1:port
	board *board.Board
}

func startPanelRoom(t *testing.T, s *stoatest.Stack, sess *stoatest.Session) *panelRoom {
	t.Helper()
	def, err := board.LoadDefinition("sim")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sim.New(def)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	hw := sim.Devices(b)
	cam := visca.NewFake(hw.SerialPeer("visca"), 1, nil)
	go func() { _ = cam.Serve() }()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := roomd.Defaults()
	cfg.DataDir, cfg.PortalURL, cfg.Discover, cfg.Firmware = t.TempDir(), s.PortalURL, false, "e2e-panel"
	cfg.Socket = filepath.Join(cfg.DataDir, "roomd.sock")
	codes := make(chan string, 10)
	ps := roomd.NewPanelScreen(hw.Display)
	room, err := roomd.NewRoom(roomd.RoomOptions{Board: b, Screen: ps, Agent: roomd.Options{Config: cfg, Log: log,
		OnCode: func(c string) {
			select {
			case codes <- c:
			default:
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	room.SetJoiner(roomd.CallJoiner(room.Agent(), nil, log))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The browser connects from 127.0.0.1 like the device's own kiosk would; here it plays a
	// tablet on the LAN, so nothing counts as local and the PIN is required.
	pnl, err := roomd.NewPanel(room, ps, roomd.PanelOptions{Listener: ln, DataDir: cfg.DataDir, Log: log,
		IsLocal: func(*http.Request) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = room.Run(ctx, nil); done <- struct{}{} }()
	go func() { _ = pnl.Serve(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	var code string
	select {
	case code = <-codes:
	case <-time.After(30 * time.Second):
		t.Fatal("the room showed no pairing code")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: code, Name: "Boardroom"}, "", nil)
		if err == nil && st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pair the room: %d %v %s", st, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pr := &panelRoom{room: room, pnl: pnl, hw: hw, cam: cam, url: "https://" + ln.Addr().String(), board: b}
	pr.waitStatus(t, "the room online with the portal", 30*time.Second, func(st control.Status) bool {
		return st.Pairing.State == roomd.StatePaired && st.Pairing.Online
	})
	return pr
}

func (p *panelRoom) waitStatus(t *testing.T, what string, d time.Duration, cond func(control.Status) bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond(p.room.Hub().Status()) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: status %+v", what, p.room.Hub().Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// displayPIN reads the panel PIN off the room's idle screen ("Touch panel PIN: 123 456").
func (p *panelRoom) displayPIN(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, l := range p.hw.Display.Last().Lines {
			if rest, ok := strings.CutPrefix(l, "Touch panel PIN: "); ok {
				return strings.ReplaceAll(rest, " ", "")
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room's screen shows no panel PIN: %+v", p.hw.Display.Last())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// panelBrowser is Chromium emulating a touch device of the given size.
type panelBrowser struct {
	ctx       context.Context
	name      string
	artifacts string
}

func newPanelBrowser(t *testing.T, p *panelRoom, w, h int64, artifacts string) *panelBrowser {
	t.Helper()
	ctx := browser.New(t, browser.TrustCertificates(p.pnl.Certificate().Leaf))
	b := &panelBrowser{ctx: ctx, name: fmt.Sprintf("%dx%d", w, h), artifacts: artifacts}
	b.do(t, 30*time.Second, "open the panel", emulate(w, h), chromedp.Navigate(p.url+"/"))
	return b
}

// emulate sets a touch tablet's viewport (mobile, touch events, orientation from the size).
func emulate(w, h int64) chromedp.Action[chromedp.Void] {
	orient := chromedp.EmulateLandscape
	if h > w {
		orient = chromedp.EmulatePortrait
	}
	return chromedp.EmulateViewport(w, h, chromedp.EmulateMobile, chromedp.EmulateTouch, orient)
}

// do runs steps with a timeout, failing t with the page's state on error.
func (b *panelBrowser) do(t *testing.T, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(t, what, err)
	}
}

func (b *panelBrowser) fail(t *testing.T, what string, err error) {
	t.Helper()
	page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.dataset.screen + " | " + document.body.innerText.slice(0, 600)`))
	t.Fatalf("%s (%s): %v; page: %s; console: %v", what, b.name, err, page, browser.Console(b.ctx))
}

// poll waits until the JavaScript expression is truthy.
func (b *panelBrowser) poll(t *testing.T, d time.Duration, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		b.fail(t, what, err)
	}
}

// waitScreen waits for the panel to show screen name.
func (b *panelBrowser) waitScreen(t *testing.T, name string, d time.Duration) {
	t.Helper()
	b.poll(t, d, "wait for the "+name+" screen", fmt.Sprintf(`document.body.dataset.screen === %q`, name))
}

// tap touches the middle of the element sel (touchStart, touchEnd): the page sees touch and
// pointer events and the click the browser makes of them. The target must be at least 48 px.
func (b *panelBrowser) tap(t *testing.T, sel string) {
	t.Helper()
	b.do(t, 10*time.Second, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	pt, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: "center"});
		const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height]; })()`, sel)))
	if err != nil {
		b.fail(t, "locate "+sel, err)
	}
	if pt[2] < 48 || pt[3] < 48 {
		t.Fatalf("%s is %.0fx%.0f px at %s, smaller than a 48 px touch target", sel, pt[2], pt[3], b.name)
	}
	b.do(t, 10*time.Second, "tap "+sel, chromedp.TapXY(pt[0], pt[1]))
}

func (b *panelBrowser) typeInto(t *testing.T, sel, text string) {
	t.Helper()
	b.do(t, 10*time.Second, "type into "+sel, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { document.querySelector(%q).value = ""; return true; })()`, sel))(ctx, tg)
		return err
	}), chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (b *panelBrowser) screenshot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail(t, "screenshot "+name, err)
	}
	path := filepath.Join(b.artifacts, fmt.Sprintf("panel-%s-%s.png", b.name, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

func evalAs[T any](t *testing.T, b *panelBrowser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.fail(t, "evaluate", err)
	}
	return v
}

// pair asks the room for a PIN, reads it off the room's display and enters it.
func (b *panelBrowser) pair(t *testing.T, p *panelRoom, name string) {
	t.Helper()
	b.waitScreen(t, "pair", 20*time.Second)
	b.screenshot(t, "pair")
	b.tap(t, "#pair-start")
	pin := p.displayPIN(t)
	b.typeInto(t, "#pair-pin", pin)
	b.typeInto(t, "#pair-name", name)
	b.tap(t, "#pair-submit")
}

func panelArtifacts(t *testing.T) string {
	dir := t.TempDir()
	if a := os.Getenv("STOA_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "test-e2e-panel")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("panel screenshots in %s", dir)
	return dir
}

// roomTrackMuted is what the Go participant sees through signaling of the room's audio track:
// found (the room is in the meeting) and muted.
func roomTrackMuted(p *calltest.Participant) (found, muted bool) {
	for _, sp := range p.Client().Participants() {
		if sp.Name != "Boardroom" {
			continue
		}
		for _, tr := range sp.Tracks {
			if tr.Kind == "audio" {
				return true, tr.Muted
			}
		}
	}
	return false, false
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPanel: the touch panel in Chromium (touch emulation) at 1280×800 and 800×480 pairs with
// a sim-board room by the PIN on the room's display, takes the room into a meeting where a Go
// participant sees it, mutes it (seen through signaling), follows the GPIO mute button
// (latency logged), recalls a camera preset (the VISCA fake records it) and leaves with a
// confirm; five wrong PINs lock pairing; a panel revoked on the portal is refused; the panel
// shows the portal-unreachable screen while stoa-server is down and recovers by itself.
func TestPanel(t *testing.T) {
	s := stoatest.Start(t, stoatest.Options{})
	sess := s.Login(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	artifacts := panelArtifacts(t)
	room := startPanelRoom(t, s, sess)

	meeting := cfCreateMeeting(t, sess, "Panel call", "")
	cfWaitRouter(t, sess, meeting.ID)
	var rooms []api.Room
	if st, body, err := sess.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rooms); err != nil || st != http.StatusOK || len(rooms) != 1 {
		t.Fatalf("list rooms: %d %v %s", st, err, body)
	}
	roomID := rooms[0].ID
	if st, body, err := sess.Do(http.MethodPut, "/api/v1/rooms/"+roomID+"/meeting", api.RoomMeeting{MeetingID: meeting.ID}, "", nil); err != nil || st >= 300 {
		t.Fatalf("set the room's default meeting: %d %v %s", st, err, body)
	}

	conf := cfPortalTLS(t, s, sess)
	st, jr, ae, err := cfJoin(sess, meeting.ID, "Alice", "")
	if err != nil || st != http.StatusOK {
		t.Fatalf("participant join: %d %v %+v", st, err, ae)
	}
	alice, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: jr.SignalURL, Token: jr.Token, TLS: conf, ICEServers: jr.ICEServers}})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()

	sizes := []struct {
		w, h      int64
		joinByID  bool
		panelName string
	}{{1280, 800, true, "Table panel"}, {800, 480, false, "Wall panel"}}
	browsers := map[string]*panelBrowser{}
	for _, sz := range sizes {
		b := newPanelBrowser(t, room, sz.w, sz.h, artifacts)
		browsers[b.name] = b
		t.Run(b.name, func(t *testing.T) {
			// Each step needs the one before: stop at the first failure.
			step := func(name string, f func(t *testing.T)) {
				if !t.Failed() {
					t.Run(name, f)
				}
			}
			step("pair with the PIN from the room's display", func(t *testing.T) {
				b.pair(t, room, sz.panelName)
				b.waitScreen(t, "home", 20*time.Second)
				b.screenshot(t, "home")
			})
			step("setup screen", func(t *testing.T) {
				b.tap(t, "#go-setup")
				b.waitScreen(t, "setup", 5*time.Second)
				text := evalAs[string](t, b, `document.getElementById("setup-list").innerText`)
				for _, want := range []string{"Boardroom", "paired", s.PortalURL, "e2e-panel", "sim"} {
					if !strings.Contains(text, want) {
						t.Errorf("setup screen lacks %q:\n%s", want, text)
					}
				}
				b.screenshot(t, "setup")
				b.tap(t, "#setup-back")
				b.waitScreen(t, "home", 5*time.Second)
			})
			step("join; the participant sees the room", func(t *testing.T) {
				if sz.joinByID {
					b.typeInto(t, "#join-id", meeting.ID)
					b.tap(t, "#join-submit")
				} else {
					b.tap(t, "#join-default")
				}
				b.waitScreen(t, "call", 60*time.Second)
				waitFor(t, "Alice to see the room in the meeting", 30*time.Second, func() bool { f, _ := roomTrackMuted(alice); return f })
				b.poll(t, 20*time.Second, "Alice listed on the panel", `document.getElementById("participants").innerText.includes("Alice")`)
				b.screenshot(t, "call")
			})
			step("mute from the panel mutes the room in the call", func(t *testing.T) {
				b.tap(t, "#mic")
				b.poll(t, 5*time.Second, "mic shown muted", `document.getElementById("mic").getAttribute("aria-pressed") === "true"`)
				if !room.room.Hub().Status().Audio.MicMuted {
					t.Fatal("the room's status says the microphone is on")
				}
				waitFor(t, "Alice to see the room's microphone muted (signaling)", 30*time.Second, func() bool { _, m := roomTrackMuted(alice); return m })
				b.screenshot(t, "call-muted")
			})
			step("the GPIO mute button updates the panel", func(t *testing.T) {
				// The page stamps the moment the mic button flips back to unmuted, on the
				// same host clock as the Go side's time.Now.
				evalAs[bool](t, b, `(() => { window.__micAt = 0; const m = document.getElementById("mic");
					new MutationObserver(() => { if (!window.__micAt && m.getAttribute("aria-pressed") === "false") window.__micAt = performance.timeOrigin + performance.now(); })
					.observe(m, {attributes: true, attributeFilter: ["aria-pressed"]}); return true; })()`)
				pressAt := time.Now()
				if err := room.hw.GPIO.Press(roomd.LineMuteButton); err != nil {
					t.Fatal(err)
				}
				time.Sleep(80 * time.Millisecond) // a short press, longer than the 20 ms debounce
				releaseAt := time.Now()
				if err := room.hw.GPIO.Release(roomd.LineMuteButton); err != nil {
					t.Fatal(err)
				}
				var at float64
				deadline := time.Now().Add(10 * time.Second)
				for at == 0 {
					if time.Now().After(deadline) {
						t.Fatal("the panel did not show the microphone unmuted within 10 s of the button press")
					}
					at = evalAs[float64](t, b, `window.__micAt`)
					if at == 0 {
						time.Sleep(5 * time.Millisecond)
					}
				}
				dom := time.UnixMicro(int64(at * 1000))
				t.Logf("GPIO mute button → panel DOM (%s): %.1f ms from release (the button acts on release; includes the 20 ms debounce), %.1f ms from press (includes the 80 ms hold)",
					b.name, ms(dom.Sub(releaseAt)), ms(dom.Sub(pressAt)))
				if room.room.Hub().Status().Audio.MicMuted {
					t.Fatal("the room's microphone is still muted after the button")
				}
			})
			step("recall a camera preset", func(t *testing.T) {
				before := len(room.cam.Commands())
				b.tap(t, `.preset[data-n="2"]`)
				waitFor(t, "the VISCA camera to receive preset.recall 2", 10*time.Second, func() bool {
					for _, c := range room.cam.Commands()[before:] {
						if c.String() == "preset.recall 2" {
							return true
						}
					}
					return false
				})
			})
			step("leave with confirm", func(t *testing.T) {
				b.tap(t, "#leave")
				b.do(t, 5*time.Second, "confirm dialog", chromedp.WaitVisible(chromedp.CSS("#confirm-leave")))
				b.screenshot(t, "leave-confirm")
				b.tap(t, "#confirm-yes")
				b.waitScreen(t, "home", 30*time.Second)
				waitFor(t, "Alice to see the room leave", 30*time.Second, func() bool { f, _ := roomTrackMuted(alice); return !f })
			})
		})
		if t.Failed() {
			return
		}
	}
	b1, b2 := browsers["1280x800"], browsers["800x480"]

	t.Run("portrait and standby", func(t *testing.T) {
		b2.do(t, 5*time.Second, "portrait", emulate(480, 800))
		b2.screenshot(t, "portrait-home")
		b2.tap(t, "#go-standby")
		b2.waitScreen(t, "standby", 10*time.Second)
		b2.screenshot(t, "portrait-standby")
		b2.tap(t, "#wake")
		b2.waitScreen(t, "home", 10*time.Second)
		b2.do(t, 5*time.Second, "landscape", emulate(800, 480))
	})

	t.Run("five wrong PINs lock pairing", func(t *testing.T) {
		b := newPanelBrowser(t, room, 800, 480, artifacts)
		b.name = "800x480-lockout"
		b.waitScreen(t, "pair", 20*time.Second)
		b.tap(t, "#pair-start")
		pin := room.displayPIN(t)
		wrong := fmt.Sprintf("%06d", (atoi(pin)+1)%1000000)
		for i := 0; i < panel.MaxAttempts; i++ {
			b.typeInto(t, "#pair-pin", wrong)
			b.tap(t, "#pair-submit")
			want := fmt.Sprintf("%d of %d attempts left", panel.MaxAttempts-i-1, panel.MaxAttempts)
			if i == panel.MaxAttempts-1 {
				want = "locked"
			}
			b.poll(t, 5*time.Second, "message after wrong PIN", fmt.Sprintf(`document.getElementById("pair-msg").textContent.includes(%q)`, want))
		}
		b.screenshot(t, "pair-locked")
		if err := room.pnl.Store().Locked(); err == nil {
			t.Fatal("the room's panel store is not locked")
		}
		// The right PIN no longer helps, and no new PIN is shown.
		b.tap(t, "#pair-start")
		b.poll(t, 5*time.Second, "locked message on start", `document.getElementById("pair-msg").textContent.includes("locked")`)
		if room.pnl.Store().PIN() != "" {
			t.Fatal("a PIN is shown while pairing is locked")
		}
	})

	t.Run("a panel revoked on the portal is refused", func(t *testing.T) {
		res, err := chromedp.Call(b1.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{room.url}})
		if err != nil {
			t.Fatal(err)
		}
		cookies := res.Cookies
		var token string
		for _, c := range cookies {
			if c.Name == panel.CookieName {
				token = c.Value
				if !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
					t.Errorf("panel cookie %+v is not Secure, HttpOnly, SameSite=Strict", c)
				}
			}
		}
		if token == "" {
			t.Fatal("the paired panel holds no token cookie")
		}
		// The room reports its panels at the start of each management poll.
		var panelID string
		waitFor(t, "the portal to list the room's panels", 40*time.Second, func() bool {
			var rs []api.Room
			if st, _, err := sess.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rs); err != nil || st != http.StatusOK || len(rs) != 1 {
				return false
			}
			for _, p := range rs[0].Panels {
				if p.Name == "Table panel" {
					panelID = p.ID
				}
			}
			return panelID != "" && len(rs[0].Panels) == 2
		})
		if st, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/"+roomID+"/panels/"+panelID+"/revoke", nil, "", nil); err != nil || st != http.StatusNoContent {
			t.Fatalf("revoke: %d %v %s", st, err, body)
		}
		b1.waitScreen(t, "pair", 30*time.Second)
		b1.screenshot(t, "revoked")
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: panelTLS(room)}}
		wsURL := "wss://" + strings.TrimPrefix(room.url, "https://") + "/api/ws"
		req, _ := http.NewRequest(http.MethodGet, room.url+"/api/session", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var sessInfo panel.Session
		_ = json.NewDecoder(resp.Body).Decode(&sessInfo)
		resp.Body.Close()
		if sessInfo.Paired {
			t.Fatalf("the revoked token still makes a paired session: %+v", sessInfo)
		}
		if _, err := control.DialWS(ctx, wsURL, &http.Client{Transport: &bearer{token: token, rt: hc.Transport}}); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("the revoked token opened the device API: %v", err)
		}
		waitFor(t, "the portal to drop the revoked panel", 40*time.Second, func() bool {
			var rs []api.Room
			if st, _, err := sess.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rs); err != nil || st != http.StatusOK || len(rs) != 1 {
				return false
			}
			return len(rs[0].Panels) == 1
		})
	})

	t.Run("portal unreachable, then recovered", func(t *testing.T) {
		https, internal := s.PortalHost, s.InternalAddr
		s.Kill(t)
		b2.waitScreen(t, "error", 30*time.Second)
		var kind string
		kind = evalAs[string](t, b2, `document.body.dataset.error`)
		if kind != "portal" {
			t.Fatalf("error screen %q, want portal", kind)
		}
		b2.screenshot(t, "portal-unreachable")
		stoatest.Start(t, stoatest.Options{DataDir: s.DataDir, Args: []string{"--https-addr", https, "--internal-addr", internal}})
		b2.waitScreen(t, "home", 120*time.Second)
		b2.screenshot(t, "recovered")
	})
}

// panelTLS trusts the room's self-signed panel certificate only.
func panelTLS(p *panelRoom) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.pnl.Certificate().Leaf)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// bearer sends a panel token as Authorization: Bearer.
type bearer struct {
	token string
	rt    http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
