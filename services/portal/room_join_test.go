package portal

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/component"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/services/token"
)

// startManager runs the real manager as a component joined to p with a one-time token, and
// returns its https://host:port once the portal sees it online.
func (p *roomsPortal) startManager(t *testing.T) string {
	t.Helper()
	tok, err := p.Components().CreateToken(context.Background(), "test", api.JoinTokenRequest{Kind: "manager", FQDN: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := component.Config{Kind: "manager", FQDN: "localhost", PortalURL: p.base, PortalRoots: p.ServingRoots(),
		JoinToken: tok.Token, DataDir: filepath.Join(t.TempDir(), "manager"), HeartbeatInterval: 200 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- manager.Run(ctx, cfg, ln, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager: %v", err)
		}
	})
	var url string
	waitFor(t, "the manager online at the portal", func() bool {
		url, _ = p.Components().OnlineURL(context.Background(), "manager")
		return url != ""
	})
	return url
}

// componentClient presents a component certificate for id from the portal's internal CA, as a
// router does when it reports to the manager.
func (p *roomsPortal) componentClient(t *testing.T, id string) (*http.Client, *tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ica := p.Components().CA
	leaf, err := ica.IssueClient(key.Public(), "router", time.Hour, ca.ComponentURI(id))
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	tc := certs.ClientConfig()
	tc.RootCAs = ica.Pool()
	tc.Certificates = []tls.Certificate{*cert}
	tr := &http.Transport{TLSClientConfig: tc}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, cert
}

// heartbeatRouter reports router id alive to the manager every 300 ms until the test ends (the
// manager places meetings only on routers heard from within 3 s).
func heartbeatRouter(t *testing.T, c *http.Client, mgr, id string) {
	t.Helper()
	beat := func() (int, error) {
		b, _ := json.Marshal(api.RouterHeartbeat{RouterID: id, URL: "https://localhost:1"})
		res, err := c.Post(mgr+"/api/v1/manager/routers/heartbeat", "application/json", bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	if code, err := beat(); err != nil || code != 200 {
		t.Fatalf("router heartbeat: %d %v", code, err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(300 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				_, _ = beat()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func presence(t *testing.T, c *http.Client, mgr string) []api.Presence {
	t.Helper()
	res, err := c.Get(mgr + "/api/v1/manager/presence")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ps []api.Presence
	if err := json.NewDecoder(res.Body).Decode(&ps); err != nil || res.StatusCode != 200 {
		t.Fatalf("presence: %d %v", res.StatusCode, err)
	}
	return ps
}

// roomJoin posts a join over the management channel.
func roomJoin(t *testing.T, c *http.Client, g pairing.Grant, req any) (int, api.MeetingJoinResponse, api.Error) {
	t.Helper()
	b, _ := json.Marshal(req)
	res, err := c.Post(g.MgmtURL+"/api/v1/room/join", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("room join: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var ok api.MeetingJoinResponse
	var ae api.Error
	if res.StatusCode == 200 {
		err = api.DecodeStrict(body, &ok)
	} else {
		err = api.DecodeStrict(body, &ae)
	}
	if err != nil {
		t.Fatalf("room join answer %d %q: %v", res.StatusCode, body, err)
	}
	return res.StatusCode, ok, ae
}

// TestRoomJoin: a paired room joins meetings over its management channel through the real
// manager; the portal answers a token for kind "room" and the manager's presence lists it.
func TestRoomJoin(t *testing.T) {
	p := startRoomsPortal(t)
	code := newCode(t)
	room := newRoom(t, p.base, code)
	res := room.start()
	if status, e, _ := p.adminPair(t, code.String(), "Boardroom"); status != 200 {
		t.Fatalf("pair: %d %+v", status, e)
	}
	r := <-res
	if r.err != nil || r.gone != "" {
		t.Fatalf("room side: %v %q", r.err, r.gone)
	}
	g := r.grant
	mc := p.mgmtClient(t, g, room.key)

	mgr := p.startManager(t)
	routerID := strings.Repeat("ab", 16)
	rc, rcert := p.componentClient(t, routerID)
	heartbeatRouter(t, rc, mgr, routerID)

	newMeeting := func(name, pin string) api.Meeting {
		t.Helper()
		var m api.Meeting
		if status := p.post(t, "/api/v1/meetings", api.NewMeeting{Name: name, PIN: pin}, &m); status != 201 {
			t.Fatalf("create meeting: %d", status)
		}
		return m
	}
	def := newMeeting("Boardroom default", "1111")
	other := newMeeting("Board meeting", "2468")

	t.Run("no default meeting", func(t *testing.T) {
		status, _, ae := roomJoin(t, mc, g, api.RoomJoinRequest{})
		if status != 409 || ae.Code != "room.no_meeting" {
			t.Fatalf("%d %+v, want 409 room.no_meeting", status, ae)
		}
	})
	if code, body, err := p.sess.Do("PUT", "/api/v1/rooms/"+g.RoomID+"/meeting", api.RoomMeeting{MeetingID: def.ID}, "", nil); err != nil || code/100 != 2 {
		t.Fatalf("set default meeting: %d %s %v", code, body, err)
	}

	t.Run("default meeting without PIN", func(t *testing.T) {
		status, resp, ae := roomJoin(t, mc, g, api.RoomJoinRequest{})
		if status != 200 {
			t.Fatalf("%d %+v", status, ae)
		}
		c, err := token.Verify(resp.Token, p.Components().TokenKey, time.Now())
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		if c.Kind != token.KindRoom || c.Name != "Boardroom" || c.Meeting != def.ID || c.Router != routerID ||
			c.Participant != resp.ParticipantID || !c.Has(token.PermPublish) || !c.Has(token.PermSubscribe) {
			t.Fatalf("claims %+v", c)
		}
		_, port, _ := net.SplitHostPort(p.https) // the portal's public URL names its FQDN, localhost
		if want := "wss://" + net.JoinHostPort("localhost", port) + "/api/v1/rtc/" + routerID; resp.SignalURL != want || resp.RouterID != routerID {
			t.Fatalf("signal URL %q router %q, want %q", resp.SignalURL, resp.RouterID, want)
		}
		ps := presence(t, rc, mgr)
		if len(ps) != 1 || ps[0].Kind != "room" || ps[0].Name != "Boardroom" || ps[0].Participant != resp.ParticipantID || ps[0].Meeting != def.ID {
			t.Fatalf("presence %+v, want the room", ps)
		}
		if a := p.audits(t, "room.join", "room:"+g.RoomID); len(a) != 1 || !strings.Contains(a[0].Detail, resp.ParticipantID) {
			t.Fatalf("audit %+v", a)
		}
	})

	t.Run("other meeting needs its PIN", func(t *testing.T) {
		for _, pin := range []string{"", "1111"} { // none, and the default meeting's PIN
			status, _, ae := roomJoin(t, mc, g, api.RoomJoinRequest{MeetingID: other.ID, PIN: pin})
			if status != 403 || ae.Code != "meeting.pin" {
				t.Fatalf("pin %q: %d %+v, want 403 meeting.pin", pin, status, ae)
			}
		}
		if n := len(presence(t, rc, mgr)); n != 1 {
			t.Fatalf("a refused PIN took a seat: %d present", n)
		}
		if a := p.audits(t, "room.join.pin", "room:"+g.RoomID); len(a) != 2 {
			t.Fatalf("wrong PINs audited %d times, want 2", len(a))
		}
		status, resp, ae := roomJoin(t, mc, g, api.RoomJoinRequest{MeetingID: meetingsGrouped(other.ID), PIN: "2468"})
		if status != 200 {
			t.Fatalf("right PIN: %d %+v", status, ae)
		}
		c, err := token.Verify(resp.Token, p.Components().TokenKey, time.Now())
		if err != nil || c.Meeting != other.ID || c.Kind != token.KindRoom {
			t.Fatalf("claims %+v, %v", c, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"unknown meeting", api.RoomJoinRequest{MeetingID: "0000000001"}, 404, "meeting.not_found"},
			{"malformed meeting id", map[string]string{"meeting_id": "12ab"}, 400, "request.invalid"},
			{"unknown field", map[string]string{"name": "Evil"}, 400, "request.invalid"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				status, _, ae := roomJoin(t, mc, g, tc.body)
				if status != tc.status || ae.Code != tc.code {
					t.Fatalf("%d %+v, want %d %s", status, ae, tc.status, tc.code)
				}
			})
		}
	})

	t.Run("a component certificate is not a room", func(t *testing.T) {
		status, _, ae := roomJoin(t, p.rawTLSClient(t, g, rcert), g, api.RoomJoinRequest{})
		if status != 403 || ae.Code != "room.unpaired" {
			t.Fatalf("%d %+v, want 403 room.unpaired", status, ae)
		}
	})

	t.Run("revoked room", func(t *testing.T) {
		if code, body, err := p.sess.Do("DELETE", "/api/v1/rooms/"+g.RoomID, nil, "", nil); err != nil || code/100 != 2 {
			t.Fatalf("unpair: %d %s %v", code, body, err)
		}
		before := len(presence(t, rc, mgr))
		status, _, ae := roomJoin(t, mc, g, api.RoomJoinRequest{})
		if status != 403 || ae.Code != "room.unpaired" {
			t.Fatalf("%d %+v, want 403 room.unpaired", status, ae)
		}
		if n := len(presence(t, rc, mgr)); n != before {
			t.Fatalf("a revoked room took a seat: %d present, was %d", n, before)
		}
	})
}

// meetingsGrouped writes a meeting ID as people see it, "123 456 7890".
func meetingsGrouped(id string) string { return id[:3] + " " + id[3:6] + " " + id[6:] }
