package manager

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newService(t *testing.T, seats int) (*Service, *clock) {
	t.Helper()
	c := newClock()
	l := DefaultLicence()
	if seats != 0 {
		l = Licence{Licensee: "test", Seats: seats, NotAfter: c.Now().Add(24 * time.Hour)}
	}
	log, _ := newLog()
	return New(Options{Licence: l, Secret: testSecret, Now: c.Now, Log: log}), c
}

// beat sends a heartbeat for router d with the given participants per meeting.
func beat(s *Service, d byte, participants int, meetings map[string][]string) {
	hb := api.RouterHeartbeat{RouterID: rid(d), URL: "https://127.0.0." + strconv.Itoa(int(d)) + ":8445", Participants: participants}
	for m, ps := range meetings {
		hb.Meetings = append(hb.Meetings, api.MeetingLoad{ID: m, Participants: ps})
	}
	s.RouterHeartbeat(hb, "127.0.0."+strconv.Itoa(int(d))+":40000")
}

func admit(t *testing.T, s *Service, meeting, participant string) api.AdmitResponse {
	t.Helper()
	resp, err := s.Admit(api.AdmitRequest{Meeting: meeting, Participant: participant, Name: "N " + participant, Kind: "user"})
	if err != nil {
		t.Fatalf("admit %s to %s: %v", participant, meeting, err)
	}
	return resp
}

func TestSeatsFull(t *testing.T) {
	s, _ := newService(t, 2)
	beat(s, 1, 0, nil)
	admit(t, s, "m1", "a")
	admit(t, s, "m1", "b")
	admit(t, s, "m1", "a") // a rejoin keeps its seat
	_, err := s.Admit(api.AdmitRequest{Meeting: "m2", Participant: "c", Kind: "guest"})
	if !errors.Is(err, ErrLicenceFull) || !strings.Contains(err.Error(), "All 2 licensed seats are in use") {
		t.Fatalf("third participant: err = %v, want licence full naming 2 seats", err)
	}
	if got := len(s.Presence()); got != 2 {
		t.Fatalf("a refused admission changed presence: %d seats held", got)
	}
	s.Leave(api.LeaveRequest{Meeting: "m1", Participant: "a"})
	s.Leave(api.LeaveRequest{Meeting: "m1", Participant: "a"}) // twice is fine
	admit(t, s, "m2", "c")
}

func TestDefaultSeatsWhenUnlicensed(t *testing.T) {
	s, _ := newService(t, 0)
	beat(s, 1, 0, nil)
	for i := range DefaultSeats {
		admit(t, s, "m", "p"+strconv.Itoa(i))
	}
	if _, err := s.Admit(api.AdmitRequest{Meeting: "m", Participant: "one-too-many", Kind: "user"}); !errors.Is(err, ErrLicenceFull) || !strings.Contains(err.Error(), "All 10 licensed seats") {
		t.Fatalf("11th participant: err = %v", err)
	}
}

func TestExpiredLicenceFallsBackToDefault(t *testing.T) {
	c := newClock()
	log, buf := newLog()
	s := New(Options{Licence: Licence{Licensee: "big", Seats: 100, NotAfter: c.Now().Add(time.Hour)}, Secret: testSecret, Now: c.Now, Log: log})
	if got := s.Licence().Seats; got != 100 {
		t.Fatalf("seats before expiry = %d", got)
	}
	c.Advance(time.Hour)
	if got := s.Licence().Seats; got != DefaultSeats {
		t.Fatalf("seats after expiry = %d, want %d", got, DefaultSeats)
	}
	if !strings.Contains(buf.String(), "licence expired") {
		t.Fatalf("expiry not logged: %q", buf.String())
	}
}

func TestPlacement(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Service, c *clock)
		want  map[string]byte // meeting → router digit
	}{
		{"least loaded by reported participants", func(t *testing.T, s *Service, c *clock) {
			beat(s, 1, 5, nil)
			beat(s, 2, 1, nil)
			beat(s, 3, 3, nil)
		}, map[string]byte{"m": 2}},
		{"ties go to the lowest ID", func(t *testing.T, s *Service, c *clock) {
			beat(s, 2, 0, nil)
			beat(s, 1, 0, nil)
		}, map[string]byte{"m": 1}},
		{"admissions since the last heartbeat count", func(t *testing.T, s *Service, c *clock) {
			beat(s, 1, 0, nil)
			beat(s, 2, 1, nil)
			admit(t, s, "x", "p1")
			admit(t, s, "y", "p2") // router 1 now holds 2 admitted seats
		}, map[string]byte{"m": 2}},
		{"dead routers are skipped", func(t *testing.T, s *Service, c *clock) {
			beat(s, 1, 0, nil)
			c.Advance(2 * time.Second)
			beat(s, 2, 9, nil)
			c.Advance(time.Second) // router 1 silent for 3 s
		}, map[string]byte{"m": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newService(t, 100)
			tc.setup(t, s, c)
			for m, d := range tc.want {
				if got := admit(t, s, m, "someone").RouterID; got != rid(d) {
					t.Fatalf("meeting %s placed on %s, want %s", m, got, rid(d))
				}
			}
		})
	}
}

func TestPlacementSticky(t *testing.T) {
	s, c := newService(t, 100)
	beat(s, 1, 0, nil)
	beat(s, 2, 0, nil)
	first := admit(t, s, "m", "a")
	if first.RouterID != rid(1) || first.RouterURL != "https://127.0.0.1:8445" {
		t.Fatalf("first admit = %+v", first)
	}
	// Router 1 becomes far busier, but the meeting stays where it is while router 1 lives.
	for range 5 {
		c.Advance(time.Second)
		beat(s, 1, 50, map[string][]string{"m": {"a"}})
		beat(s, 2, 0, nil)
		if got := admit(t, s, "m", "b").RouterID; got != rid(1) {
			t.Fatalf("meeting moved to %s while its router lives", got)
		}
	}
	if got := admit(t, s, "other", "c").RouterID; got != rid(2) {
		t.Fatalf("new meeting placed on %s, want the idle router 2", got)
	}
}

func TestDeadRouterReplaced(t *testing.T) {
	s, c := newService(t, 100)
	beat(s, 1, 0, nil)
	beat(s, 2, 3, nil)
	if got := admit(t, s, "m", "a").RouterID; got != rid(1) {
		t.Fatalf("placed on %s", got)
	}
	// Router 1 goes silent; router 2 keeps beating.
	for range 3 {
		c.Advance(time.Second)
		beat(s, 2, 3, nil)
	}
	got := admit(t, s, "m", "a")
	if got.RouterID != rid(2) || got.RouterURL != "https://127.0.0.2:8445" {
		t.Fatalf("after router 1 died the meeting is on %s, want router 2", got.RouterID)
	}
	if p := s.Presence(); len(p) != 1 || p[0].RouterID != rid(2) {
		t.Fatalf("presence after re-placement = %+v", p)
	}
	// Router 1 comes back: the meeting stays on router 2 (sticky to its live router).
	beat(s, 1, 0, map[string][]string{"m": {"a"}})
	if got := admit(t, s, "m", "b").RouterID; got != rid(2) {
		t.Fatalf("meeting moved back to %s", got)
	}
	// Every router dead: 503.
	c.Advance(3 * time.Second)
	if _, err := s.Admit(api.AdmitRequest{Meeting: "m", Participant: "c", Kind: "user"}); !errors.Is(err, ErrRouterUnavailable) {
		t.Fatalf("no router alive: err = %v", err)
	}
	// Nobody can be connected to a dead router: every seat went with it, and the refused
	// admission took none.
	if p := s.Presence(); len(p) != 0 {
		t.Fatalf("seats held with every router dead: %+v", p)
	}
}

// TestDeadRouterFreesSeats: when the router under a full meeting dies, its participants
// rejoin under new participant IDs (retrying while the router is not yet declared dead); the
// seats on the dead router go with it, so the rejoins fit the licence at once instead of after
// the 30 s lease.
func TestDeadRouterFreesSeats(t *testing.T) {
	s, c := newService(t, 3)
	beat(s, 1, 0, nil)
	beat(s, 2, 0, nil)
	for _, p := range []string{"a", "b", "c"} {
		if got := admit(t, s, "m", p).RouterID; got != rid(1) {
			t.Fatalf("%s placed on %s, want router 1", p, got)
		}
	}
	beat(s, 1, 3, map[string][]string{"m": {"a", "b", "c"}})
	// Router 1 dies. Within its timeout the rejoins find the licence full.
	c.Advance(time.Second)
	beat(s, 2, 0, nil)
	if _, err := s.Admit(api.AdmitRequest{Meeting: "m", Participant: "a2", Kind: "user"}); !errors.Is(err, ErrLicenceFull) {
		t.Fatalf("rejoin while router 1 still counts as alive: err = %v, want licence full", err)
	}
	c.Advance(2 * time.Second) // router 1 silent 3 s: dead
	beat(s, 2, 0, nil)
	for _, p := range []string{"a2", "b2", "c2"} {
		if got := admit(t, s, "m", p).RouterID; got != rid(2) {
			t.Fatalf("rejoin %s placed on %s, want the surviving router 2", p, got)
		}
	}
	p := s.Presence()
	if len(p) != 3 {
		t.Fatalf("presence after failover = %+v, want the 3 rejoined participants", p)
	}
	for _, e := range p {
		if e.RouterID != rid(2) || !strings.HasSuffix(e.Participant, "2") {
			t.Fatalf("presence after failover = %+v", p)
		}
	}
}

func TestLeaseExpiry(t *testing.T) {
	s, c := newService(t, 2)
	beat(s, 1, 0, nil)
	admit(t, s, "m", "reported")
	admit(t, s, "m", "vanished")
	// For 40 s the router reports only "reported".
	for range 40 {
		c.Advance(time.Second)
		beat(s, 1, 1, map[string][]string{"m": {"reported"}})
		if len(s.Presence()) == 1 {
			break
		}
	}
	p := s.Presence()
	if len(p) != 1 || p[0].Participant != "reported" || p[0].Name != "N reported" || p[0].Kind != "user" || p[0].Meeting != "m" {
		t.Fatalf("presence = %+v, want only the reported participant", p)
	}
	if elapsed := c.Now().Sub(p[0].Since); elapsed != DefaultLeaseTimeout {
		t.Fatalf("lease freed after %s, want %s", elapsed, DefaultLeaseTimeout)
	}
	admit(t, s, "m", "newcomer") // the freed seat is usable
	// A dead router reports nobody: its participants' seats go after 30 s.
	c.Advance(DefaultLeaseTimeout)
	if p := s.Presence(); len(p) != 0 {
		t.Fatalf("seats held with no router reporting: %+v", p)
	}
}

func TestICEServersAndTURNCredential(t *testing.T) {
	s, c := newService(t, 10)
	beat(s, 1, 0, nil)
	if got := admit(t, s, "m", "p0").ICEServers; len(got) != 0 {
		t.Fatalf("ICE servers without proxies: %+v", got)
	}
	urls := []string{"turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"}
	resp := s.ProxyHeartbeat(api.ProxyHeartbeat{ProxyID: rid(7), URLs: urls})
	if string(resp.Secret) != string(testSecret) {
		t.Fatalf("proxy got secret %q", resp.Secret)
	}
	if !slices.Equal(resp.RouterAddrs, []string{"127.0.0.1"}) {
		t.Fatalf("router addrs = %v", resp.RouterAddrs)
	}
	ice := admit(t, s, "m", "p1").ICEServers
	if len(ice) != 1 || !slices.Equal(ice[0].URLs, urls) {
		t.Fatalf("ICE servers = %+v", ice)
	}
	exp, user, ok := strings.Cut(ice[0].Username, ":")
	if !ok || user != "p1" || exp != strconv.FormatInt(c.Now().Add(10*time.Minute).Unix(), 10) {
		t.Fatalf("username %q, want <now+10m>:p1", ice[0].Username)
	}
	mac := hmac.New(sha1.New, testSecret)
	mac.Write([]byte(ice[0].Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); ice[0].Credential != want {
		t.Fatalf("credential %q, want %q", ice[0].Credential, want)
	}
	// A silent proxy is no longer offered.
	c.Advance(DefaultRouterTimeout)
	beat(s, 1, 0, nil)
	if got := admit(t, s, "m", "p2").ICEServers; len(got) != 0 {
		t.Fatalf("dead proxy still offered: %+v", got)
	}
}

func TestTURNCredentialVector(t *testing.T) {
	// Computed independently: printf '1700000000:alice' | openssl dgst -sha1 -hmac secret -binary | base64
	user, cred := TURNCredential([]byte("secret"), "alice", time.Unix(1700000000, 0))
	if user != "1700000000:alice" {
		t.Fatalf("username %q", user)
	}
	if cred != "d8soP47RbdIKLDUOpnJPVQyq5Ts=" {
		t.Fatalf("credential %q", cred)
	}
}

func TestRouterIPs(t *testing.T) {
	tests := []struct {
		url, src string
		want     []string
	}{
		{"https://127.0.0.1:8445", "127.0.0.1:5000", []string{"127.0.0.1"}},
		{"https://router.example:8445", "10.0.0.5:5000", []string{"10.0.0.5"}},
		{"https://[::1]:8445", "[::ffff:127.0.0.2]:5000", []string{"::1", "127.0.0.2"}},
		{"https://localhost", "garbage", nil},
		{"https://[fe80::1%25eth0]:8445", "[fe80::1%eth0]:5000", []string{"fe80::1"}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			if got := routerIPs(tc.url, tc.src); !slices.Equal(got, tc.want) {
				t.Fatalf("routerIPs = %v, want %v", got, tc.want)
			}
		})
	}
}
