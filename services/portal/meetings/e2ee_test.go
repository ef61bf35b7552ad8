package meetings

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/manager"
	"github.com/stoa-rooms/stoa/services/token"
)

// TestJoinBindsE2EEKey: a participant's e2ee public key goes into its signed token, which
// e2ee.VerifyKeyClaim accepts under the token key the join answer hands out; a malformed key
// is refused before a seat is taken.
func TestJoinBindsE2EEKey(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice")
	mgr := manager.New(manager.Options{Licence: manager.Licence{Licensee: "test", Seats: 4}, Secret: []byte("0123456789abcdef0123456789abcdef")})
	routerID := strings.Repeat("cd", 16)
	mgr.RouterHeartbeat(api.RouterHeartbeat{RouterID: routerID, URL: "https://localhost:1"}, "127.0.0.1:1")
	e.setManager(e.serveComponent(t, mgr.Handler()))
	var m api.Meeting
	if status := alice.do("POST", "/api/v1/meetings", api.NewMeeting{Name: "Secure"}, &m); status != 201 {
		t.Fatalf("create: %d", status)
	}
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("malformed key refused", func(t *testing.T) {
		status, b := alice.raw("POST", "/api/v1/meetings/"+m.ID+"/join", api.MeetingJoinRequest{E2EEKey: "nope"})
		if status != 400 || !strings.Contains(string(b), "e2ee_key") {
			t.Fatalf("%d %s", status, b)
		}
		if len(mgr.Presence()) != 0 {
			t.Fatal("a refused join took a seat")
		}
	})
	t.Run("key bound into the token", func(t *testing.T) {
		var resp api.MeetingJoinResponse
		if status := alice.do("POST", "/api/v1/meetings/"+m.ID+"/join", api.MeetingJoinRequest{E2EEKey: e2ee.EncodePublicKey(priv.PublicKey())}, &resp); status != 200 {
			t.Fatalf("join: %d", status)
		}
		if !bytes.Equal(resp.TokenKey, e.tokenPub) {
			t.Fatalf("token key %x, want the portal's %x", resp.TokenKey, []byte(e.tokenPub))
		}
		c, err := e2ee.VerifyKeyClaim(resp.Token, resp.TokenKey)
		if err != nil {
			t.Fatal(err)
		}
		if c.Meeting != m.ID || c.Participant != resp.ParticipantID || !c.Public.Equal(priv.PublicKey()) {
			t.Fatalf("claim %+v", c)
		}
	})
	// The Secured option travels in the signed token, so routers enforce it from the first
	// join after it is turned on (their own view follows the portal's heartbeat answers).
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("secured option %v in the token", on), func(t *testing.T) {
			e.svc.Secured = func() bool { return on }
			defer func() { e.svc.Secured = nil }()
			var resp api.MeetingJoinResponse
			if status := alice.do("POST", "/api/v1/meetings/"+m.ID+"/join", api.MeetingJoinRequest{E2EEKey: e2ee.EncodePublicKey(priv.PublicKey())}, &resp); status != 200 {
				t.Fatalf("join: %d", status)
			}
			c, err := token.Verify(resp.Token, e.tokenPub, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if c.Secured != on || resp.Secured != on {
				t.Fatalf("token secured %v, answer secured %v, want %v", c.Secured, resp.Secured, on)
			}
		})
	}
}
