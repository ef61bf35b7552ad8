package hil

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"image"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board/visca"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/media"
	"github.com/stoa-rooms/stoa/rootfs/qemu"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/test/stoatest"
	"github.com/stoa-rooms/stoa/test/testpki"
	"github.com/stoa-rooms/stoa/test/vm/vmkit"
)

// hilRig is what the steps after pairing share: the one booted guest (booting takes minutes
// under TCG, so every step runs on the same boot) and its host-side parts.
type hilRig struct {
	st   *stoatest.Stack
	sess *stoatest.Session
	vm   *qemu.VM
	con  *console     // ttyS0
	ctl  *controlLine // ttyS2: room control
	cam  *visca.Fake  // ttyS1: the camera head
	q    *vmkit.QMP
	room api.Room  // as paired
	hook *testHook // the qemu image's test hook (stoa-testhook.service)
	// machineID is the first boot's: every later boot, in whichever slot, must keep it.
	machineID string
}

// sameMachineID checks the machine ID of the first boot after console offset from.
func (r *hilRig) sameMachineID(ctx context.Context, t *testing.T, from int, boot string) {
	t.Helper()
	diag, _, err := r.con.wait(ctx, reDiag, from)
	if err != nil {
		t.Fatalf("%s: no image facts on the console: %v", boot, err)
	}
	if diag[6] != r.machineID {
		t.Errorf("%s: machine ID %s, the first boot's was %s", boot, diag[6], r.machineID)
	}
}

// hilStep is one step on the booted guest, run in order as a subtest; a failed step stops
// the ones after it (they build on the room's state).
type hilStep struct {
	name string
	run  func(ctx context.Context, t *testing.T, r *hilRig)
}

// roomSteps are the room's own steps (issue 6, HIL steps 2–5). Update steps go in their own
// list, run after these by TestImageBoots.
func roomSteps() []hilStep {
	return []hilStep{
		{"new portal certificate, room stays connected", stepRotateCert},
		{"camera preset recalled over VISCA", stepPresetRecall},
		{"roomd killed, systemd restarts it, room back online", stepKill},
		{"roomd stops pinging, watchdog restarts it, room back online", stepWatchdog},
		// Media is relayed by the proxy's TURN over TCP (proxy.turn_host + a forward; guestTURN).
		{"room joins a meeting, participant gets its camera and sound", stepCall},
	}
}

// runSteps runs steps in order on r, each timed.
func runSteps(ctx context.Context, t *testing.T, r *hilRig, steps []hilStep) {
	for _, s := range steps {
		t0 := time.Now()
		ok := t.Run(s.name, func(t *testing.T) { s.run(ctx, t, r) })
		t.Logf("FIGURE step %q: %s", s.name, time.Since(t0).Round(100*time.Millisecond))
		if !ok {
			t.Fatalf("step %q failed; the steps after it need its outcome", s.name)
		}
	}
}

// attachDevices wires the host-side hardware to the guest's serial ports as soon as QEMU
// has made them, before roomd opens them: the fake VISCA camera on ttyS1 and the room-control
// line on ttyS2.
func attachDevices(ctx context.Context, t *testing.T, vm *qemu.VM) (*visca.Fake, *controlLine) {
	t.Helper()
	vc, err := dialSerial(ctx, vm.VISCASocket)
	if err != nil {
		t.Fatal(err)
	}
	cam := visca.NewFake(vc, 1, nil)
	go cam.Serve()
	cc, err := dialSerial(ctx, vm.ControlSocket)
	if err != nil {
		vc.Close()
		t.Fatal(err)
	}
	ctl := newControlLine(cc)
	t.Cleanup(func() { vc.Close(); ctl.Close() })
	return cam, ctl
}

// roomState is the paired room as the portal lists it.
func roomState(t *testing.T, r *hilRig) api.Room {
	t.Helper()
	var rooms []api.Room
	if c, body, err := r.sess.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rooms); err != nil || c != http.StatusOK {
		t.Fatalf("GET /api/v1/rooms: %d %v %s", c, err, body)
	}
	for _, x := range rooms {
		if x.ID == r.room.ID {
			return x
		}
	}
	t.Fatalf("room %s is not listed: %+v", r.room.ID, rooms)
	return api.Room{}
}

// waitRoom polls the portal's room list until ok holds.
func waitRoom(ctx context.Context, t *testing.T, r *hilRig, what string, within time.Duration, ok func(api.Room) bool) api.Room {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		x := roomState(t, r)
		if ok(x) {
			return x
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("room never %s within %s: %+v", what, within, x)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stepRotateCert (HIL step 2) stages a certificate from a new CA for the portal's name and
// activates it as an administrator would: the portal pushes the bundle with old and new roots
// to the room first, then switches. The room stays online throughout (polled), acknowledges
// the new bundle version and verifies the portal's new certificate with it; roomd is not
// restarted.
func stepRotateCert(ctx context.Context, t *testing.T, r *hilRig) {
	before := roomState(t, r)
	readies := len(reReady.FindAllString(r.con.String(), -1))
	ca := testpki.NewCA(t, "HIL Rotation Root")
	inter := ca.Intermediate(t, "HIL Rotation Issuing")
	leaf := inter.Leaf(t, testpki.LeafOptions{DNS: []string{portalName, "localhost"}})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range []struct {
		field string
		b     []byte
	}{{"certificate", testpki.CertPEM(leaf.Cert)}, {"chain", testpki.CertPEM(inter.Cert, ca.Cert)}, {"key", testpki.KeyPEM(t, leaf.Key)}} {
		w, _ := mw.CreateFormFile(f.field, f.field+".pem")
		w.Write(f.b)
	}
	mw.Close()
	if c, body, err := r.sess.Do(http.MethodPost, "/api/v1/security/upload", buf.Bytes(), mw.FormDataContentType(), nil); err != nil || c != http.StatusOK {
		t.Fatalf("upload certificate: %d %v %s", c, err, body)
	}

	// Watch the room's online flag while the portal rotates (activate waits for the rooms).
	stop := make(chan struct{})
	offline := make(chan api.Room, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(offline)
				return
			case <-time.After(250 * time.Millisecond):
			}
			var rooms []api.Room
			if c, _, err := r.sess.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rooms); err == nil && c == http.StatusOK {
				for _, x := range rooms {
					if x.ID == r.room.ID && !x.Online {
						select {
						case offline <- x:
						default:
						}
					}
				}
			}
		}
	}()
	t0 := time.Now()
	var sec api.SecurityState
	c, body, err := r.sess.Do(http.MethodPost, "/api/v1/security/activate", api.ActivateRequest{WaitSeconds: 60}, "", &sec)
	activated := time.Now()
	close(stop)
	if err != nil || c != http.StatusOK {
		t.Fatalf("activate certificate: %d %v %s", c, err, body)
	}
	t.Logf("FIGURE certificate activated %s after the call (the room took the bundle first)", activated.Sub(t0).Round(100*time.Millisecond))
	for x := range offline {
		t.Errorf("room reported offline during the rotation: %+v", x)
	}
	if got := servedLeaf(t, r.st.PortalHost); !got.Equal(leaf.Cert) {
		t.Fatalf("portal serves %s, want the new certificate %s", got.Subject, leaf.Cert.Subject)
	}
	after := waitRoom(ctx, t, r, "acknowledged the new bundle and trusted the portal", 60*time.Second, func(x api.Room) bool {
		return x.Online && x.BundleVersion > before.BundleVersion && x.PortalHTTPSTrusted && x.LastSeen.After(activated)
	})
	t.Logf("room bundle version %d → %d, online, portal HTTPS trusted", before.BundleVersion, after.BundleVersion)
	if n := len(reReady.FindAllString(r.con.String(), -1)); n != readies {
		t.Errorf("roomd restarted during the rotation (%d READY lines, %d before)", n, readies)
	}
}

// servedLeaf is the certificate the portal's HTTPS listener serves now.
func servedLeaf(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: portalName}) //nolint:gosec // read to compare, not trusted
	if err != nil {
		t.Fatalf("fetch portal certificate: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// pinnedTLS trusts exactly the certificate the portal serves now (the participant's
// signaling goes through the portal's proxy).
func pinnedTLS(t *testing.T, addr string) *tls.Config {
	leaf := servedLeaf(t, addr)
	want := sha256.Sum256(leaf.Raw)
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, //nolint:gosec // pinned below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || sha256.Sum256(raw[0]) != want {
				return errors.New("not the portal's pinned certificate")
			}
			return nil
		}}
}

var reViscaRecall = regexp.MustCompile(`(?m)^OK preset recall 2\r?$`)

// stepPresetRecall (HIL step 4) recalls preset 2 from the room-control line (ttyS2) and sees
// the VISCA recall of memory 2 reach the camera on ttyS1.
func stepPresetRecall(ctx context.Context, t *testing.T, r *hilRig) {
	n := len(r.cam.Commands())
	from := len(r.ctl.out.String())
	t0 := time.Now()
	if err := r.ctl.send("preset recall 2"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, _, err := r.ctl.out.wait(cctx, reViscaRecall, from); err != nil {
		t.Fatalf("no OK for the preset recall: %v; the line said:\n%s", err, r.ctl.out.Tail(2000))
	}
	for {
		cmds, err := r.cam.WaitCommands(cctx, n+1)
		if err != nil {
			t.Fatalf("%v; camera got %v", err, r.cam.Commands())
		}
		for _, c := range cmds[n:] {
			if c.Name == "preset.recall" {
				if c.Value != 2 {
					t.Fatalf("camera got %s, want preset.recall 2", c)
				}
				t.Logf("FIGURE preset recall: serial command to VISCA %s on the camera in %s", c, time.Since(t0).Round(time.Millisecond))
				return
			}
		}
		n = len(cmds)
	}
}

// stepCall (HIL step 3): the room joins a meeting from its room-control line; a Go participant
// in the same meeting decodes the room's camera (vivid's 75% colour bars), its microphone (the
// loopback card) and sees itself on the room's screen (screendump).
func stepCall(ctx context.Context, t *testing.T, r *hilRig) {
	var m api.Meeting
	if c, body, err := r.sess.Do(http.MethodPost, "/api/v1/meetings", api.NewMeeting{Name: "HIL call"}, "", &m); err != nil || c >= 300 {
		t.Fatalf("create meeting: %d %v %s", c, err, body)
	}
	var jr api.MeetingJoinResponse
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, body, err := r.sess.Do(http.MethodPost, "/api/v1/meetings/"+m.ID+"/join", api.MeetingJoinRequest{Name: "Alice"}, "", &jr)
		if err == nil && c == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("participant join: %d %v %s", c, err, body)
		}
		time.Sleep(1100 * time.Millisecond) // the portal refills a user's joins at one a second
	}
	if err := guestTURN(jr.ICEServers); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 4*time.Minute) // the participant's life
	defer cancel()
	p, err := calltest.Join(cctx, calltest.Options{Client: rtcclient.Options{SignalURL: hostSignalURL(t, jr.SignalURL, r.st.PortalHost), Token: jr.Token,
		TLS: pinnedTLS(t, r.st.PortalHost), ICEServers: hostICEServers(jr.ICEServers)},
		// Not the room's own 1 kHz: its echo canceller would take a far-end tone at the
		// microphone's frequency for echo.
		ToneHz: 440})
	if err != nil {
		t.Fatalf("participant: %v", err)
	}
	defer p.Close()

	from := len(r.ctl.out.String())
	t0 := time.Now()
	if err := r.ctl.send("join " + m.ID); err != nil {
		t.Fatal(err)
	}
	reState := regexp.MustCompile(`(?m)^call\.state=(in_call|failed|ended)\r?$`)
	jctx, jcancel := context.WithTimeout(cctx, 60*time.Second)
	defer jcancel()
	st, _, err := r.ctl.out.wait(jctx, reState, from)
	if err != nil {
		t.Fatalf("the room never reached a call state: %v; the line said:\n%s", err, r.ctl.out.Tail(3000))
	}
	if st[1] != "in_call" {
		t.Fatalf("room call %s; the line said:\n%s\nconsole tail:\n%s", st[1], r.ctl.out.Tail(3000), r.con.Tail(4000))
	}
	t.Logf("FIGURE room in call %s after the serial join", time.Since(t0).Round(100*time.Millisecond))
	defer r.ctl.send("leave")

	roomID := ""
	for roomID == "" {
		for _, sp := range p.Client().Participants() {
			if sp.Kind == "room" {
				roomID = sp.ID
			}
		}
		if roomID == "" {
			select {
			case <-cctx.Done():
				t.Fatalf("the room never appeared to the participant: %+v", p.Client().Participants())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}

	t.Run("participant decodes vivid's colour bars from the room's camera", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(cctx, 60*time.Second)
		defer cancel()
		var last error
		for {
			if fs := p.Frames(roomID); len(fs) > 0 {
				f := fs[len(fs)-1]
				if last = checkBars(f.Picture, 48); last == nil {
					t.Logf("FIGURE first room video %s after the serial join; %d frames decoded, %dpx wide, bars match", time.Since(t0).Round(100*time.Millisecond), len(fs), f.Width)
					return
				}
			}
			select {
			case <-cctx.Done():
				if last == nil {
					last = errors.New("no frame decoded")
				}
				keepFrame(t, p.Frames(roomID))
				t.Fatalf("room video: %v", last)
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	t.Run("participant hears the room's microphone (loopback card)", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(cctx, 30*time.Second)
		defer cancel()
		pcm, err := p.WaitAudio(cctx, roomID, 48000)
		if err != nil {
			t.Fatal(err)
		}
		// The qemu board's stoa-tone.service plays 1 kHz into hw:Loopback,0,0; roomd captures
		// the other end as its microphone.
		peak := 0
		for _, s := range pcm {
			peak = max(peak, abs(int(s)))
		}
		f := media.DominantFrequency(pcm[len(pcm)/2:], 48000)
		// 1003 Hz measured under TCG (the guest's clocks drift); 10 Hz still tells it from
		// anything else in the call (the participant's 440 Hz).
		if math.Abs(f-1000) > 10 {
			t.Fatalf("room's audio at %.1f Hz (peak %d, %d samples), want the loopback tone's 1000 Hz", f, peak, len(pcm))
		}
		t.Logf("room audio: %d samples decoded, %.1f Hz, peak %d", len(pcm), f, peak)
	})
	t.Run("room's screen shows the participant", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(cctx, 60*time.Second)
		defer cancel()
		shot := filepath.Join(t.TempDir(), "call.png")
		var share float64
		for {
			if err := r.q.Screendump(cctx, shot); err != nil {
				t.Fatalf("screendump: %v", err)
			}
			pic, err := readPNG(shot)
			if err != nil {
				t.Fatal(err)
			}
			// calltest's default picture: a saturated green (Y145 Cb54 Cr34).
			if share, err = calltest.ColourShare(pic, 145, 54, 34, 24); err != nil {
				t.Fatal(err)
			}
			if share > 0.3 {
				t.Logf("participant's green covers %.0f%% of the room's screen", share*100)
				return
			}
			select {
			case <-cctx.Done():
				b, _ := os.ReadFile(shot)
				keep := filepath.Join(os.TempDir(), "stoa-hil-call.png")
				os.WriteFile(keep, b, 0o644)
				t.Fatalf("participant's green covers %.1f%% of the room's screen, want > 30%% (kept %s)", share*100, keep)
			case <-time.After(time.Second):
			}
		}
	})
	if err := r.ctl.send("leave"); err != nil {
		t.Fatal(err)
	}
}

// guestTURN checks that the join response offers a TURN server the guest can reach: its
// network reaches only the forwards to GuestPortal, which the site configuration names
// portal.stoa.test, and the room's host candidates (10.0.2.15, behind QEMU's user network) are
// unreachable from the router, so every media path is relayed. A turns: URL also needs a
// certificate the guest's system roots trust (pion/ice verifies TURN TLS with them).
func guestTURN(servers []api.ICEServer) error {
	var urls []string
	for _, s := range servers {
		for _, u := range s.URLs {
			urls = append(urls, u)
			if strings.HasPrefix(u, "turn:"+portalName+":") && strings.HasSuffix(u, "?transport=tcp") {
				return nil
			}
		}
	}
	return fmt.Errorf("no TURN server the guest can reach in the join response %v: the guest reaches only %s (forwarded); "+
		"the test's server sets proxy.turn_host to it and forwards its TURN TCP port", urls, portalName)
}

// hostICEServers names the proxy by its loopback address in the participant's TURN URLs: the
// participant runs on the host, which does not resolve portal.stoa.test.
func hostICEServers(in []api.ICEServer) []api.ICEServer {
	out := make([]api.ICEServer, len(in))
	for i, s := range in {
		out[i] = s
		out[i].URLs = nil
		for _, u := range s.URLs {
			out[i].URLs = append(out[i].URLs, strings.Replace(u, ":"+portalName+":", ":127.0.0.1:", 1))
		}
	}
	return out
}

// hostSignalURL points a signal URL naming the portal by its guest-side name at the portal's
// listener on the host (the host does not resolve portal.stoa.test).
func hostSignalURL(t *testing.T, raw, portalHost string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("signal URL %q: %v", raw, err)
	}
	if u.Hostname() == portalName {
		u.Host = portalHost
	}
	return u.String()
}

// keepFrame saves the last decoded frame for a failure's diagnosis.
func keepFrame(t *testing.T, fs []calltest.Frame) {
	if len(fs) == 0 || fs[len(fs)-1].Picture == nil {
		return
	}
	p := filepath.Join(os.TempDir(), "stoa-hil-frame.png")
	if err := writePNG(p, fs[len(fs)-1].Picture); err == nil {
		t.Logf("last decoded frame kept in %s", p)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// stepKill (HIL step 5, first half): roomd dies of SIGKILL (the qemu image's test hook kills it
// as a crash would); systemd restarts it (Restart=always), the new roomd is READY and the room
// rejoins the portal over its management channel.
func stepKill(ctx context.Context, t *testing.T, r *hilRig) {
	readies := len(reReady.FindAllString(r.con.String(), -1))
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	ans, err := r.hook.do(cctx, "kill-roomd")
	if err != nil {
		t.Fatal(err)
	}
	if ans != "killed roomd" {
		t.Fatalf("test hook answered %q, want \"killed roomd\"", ans)
	}
	for {
		if n := len(reReady.FindAllString(r.con.String(), -1)); n > readies {
			break
		}
		select {
		case <-cctx.Done():
			t.Fatalf("roomd not READY again after SIGKILL: console tail:\n%s", r.con.Tail(4000))
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("FIGURE roomd READY again %s after SIGKILL", time.Since(t0).Round(100*time.Millisecond))
	restarted := time.Now()
	waitRoom(cctx, t, r, "back online after the crash", 90*time.Second, func(x api.Room) bool {
		return x.Online && x.LastSeen.After(restarted)
	})
	t.Logf("FIGURE room online again %s after roomd READY", time.Since(restarted).Round(100*time.Millisecond))
}

var reAbort = regexp.MustCompile(`roomd.service: Watchdog timeout|SIGABRT: abort`)

// stepWatchdog (HIL step 5, second half): the room-control system stops reading ttyS2 while
// asking for the whole status over and over; roomd's serial loop blocks on its write (as with a
// controller holding CTS low), stops beating, roomd stops pinging systemd, systemd's watchdog
// aborts it and restarts it; the new roomd is READY and the room back online.
func stepWatchdog(ctx context.Context, t *testing.T, r *hilRig) {
	readies := len(reReady.FindAllString(r.con.String(), -1))
	conFrom := len(r.con.String())
	r.ctl.hold(true)
	t0 := time.Now()
	// About 1 KiB of answer per "get": enough to fill QEMU's socket buffer and the tty's.
	go func() {
		for i := 0; i < 600; i++ {
			if err := r.ctl.send("get"); err != nil {
				return
			}
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if _, _, err := r.con.wait(cctx, reAbort, conFrom); err != nil {
		r.ctl.hold(false)
		t.Fatalf("systemd's watchdog never aborted roomd: %v\nconsole tail:\n%s", err, r.con.Tail(4000))
	}
	aborted := time.Since(t0)
	t.Logf("FIGURE watchdog abort %s after the control line stopped draining (roomd hung after 10 s, WatchdogSec=60 under TCG)", aborted.Round(100*time.Millisecond))
	r.ctl.hold(false)
	for {
		if n := len(reReady.FindAllString(r.con.String(), -1)); n > readies {
			break
		}
		select {
		case <-cctx.Done():
			t.Fatalf("roomd not READY again after the watchdog: console tail:\n%s", r.con.Tail(4000))
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("FIGURE roomd READY again %s after the abort", (time.Since(t0) - aborted).Round(100*time.Millisecond))
	restarted := time.Now()
	waitRoom(ctx, t, r, "back online after the restart", 90*time.Second, func(x api.Room) bool {
		return x.Online && x.LastSeen.After(restarted)
	})
	t.Logf("FIGURE room online again %s after roomd READY", time.Since(restarted).Round(100*time.Millisecond))
	// The new roomd serves the control line again.
	from := len(r.ctl.out.String())
	if err := r.ctl.send("get pairing.online"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.ctl.out.wait(cctx, regexp.MustCompile(`pairing\.online=true`), from); err != nil {
		t.Fatalf("control line after the restart: %v\n%s", err, r.ctl.out.Tail(2000))
	}
}

func readPNG(path string) (*image.RGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read screendump: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode screendump: %w", err)
	}
	rgba := image.NewRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	return rgba, nil
}
