package router

import (
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/token"
)

// TestReplayedTokenRefused: a join token is single use. Presenting it again (a replay by
// someone who saw it) is refused and leaves the real participant connected.
func TestReplayedTokenRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	tok := e.token(t, "m", "alice", testRouterID)
	a := connectWS(t, e, tok)
	if m := a.next(t); m.Type != api.SigTypeJoined {
		t.Fatalf("first join: %s", m.Type)
	}
	go a.readLoop()
	r := connectWS(t, e, tok)
	m := r.next(t)
	if m.Type != api.SigTypeError {
		t.Fatalf("replayed token answered %s, want error", m.Type)
	}
	if e, err := api.DecodeSigError(m); err != nil || e.Code != codeToken {
		t.Fatalf("replayed token error %+v %v, want %s", e, err, codeToken)
	}
	waitFor(t, 5*time.Second, "alice still in the meeting", func() bool {
		_, ended := a.socketEnded()
		return !ended && len(e.sfu.Load("").Meetings) == 1 && len(e.sfu.Load("").Meetings[0].Participants) == 1
	})
}

func TestUsedTokens(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	claims := func(nonce string) token.Claims {
		return token.Claims{Nonce: nonce, Expires: now.Add(time.Minute).Unix()}
	}
	u := newUsedTokens(2)
	tests := []struct {
		name  string
		nonce string
		at    time.Time
		want  bool
	}{
		{"first use", "a", now, true},
		{"replay", "a", now.Add(time.Second), false},
		{"another token", "b", now, true},
		{"cache full of live tokens: refused, not forgotten", "c", now, false},
		{"replay still refused within the skew after expiry", "a", now.Add(time.Minute + token.Skew), false},
		{"expired entries make room", "c", now.Add(2 * time.Minute), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := u.use(claims(tc.nonce), tc.at); got != tc.want {
				t.Fatalf("use(%s) = %v, want %v", tc.nonce, got, tc.want)
			}
		})
	}
}
