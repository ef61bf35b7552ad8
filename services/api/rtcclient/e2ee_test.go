package rtcclient_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

const e2eeMeeting = "4440002222"

// portalToken signs claims as the portal does (services/token's wire form).
func portalToken(t *testing.T, key ed25519.PrivateKey, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(key, append([]byte("stoa-token-v1\n"), b...))
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

type party struct {
	id   string
	priv *ecdh.PrivateKey
	s    *e2ee.Session
	tok  string
}

// newParty makes a participant whose token signer signed; it verifies others under portal.
func newParty(t *testing.T, portal ed25519.PublicKey, signer ed25519.PrivateKey, id string) *party {
	t.Helper()
	priv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := e2ee.NewSession(e2ee.Config{Meeting: e2eeMeeting, Self: id, Private: priv, PortalKey: portal})
	if err != nil {
		t.Fatal(err)
	}
	return &party{id: id, priv: priv, s: s, tok: portalToken(t, signer, map[string]any{"mtg": e2eeMeeting, "sub": id, "e2ee": s.PublicKey()})}
}

// scriptedRouter is a hostile router: it answers the join with the messages the test gives,
// then relays nothing, recording what the client sends.
type scriptedRouter struct {
	script []func() (string, any)
	got    chan api.SigMessage
}

func (r *scriptedRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	conn, err := websocket.Accept(w, req, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := req.Context()
	if _, _, err := conn.Read(ctx); err != nil { // the join
		return
	}
	for _, step := range r.script {
		typ, data := step()
		b, _ := api.NewSig(typ, data)
		if conn.Write(ctx, websocket.MessageText, b) != nil {
			return
		}
	}
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if m, err := api.DecodeSig(b); err == nil {
			select {
			case r.got <- m:
			default:
			}
		}
	}
}

// TestE2EEKeySubstitutionRefused: every way a router could get its own key used ends the
// client's session with an error naming the refusal.
func TestE2EEKeySubstitutionRefused(t *testing.T) {
	portalPub, portal, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, routerKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	bob := newParty(t, portalPub, portal, "bob")
	fake := newParty(t, portalPub, routerKey, "bob") // the router's own key pair, under bob's name
	joined := func(ps ...api.SigParticipant) func() (string, any) {
		return func() (string, any) {
			return api.SigTypeJoined, api.SigJoined{ParticipantID: "alice", Participants: ps}
		}
	}
	forgedKey := func() (string, any) {
		alice := newParty(t, portalPub, portal, "alice") // only its public key matters to the forger
		out, err := fake.s.AddPeer("alice", alice.tok, false)
		if err != nil {
			t.Error(err)
		}
		return api.SigTypeE2EEKey, api.SigE2EEKey{From: "bob", Key: out.Key}
	}
	for _, c := range []struct {
		name    string
		script  []func() (string, any)
		atDial  bool
		wantErr error
	}{
		{"joined lists a key the router signed", []func() (string, any){joined(api.SigParticipant{ID: "bob", Token: fake.tok})}, true, e2ee.ErrUntrustedKey},
		{"joined lists another participant's token", []func() (string, any){joined(api.SigParticipant{ID: "carol", Token: bob.tok})}, true, e2ee.ErrUntrustedKey},
		{"newcomer with a key the router signed", []func() (string, any){joined(), func() (string, any) {
			return api.SigTypeParticipantJoined, api.SigParticipant{ID: "bob", Token: fake.tok}
		}}, false, e2ee.ErrUntrustedKey},
		{"key message the router sealed", []func() (string, any){joined(api.SigParticipant{ID: "bob", Token: bob.tok}), forgedKey}, false, e2ee.ErrKeyMessage},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			r := &scriptedRouter{script: c.script, got: make(chan api.SigMessage, 16)}
			srv := httptest.NewServer(r)
			defer srv.Close()
			alice := newParty(t, portalPub, portal, "alice")
			cl, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: "ws" + strings.TrimPrefix(srv.URL, "http"), Token: alice.tok, E2EE: alice.s})
			if c.atDial {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Dial = %v, want %v", err, c.wantErr)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			select {
			case <-cl.Done():
			case <-ctx.Done():
				t.Fatal("session still running after a substituted key")
			}
			if !errors.Is(cl.Err(), c.wantErr) {
				t.Fatalf("session ended with %v, want %v", cl.Err(), c.wantErr)
			}
			t.Logf("refused: %v", cl.Err())
		})
	}
	t.Run("genuine participant gets our key, sealed to it", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		r := &scriptedRouter{script: []func() (string, any){joined(api.SigParticipant{ID: "bob", Token: bob.tok})}, got: make(chan api.SigMessage, 16)}
		srv := httptest.NewServer(r)
		defer srv.Close()
		alice := newParty(t, portalPub, portal, "alice")
		cl, err := rtcclient.Dial(ctx, rtcclient.Options{SignalURL: "ws" + strings.TrimPrefix(srv.URL, "http"), Token: alice.tok, E2EE: alice.s})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var m api.SigMessage
		select {
		case m = <-r.got:
		case <-ctx.Done():
			t.Fatal("no key message sent")
		}
		k, err := api.DecodeSigE2EEKey(m)
		if err != nil || m.Type != api.SigTypeE2EEKey || k.To != "bob" {
			t.Fatalf("client sent %s %+v, %v", m.Type, k, err)
		}
		if _, err := bob.s.AddPeer("alice", alice.tok, false); err != nil {
			t.Fatal(err)
		}
		if err := bob.s.HandleKey("alice", k.Key); err != nil {
			t.Fatalf("bob opening alice's key: %v", err)
		}
		forger := newParty(t, portalPub, routerKey, "bob")
		if _, err := forger.s.AddPeer("alice", alice.tok, false); err != nil {
			t.Fatal(err)
		}
		if err := forger.s.HandleKey("alice", k.Key); !errors.Is(err, e2ee.ErrKeyMessage) {
			t.Fatal("a key message for bob opened under another key")
		}
	})
}
