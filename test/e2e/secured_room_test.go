package e2e

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/firmware/call"
	"github.com/stoa-rooms/stoa/firmware/call/calltest"
	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/firmware/screen"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/test/browser"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// TestSecuredRoomMeeting is the Secured option's acceptance with a room: stoa-server all with
// the option licensed and on, the router's media on one UDP port (router.udp_mux_port) that
// tshark captures on loopback for the whole meeting. A room (sim board, in-process roomd agent
// paired through the portal, declaring e2ee), a Go participant (calltest with an e2ee session)
// and Chromium (the portal's web client, SFrame in encoded transforms) meet. Every participant
// decrypts and decodes the others: the Go side reads the room camera's sim stamps and hears its
// tone and decodes Chromium's video; the room's display shows the Go side's green and
// Chromium's picture; Chromium's decoders count frames and audio from both. The capture holds
// only STUN, DTLS and SRTP/SRTCP, and every DTLS handshake chose SRTP_AEAD_AES_128_GCM (use_srtp
// profile 0x0007). The router's own view of the room's media (which needs a hook inside an
// in-process router) is TestCallE2EE in firmware/call; Chromium's is TestBrowserE2EERouterView.
func TestSecuredRoomMeeting(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	muxPort := srFreeUDPPort(t)
	stack := srStartStack(t, muxPort)
	admin := stack.Login(t)
	deadline := time.Now().Add(30 * time.Second)
	for st := securedGet(t, admin); !st.Licensed; st = securedGet(t, admin) {
		if time.Now().After(deadline) {
			t.Fatalf("the portal never saw a licensed manager: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	capture := srStartCapture(t, muxPort)

	b, hw := srSimBoard(t)
	agent := srPairRoom(t, ctx, stack, admin, hw, "Boardroom")
	if status, body, err := admin.Do(http.MethodPut, "/api/v1/security/secured", api.SecuredChange{Enabled: true, Confirm: true}, "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("turn the Secured option on: %d %v %s", status, err, body)
	}
	m := cfCreateMeeting(t, admin, "Secured room call", "")
	cfWaitRouter(t, admin, m.ID)
	conf := cfPortalTLS(t, stack, admin)

	camera := cfPatternY4M(t, cfCameraW, cfCameraH, 15, 30)
	chrome := cfOpenBrowser(t, stack, "Chromium", m.ID, "", camera)
	chrome.join(t)
	bsPollFor(t, chrome.ctx, 40*time.Second, `!document.getElementById("e2ee-state").hidden && window.stoaMeeting.state() === "connected"`, "Chromium in the call with e2ee")

	view := &rcDisplayView{r: screen.New(hw.Display, screen.Options{}), last: make(chan call.CallView, 1)}
	var room *call.Call
	var err error
	deadline = time.Now().Add(30 * time.Second)
	for {
		room, err = agent.JoinMeeting(ctx, m.ID, "", call.Options{Board: b, Screen: view, Meeting: m.Name})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("room join: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer room.Leave()
	goP := srJoinGo(t, ctx, admin, conf, m.ID, "Go")

	chromeID := ""
	waitUntil(t, 20*time.Second, "the room seeing Chromium and Go", func() bool {
		ps := room.State().Participants
		for _, p := range ps {
			if p.Name == "Chromium" {
				chromeID = p.ID
			}
		}
		return len(ps) == 2 && chromeID != ""
	})

	t.Run("the room's call is end-to-end encrypted", func(t *testing.T) {
		if st := room.State(); !st.E2EE {
			t.Fatalf("room state %+v", st)
		}
	})
	t.Run("Go decrypts and decodes the room's camera and microphone", func(t *testing.T) {
		frames, err := goP.WaitFrames(ctx, room.ID(), 20)
		if err != nil {
			t.Fatalf("%v (undecryptable from the room: %d)", err, goP.Undecrypted(room.ID()))
		}
		if d := frames[len(frames)-1].Seq - frames[0].Seq; d < 10 {
			t.Fatalf("the room's frame counter advanced by %d over %d frames", d, len(frames))
		}
		if _, err := goP.WaitAudio(ctx, room.ID(), 48000); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Go decrypts and decodes Chromium's video", func(t *testing.T) {
		waitUntil(t, 30*time.Second, "Go decoding Chromium's pictures", func() bool { return len(goP.Frames(chromeID)) >= 10 })
		if _, err := goP.WaitAudio(ctx, chromeID, 4800); err != nil {
			t.Fatal(err)
		}
		f := goP.Frames(chromeID)
		t.Logf("Go decoded %d pictures of Chromium (%d px wide), %d undecryptable frames", len(f), f[len(f)-1].Width, goP.Undecrypted(chromeID))
	})
	t.Run("the room's display shows Go's and Chromium's pictures", func(t *testing.T) {
		for {
			var v call.CallView
			select {
			case v = <-view.last:
			case <-ctx.Done():
				t.Fatal("the room never showed both pictures")
			}
			pics := map[string]bool{}
			for _, tl := range v.Tiles {
				if tl.Picture != nil {
					pics[tl.Name] = true
				}
				if tl.Name == "Go" && tl.Picture != nil {
					img := tl.Picture
					c := img.YCbCrAt(img.Bounds().Dx()/2, img.Bounds().Dy()/2)
					if absDiff8(c.Y, 145) > 12 || absDiff8(c.Cb, 54) > 12 || absDiff8(c.Cr, 34) > 12 {
						t.Fatalf("Go's picture on the room's display centre %+v, want about Y145 Cb54 Cr34", c)
					}
				}
			}
			if pics["Go"] && pics["Chromium"] {
				break
			}
		}
	})
	t.Run("Chromium decodes the room's and Go's media", func(t *testing.T) {
		fromRoom := chrome.waitMediaFlows(t, room.ID())
		fromGo := chrome.waitMediaFlows(t, goP.ID())
		t.Logf("Chromium from the room: %+v; from Go: %+v", fromRoom, fromGo)
	})
	t.Run("SRTP is AES-128-GCM for the Go participant", func(t *testing.T) {
		if got := goP.Client().SRTPProfile(); got != "SRTP_AEAD_AES_128_GCM" {
			t.Fatalf("Go's SRTP profile %q", got)
		}
	})
	browser.RequireNoErrors(t, chrome.ctx)

	t.Run("loopback capture: only SRTP with the AES-GCM profile", func(t *testing.T) {
		pcap := capture.stop(t)
		srCheckCapture(t, pcap, muxPort)
	})
}

// srFreeUDPPort is a loopback UDP port free a moment ago, for the router's media mux.
func srFreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// srStartStack is startSecuredStack (the Secured option licensed) with all of the router's
// media on one UDP port, so a capture filter names exactly the router's media.
func srStartStack(t *testing.T, muxPort int) *stoatest.Stack {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	lic, err := manager.SignLicence(manager.Licence{Licensee: "Stoa e2e", Seats: 10, Options: []string{api.LicenceOptionSecured}, NotAfter: time.Now().Add(time.Hour)}, priv)
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
	cfg := fmt.Sprintf(`{"manager": {"licence_key": %q}, "router": {"udp_mux_port": %d}}`, base64.StdEncoding.EncodeToString(pub), muxPort)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return stoatest.Start(t, stoatest.Options{DataDir: data, Args: []string{"--config", cfgPath}})
}

func srSimBoard(t *testing.T) (*board.Board, *sim.Hardware) {
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
	return b, sim.Devices(b)
}

// srPairRoom runs a room agent in process and pairs it through the portal API under name; it
// returns once the portal lists the room online with the e2ee capability (the Secured option
// requires it of every room).
func srPairRoom(t *testing.T, ctx context.Context, stack *stoatest.Stack, admin *stoatest.Session, hw *sim.Hardware, name string) *roomd.Agent {
	t.Helper()
	cfg := roomd.Defaults()
	cfg.DataDir, cfg.PortalURL, cfg.Discover, cfg.Firmware = t.TempDir(), stack.PortalURL, false, "e2e-secured"
	codes := make(chan string, 10)
	agent, err := roomd.NewAgent(roomd.Options{Config: cfg, Display: hw.Display, OnCode: func(c string) {
		select {
		case codes <- c:
		default:
		}
	}, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Room: pairing.RoomInfo{Model: "sim", Hostname: "e2e-secured"}})
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(actx) }()
	t.Cleanup(func() { acancel(); <-done })
	var code string
	select {
	case code = <-codes:
	case <-ctx.Done():
		t.Fatal("no pairing code")
	}
	waitUntil(t, 20*time.Second, "pairing the room", func() bool {
		st, _, err := admin.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: code, Name: name}, "", nil)
		return err == nil && st == http.StatusOK
	})
	// Its poll declares e2ee (api.RoomStatus.Capabilities): the portal's readiness list for
	// the Secured option no longer names it.
	waitUntil(t, 30*time.Second, "the room ready for the Secured option", func() bool {
		var rs []api.Room
		if st, _, err := admin.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rs); err != nil || st != http.StatusOK || len(rs) != 1 || !rs[0].Online {
			return false
		}
		for _, nb := range securedGet(t, admin).NotReady {
			if nb.Kind == "room" {
				return false
			}
		}
		return true
	})
	return agent
}

// srJoinGo joins a calltest participant with its own e2ee key through the portal's join API.
func srJoinGo(t *testing.T, ctx context.Context, admin *stoatest.Session, conf *tls.Config, meetingID, name string) *calltest.Participant {
	t.Helper()
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var jr api.MeetingJoinResponse
	req := api.MeetingJoinRequest{Name: name, E2EEKey: e2ee.EncodePublicKey(priv.PublicKey())}
	if status, body, err := admin.Do(http.MethodPost, "/api/v1/meetings/"+meetingID+"/join", req, "", &jr); err != nil || status != http.StatusOK {
		t.Fatalf("%s: join: %d %v %s", name, status, err, body)
	}
	if !jr.Secured {
		t.Fatalf("%s: the join answer does not say secured", name)
	}
	claim, err := e2ee.VerifyKeyClaim(jr.Token, jr.TokenKey)
	if err != nil {
		t.Fatalf("%s: own token: %v", name, err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: claim.Meeting, Self: jr.ParticipantID, Private: priv, PortalKey: jr.TokenKey})
	if err != nil {
		t.Fatal(err)
	}
	p, err := calltest.Join(ctx, calltest.Options{Client: rtcclient.Options{SignalURL: jr.SignalURL, Token: jr.Token, TLS: conf, ICEServers: jr.ICEServers, E2EE: s}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// srCapture is a running tshark capture of the router's media port on loopback.
type srCapture struct {
	cmd  *exec.Cmd
	path string
	done chan error
}

// srStartCapture starts tshark on lo with a capture filter on the router's media port and
// returns once it is capturing.
func srStartCapture(t *testing.T, port int) *srCapture {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatalf("tshark is required (.ci/deps.sh installs it): %v", err)
	}
	c := &srCapture{path: filepath.Join(t.TempDir(), "media.pcapng"), done: make(chan error, 1)}
	c.cmd = exec.Command(tshark, "-i", "lo", "-f", fmt.Sprintf("udp port %d", port), "-w", c.path, "-q")
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start tshark: %v", err)
	}
	started := make(chan struct{})
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "Capturing on") {
				once = true
				close(started)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		c.done <- c.cmd.Wait()
	}()
	select {
	case <-started:
	case err := <-c.done:
		t.Fatalf("tshark exited before capturing: %v\n%s", err, out.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("tshark did not start capturing within 20 s")
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
		}
	})
	return c
}

// stop ends the capture (SIGINT: tshark flushes the file) and returns the file's path.
func (c *srCapture) stop(t *testing.T) string {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatal("tshark did not stop within 20 s")
	}
	return c.path
}

// srCheckCapture reads the capture back: every UDP payload on the router's media port is STUN,
// DTLS or SRTP/SRTCP (RFC 7983's demultiplexing by first byte), there is SRTP, and every DTLS
// ServerHello's use_srtp extension chose profile 0x0007, SRTP_AEAD_AES_128_GCM.
func srCheckCapture(t *testing.T, pcap string, port int) {
	t.Helper()
	payloads := srTshark(t, "-r", pcap, "-T", "fields", "-e", "udp.payload")
	var stun, dtls, srtp int
	for _, line := range payloads {
		b, err := hex.DecodeString(strings.ReplaceAll(line, ":", ""))
		if err != nil || len(b) == 0 {
			t.Fatalf("capture: UDP payload %q", line)
		}
		switch f := b[0]; {
		case f <= 3:
			stun++
		case f >= 20 && f <= 63:
			dtls++
		case f >= 128 && f <= 191:
			srtp++
		default:
			t.Fatalf("capture: a UDP payload on the router's port starts with %#x: neither STUN, DTLS nor SRTP", f)
		}
	}
	if srtp < 500 || dtls == 0 {
		t.Fatalf("capture: %d STUN, %d DTLS, %d SRTP/SRTCP packets: too little media on port %d", stun, dtls, srtp, port)
	}
	profiles := srTshark(t, "-r", pcap, "-d", fmt.Sprintf("udp.port==%d,dtls", port), "-Y", "dtls.handshake.type == 2",
		"-T", "fields", "-e", "frame.number", "-e", "dtls.use_srtp.protection_profile")
	// Chromium, the Go participant and the room each negotiate one DTLS association.
	if len(profiles) < 3 {
		t.Fatalf("capture: %d DTLS ServerHellos, want one per participant (3)", len(profiles))
	}
	for _, line := range profiles {
		// A ServerHello without use_srtp leaves the second field empty.
		if _, p, _ := strings.Cut(line, "\t"); p != "0x0007" {
			t.Fatalf("capture: DTLS ServerHello (frame, profile) %q did not choose 0x0007 (SRTP_AEAD_AES_128_GCM); all: %q", line, profiles)
		}
	}
	t.Logf("capture of udp port %d: %d STUN, %d DTLS, %d SRTP/SRTCP packets; %d ServerHellos, all SRTP_AEAD_AES_128_GCM", port, stun, dtls, srtp, len(profiles))
}

// srTshark runs tshark on a capture file and returns its non-empty output lines.
func srTshark(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
