package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// mitmRelay sits between roomd and the portal with a TLS certificate of its own (the room does
// not verify TLS while pairing: it has no trust yet). It does not know the room's code: it swaps
// the room's PAKE share for one of its own, made with a guessed code, and forwards everything
// else.
type mitmRelay struct {
	portal      string
	client      *http.Client
	substituted atomic.Int64
	openedGrant atomic.Int64

	mu       sync.Mutex // ServeHTTP runs once per request, concurrently
	sessions map[string]*pairing.RoomSession
}

func (m *mitmRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	swapped := false
	if r.URL.Path == "/api/v1/pairing/hello" {
		if h, err := pairing.DecodeHello(body); err == nil {
			guess, _ := pairing.NewCode(rand.Reader)
			rs, share, err := pairing.NewRoomSession(guess, h.PairingID, rand.Reader)
			if err == nil {
				m.mu.Lock()
				m.sessions[h.PairingID] = rs
				m.mu.Unlock()
				h.Share = share
				body, _ = json.Marshal(h)
				swapped = true
			}
		}
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, m.portal+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := m.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	// Counted once the portal has taken the swapped hello, so the test's pair request that
	// follows always finds a room waiting.
	if swapped && resp.StatusCode/100 == 2 {
		m.substituted.Add(1)
	}
	// With its own share the relay tries to answer the portal's challenge itself.
	if strings.HasSuffix(r.URL.Path, "/wait") && resp.StatusCode == http.StatusOK {
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/pairing/"), "/wait")
		m.mu.Lock()
		rs := m.sessions[id]
		m.mu.Unlock()
		if ch, err := pairing.DecodeChallenge(out); err == nil && rs != nil {
			if _, err := rs.Respond(ch); err == nil {
				m.openedGrant.Add(1) // it guessed the code: the test fails below
			}
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

// TestPairingThroughManInTheMiddle: a relay that does not know the code cannot pair the room
// with the portal, nor learn anything that lets it pretend to be either; neither side stores
// anything new.
func TestPairingThroughManInTheMiddle(t *testing.T) {
	stack := stoatest.Start(t, stoatest.Options{})
	sess := stack.Login(t)
	relay := &mitmRelay{portal: stack.PortalURL, client: stoatest.InsecureClient(), sessions: map[string]*pairing.RoomSession{}}
	srv := httptest.NewUnstartedServer(relay)
	srv.Config.Handler = relay
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	roomdBin, roomctlBin := buildRoom(t)
	room := startRoomd(t, roomdBin, roomctlBin, srv.URL)
	st := room.waitStatus(t, "a pairing code", 20*time.Second, func(s roomd.Status) bool { return s.Code != "" })
	deadline := time.Now().Add(20 * time.Second)
	for relay.substituted.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the room's hello never passed the relay")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The admin types the right code; the relay's swapped share makes the exchange fail.
	code, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: st.Code, Name: "Hijacked"}, "", nil)
	if err != nil || code != http.StatusUnprocessableEntity {
		t.Fatalf("pairing through the relay: %d %s %v, want 422 wrong code", code, body, err)
	}
	if relay.openedGrant.Load() != 0 {
		t.Fatal("the relay answered the portal's challenge without the code")
	}
	if rooms := listRooms(t, sess); len(rooms) != 0 {
		t.Fatalf("the portal stored a room: %+v", rooms)
	}
	s, err := room.status(t)
	if err != nil || s.State == roomd.StatePaired {
		t.Fatalf("room status %+v %v: it must still be unpaired", s, err)
	}
	for _, f := range []string{"room.json", "key.pem", "cert.pem", "bundle.json"} {
		if _, err := os.Stat(filepath.Join(room.dir, f)); err == nil {
			t.Errorf("the room stored %s after a failed pairing", f)
		}
	}
	var audit []api.AuditEntry
	if code, _, err := sess.Do(http.MethodGet, "/api/v1/audit?limit=100", nil, "", &audit); err != nil || code != 200 {
		t.Fatalf("audit: %d %v", code, err)
	}
	found := false
	for _, a := range audit {
		found = found || a.Action == "room.pair_failed"
	}
	if !found {
		t.Error("the failed pairing is not in the audit log")
	}
}
