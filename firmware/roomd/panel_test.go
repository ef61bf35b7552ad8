package roomd

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
)

// TestPanelOnRoom: a LAN panel asks to pair, the PIN appears on the room's idle screen, the
// panel pairs with it, is reported for the management poll, drives the room over the
// WebSocket, and a revocation from the portal refuses its token.
func TestPanelOnRoom(t *testing.T) {
	var ps *PanelScreen
	r := startSimRoom(t, func(o *RoomOptions) { ps = NewPanelScreen(o.Screen); o.Screen = ps })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPanel(r.Room, ps, PanelOptions{Listener: ln, DataDir: t.TempDir(),
		IsLocal: func(*http.Request) bool { return false }}) // every client is a LAN panel here
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	base := "https://" + ln.Addr().String()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed panel certificate

	postJSON := func(path, body string) int {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := postJSON("/api/pair/start", "{}"); st != http.StatusOK {
		t.Fatalf("pair start: %d", st)
	}
	pin := ps.PIN()
	line := "Touch panel PIN: " + pin[:3] + " " + pin[3:]
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(r.hw.Display.Last().Lines, "\n"), line) {
		if time.Now().After(deadline) {
			t.Fatalf("the room's screen %+v never showed %q", r.hw.Display.Last(), line)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := postJSON("/api/pair", `{"pin":"`+pin+`","name":"Tablet"}`); st != http.StatusOK {
		t.Fatalf("pair: %d", st)
	}
	if strings.Contains(strings.Join(r.hw.Display.Last().Lines, "\n"), "PIN") {
		t.Fatal("the PIN stays on the screen after pairing")
	}
	rep := r.Agent().panels.report()
	if len(rep) != 1 || rep[0].Name != "Tablet" {
		t.Fatalf("poll report %+v", rep)
	}
	wsURL := "wss://" + ln.Addr().String() + "/api/ws"
	ws, err := control.DialWS(ctx, wsURL, c)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ws.Next(ctx); err != nil || m.Status == nil {
		t.Fatalf("first message %+v %v", m, err)
	}
	if err := ws.Send(ctx, control.Command{ID: "1", Name: control.CmdMic, Args: map[string]string{"action": "mute"}}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := ws.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Reply != nil {
			if !m.Reply.OK || !r.Hub().Status().Audio.MicMuted {
				t.Fatalf("mute from the panel: %+v", m.Reply)
			}
			break
		}
	}
	r.Agent().panels.revoke([]string{rep[0].ID})
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	for {
		if _, err := ws.Next(rctx); err != nil {
			if rctx.Err() != nil {
				t.Fatal("the revoked panel's WebSocket stayed open")
			}
			break
		}
	}
	if _, err := control.DialWS(ctx, wsURL, c); err == nil {
		t.Fatal("the revoked panel's token still opens the WebSocket")
	}
	if n := len(p.Report()); n != 0 {
		t.Fatalf("%d panels reported after revocation", n)
	}
}
