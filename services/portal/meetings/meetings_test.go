package meetings

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/services/portal/store"
	"github.com/stoa-rooms/stoa/services/token"
)

func TestMeetingCRUD(t *testing.T) {
	e := newEnv(t)
	alice, bob, root := e.login(t, "alice"), e.login(t, "bob"), e.login(t, "root")

	var m api.Meeting
	if status, b := alice.raw("POST", "/api/v1/meetings", api.NewMeeting{Name: "  Standup ", PIN: "4321"}); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, b)
	} else if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.ID) != 10 || strings.Trim(m.ID, "0123456789") != "" || m.Name != "Standup" || !m.HasPIN || m.Owner != "alice" {
		t.Fatalf("created %+v", m)
	}
	stored, err := e.st.MeetingByID(t.Context(), m.ID)
	if err != nil || !strings.HasPrefix(stored.PINHash, "$argon2id$") || strings.Contains(stored.PINHash, "4321") {
		t.Fatalf("stored PIN hash %q, %v", stored.PINHash, err)
	}
	var bobs api.Meeting
	if status := bob.do("POST", "/api/v1/meetings", api.NewMeeting{Name: "Review"}, &bobs); status != http.StatusCreated || bobs.HasPIN {
		t.Fatalf("create without PIN: %d %+v", status, bobs)
	}

	t.Run("refused bodies change nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			body any
			want string
		}{
			{"empty name", api.NewMeeting{Name: " "}, "name is empty"},
			{"letters in PIN", api.NewMeeting{Name: "x", PIN: "12ab"}, "digits only"},
			{"short PIN", api.NewMeeting{Name: "x", PIN: "12"}, "4 to 12 digits"},
			{"unknown field", map[string]any{"name": "x", "owner": "bob"}, "unknown field"},
			{"control character", api.NewMeeting{Name: "a\u0007b"}, "control character"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var ae api.Error
				if status := alice.do("POST", "/api/v1/meetings", tc.body, &ae); status != 400 || ae.Code != "request.invalid" || !strings.Contains(ae.Message, tc.want) {
					t.Fatalf("%d %+v, want 400 %q", status, ae, tc.want)
				}
			})
		}
		ms, _ := e.st.ListMeetings(t.Context(), 0)
		if len(ms) != 2 {
			t.Fatalf("%d meetings stored, want 2", len(ms))
		}
	})

	t.Run("list own, admins see all", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			c    *client
			want int
		}{{"alice", alice, 1}, {"bob", bob, 1}, {"admin", root, 2}} {
			t.Run(tc.name, func(t *testing.T) {
				var ms []api.Meeting
				if status := tc.c.do("GET", "/api/v1/meetings", nil, &ms); status != 200 || len(ms) != tc.want {
					t.Fatalf("%d %+v, want %d meetings", status, ms, tc.want)
				}
			})
		}
	})

	t.Run("get by spaced ID", func(t *testing.T) {
		var got api.Meeting
		if status := bob.do("GET", "/api/v1/meetings/"+strings.ReplaceAll(FormatID(m.ID), " ", "%20"), nil, &got); status != 200 || got.ID != m.ID {
			t.Fatalf("%d %+v", status, got)
		}
		var ae api.Error
		if status := bob.do("GET", "/api/v1/meetings/12x", nil, &ae); status != 400 || ae.Code != "meeting.bad_id" {
			t.Fatalf("bad id: %d %+v", status, ae)
		}
		if status := bob.do("GET", "/api/v1/meetings/0000000000", nil, &ae); status != 404 || ae.Code != "meeting.not_found" {
			t.Fatalf("unknown: %d %+v", status, ae)
		}
	})

	t.Run("only owner or admin edits", func(t *testing.T) {
		var ae api.Error
		if status := bob.do("PUT", "/api/v1/meetings/"+m.ID, api.NewMeeting{Name: "Hijacked"}, &ae); status != 403 || ae.Code != "auth.forbidden" {
			t.Fatalf("bob edits alice's meeting: %d %+v", status, ae)
		}
		if status := bob.do("DELETE", "/api/v1/meetings/"+m.ID, nil, &ae); status != 403 {
			t.Fatalf("bob deletes alice's meeting: %d", status)
		}
		var got api.Meeting
		if status := root.do("PUT", "/api/v1/meetings/"+m.ID, api.NewMeeting{Name: "Daily", PIN: "1111"}, &got); status != 200 || got.Name != "Daily" || !got.HasPIN {
			t.Fatalf("admin edit: %d %+v", status, got)
		}
		if status := alice.do("PUT", "/api/v1/meetings/"+m.ID, api.NewMeeting{Name: "Daily", PIN: "4321"}, &got); status != 200 {
			t.Fatalf("owner edit: %d", status)
		}
		if !e.audit.has("meeting.update " + FormatID(m.ID)) {
			t.Error("update not audited")
		}
	})

	t.Run("room default meeting is admin only", func(t *testing.T) {
		if err := e.st.CreateRoom(t.Context(), store.Room{ID: "r1", Name: "Boardroom", CertSerial: "aa", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		var ae api.Error
		if status := alice.do("PUT", "/api/v1/rooms/r1/meeting", api.RoomMeeting{MeetingID: m.ID}, &ae); status != 403 {
			t.Fatalf("user sets room meeting: %d", status)
		}
		var rm api.RoomMeeting
		if status := root.do("PUT", "/api/v1/rooms/r1/meeting", api.RoomMeeting{MeetingID: FormatID(m.ID)}, &rm); status != 200 || rm.MeetingID != m.ID {
			t.Fatalf("admin sets room meeting: %d %+v", status, rm)
		}
		if status := root.do("PUT", "/api/v1/rooms/r1/meeting", api.RoomMeeting{MeetingID: "0000000000"}, &ae); status != 404 {
			t.Fatalf("unknown meeting: %d", status)
		}
		if id, _ := e.st.RoomMeeting(t.Context(), "r1"); id != m.ID {
			t.Fatalf("refusal changed the room's meeting to %q", id)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if status := bob.do("DELETE", "/api/v1/meetings/"+bobs.ID, nil, nil); status != 204 {
			t.Fatalf("delete: %d", status)
		}
		if status := bob.do("GET", "/api/v1/meetings/"+bobs.ID, nil, nil); status != 404 {
			t.Fatalf("after delete: %d", status)
		}
	})
}

// TestJoin joins through the real manager (its mTLS API served with a component certificate
// from the internal CA; the portal calls it with its internal certificate).
func TestJoin(t *testing.T) {
	e := newEnv(t)
	alice, bob, root := e.login(t, "alice"), e.login(t, "bob"), e.login(t, "root")
	mgr := manager.New(manager.Options{Licence: manager.Licence{Licensee: "test", Seats: 2}, Secret: []byte("0123456789abcdef0123456789abcdef")})
	routerID := strings.Repeat("ab", 16)
	mgr.RouterHeartbeat(api.RouterHeartbeat{RouterID: routerID, URL: "https://localhost:1"}, "127.0.0.1:1")
	mgrURL := e.serveComponent(t, mgr.Handler())

	var m api.Meeting
	if status := alice.do("POST", "/api/v1/meetings", api.NewMeeting{Name: "Standup", PIN: "4321"}, &m); status != 201 {
		t.Fatalf("create: %d", status)
	}
	join := func(c *client, req api.MeetingJoinRequest) (int, api.MeetingJoinResponse, api.Error) {
		t.Helper()
		status, b := c.raw("POST", "/api/v1/meetings/"+m.ID+"/join", req)
		var ok api.MeetingJoinResponse
		var ae api.Error
		var err error
		if status == 200 {
			err = api.DecodeStrict(b, &ok)
		} else {
			err = api.DecodeStrict(b, &ae)
		}
		if err != nil {
			t.Fatalf("join answer %d %q: %v", status, b, err)
		}
		return status, ok, ae
	}

	t.Run("no manager online", func(t *testing.T) {
		status, _, ae := join(bob, api.MeetingJoinRequest{PIN: "4321"})
		if status != 503 || ae.Code != "router.unavailable" {
			t.Fatalf("%d %+v", status, ae)
		}
	})
	e.setManager(mgrURL)

	t.Run("wrong PIN", func(t *testing.T) {
		status, _, ae := join(bob, api.MeetingJoinRequest{PIN: "0000"})
		if status != 403 || ae.Code != "meeting.pin" {
			t.Fatalf("%d %+v, want 403 meeting.pin", status, ae)
		}
		if len(mgr.Presence()) != 0 {
			t.Fatal("a refused PIN took a seat")
		}
		if !e.audit.has("meeting.join.pin") {
			t.Error("wrong PIN not audited")
		}
	})

	var first api.MeetingJoinResponse
	t.Run("join returns a token the router key verifies", func(t *testing.T) {
		status, resp, ae := join(bob, api.MeetingJoinRequest{PIN: "4321", Name: "Bob B."})
		if status != 200 {
			t.Fatalf("%d %+v", status, ae)
		}
		first = resp
		c, err := token.Verify(resp.Token, e.tokenPub, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if c.Meeting != m.ID || c.Router != routerID || c.Participant != resp.ParticipantID || c.Name != "Bob B." ||
			c.Kind != token.KindUser || !c.Has(token.PermPublish) || !c.Has(token.PermSubscribe) || c.Expires-c.IssuedAt != 120 {
			t.Fatalf("claims %+v", c)
		}
		if resp.RouterID != routerID || resp.SignalURL != "wss://"+strings.TrimPrefix(e.srv.URL, "https://")+"/api/v1/rtc/"+routerID {
			t.Fatalf("response %+v", resp)
		}
		if _, err := token.Verify(resp.Token, e.tokenPub, time.Now().Add(3*time.Minute)); err == nil {
			t.Fatal("token still valid after 3 minutes")
		}
		p := mgr.Presence()
		if len(p) != 1 || p[0].Participant != resp.ParticipantID || p[0].Meeting != m.ID {
			t.Fatalf("manager presence %+v", p)
		}
		if !e.audit.has("meeting.join " + FormatID(m.ID)) {
			t.Error("join not audited")
		}
	})

	t.Run("owner joins without PIN, defaulting the name", func(t *testing.T) {
		status, resp, ae := join(alice, api.MeetingJoinRequest{})
		if status != 200 {
			t.Fatalf("%d %+v", status, ae)
		}
		c, err := token.Verify(resp.Token, e.tokenPub, time.Now())
		if err != nil || c.Name != "alice" || c.Participant == first.ParticipantID {
			t.Fatalf("claims %+v, %v", c, err)
		}
	})

	t.Run("licence full surfaces the manager's message", func(t *testing.T) {
		status, _, ae := join(root, api.MeetingJoinRequest{PIN: "4321"})
		if status != 403 || ae.Code != "licence.full" || !strings.Contains(ae.Message, "2 licensed seats") {
			t.Fatalf("%d %+v, want 403 licence.full with the manager's message", status, ae)
		}
	})

	t.Run("repeated wrong PINs lock the meeting briefly", func(t *testing.T) {
		var last api.Error
		var status int
		for range pinMaxFailures + 1 {
			status, _, last = join(root, api.MeetingJoinRequest{PIN: "9999"})
		}
		if status != 429 || last.Code != "meeting.pin_locked" {
			t.Fatalf("%d %+v, want 429 meeting.pin_locked", status, last)
		}
	})
}
