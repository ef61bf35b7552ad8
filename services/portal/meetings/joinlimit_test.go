package meetings

import (
	"net/http"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

func TestJoinLimiter(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newJoinLimiter(1, 2)
	tests := []struct {
		name string
		user int64
		at   time.Duration
		want bool
	}{
		{"first", 1, 0, true},
		{"second (burst)", 1, 0, true},
		{"third at once: limited", 1, 0, false},
		{"another user has their own bucket", 2, 0, true},
		{"refilled one after a second", 1, time.Second, true},
		{"but not two", 1, time.Second, false},
		{"time going backwards refills nothing", 1, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.allow(tc.user, t0.Add(tc.at)); got != tc.want {
				t.Fatalf("allow(%d, +%v) = %v, want %v", tc.user, tc.at, got, tc.want)
			}
		})
	}
}

// TestJoinRateLimited: one account firing joins is refused with 429 meeting.join_rate once
// its burst is spent (every admitted join would hold a licence seat); others are unaffected.
func TestJoinRateLimited(t *testing.T) {
	e := newEnv(t)
	e.svc.JoinRate, e.svc.JoinBurst = 0.001, 3
	alice, bob := e.login(t, "alice"), e.login(t, "bob")
	var m api.Meeting
	if status := alice.do("POST", "/api/v1/meetings", api.NewMeeting{Name: "Open"}, &m); status != 201 {
		t.Fatalf("create: %d", status)
	}
	joinStatus := func(c *client) (int, string) {
		status, b := c.raw("POST", "/api/v1/meetings/"+m.ID+"/join", api.MeetingJoinRequest{})
		var ae api.Error
		if status != http.StatusOK {
			if err := api.DecodeStrict(b, &ae); err != nil {
				t.Fatalf("join answer %d %q: %v", status, b, err)
			}
		}
		return status, ae.Code
	}
	for i := range 3 {
		// No manager is online: refused with 503, but each attempt counts.
		if status, code := joinStatus(bob); status == http.StatusTooManyRequests {
			t.Fatalf("attempt %d limited early: %d %s", i+1, status, code)
		}
	}
	if status, code := joinStatus(bob); status != http.StatusTooManyRequests || code != "meeting.join_rate" {
		t.Fatalf("fourth attempt: %d %s, want 429 meeting.join_rate", status, code)
	}
	if status, code := joinStatus(alice); status == http.StatusTooManyRequests {
		t.Fatalf("another user limited: %d %s", status, code)
	}
}
