package call_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/router"
	"github.com/stoa-rooms/stoa/services/token"
)

// testRouter is the real router in process on loopback; join hands out signed tokens for it
// as the portal would.
type testRouter struct {
	url  string
	priv ed25519.PrivateKey
	n    atomic.Int64
}

func startRouter(t testing.TB) *testRouter {
	t.Helper()
	return startRouterWith(t, nil)
}

// startRouterWith is startRouter with the router's options adjusted by opt (nil: none).
func startRouterWith(t testing.TB, opt func(*router.Options)) *testRouter {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := router.Options{ID: "router-1", TokenKey: func() ed25519.PublicKey { return pub }}
	if opt != nil {
		opt(&o)
	}
	sfu := router.New(o)
	mux := http.NewServeMux()
	mux.Handle("GET /rtc", sfu.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testRouter{url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/rtc", priv: priv}
}

// join is what the portal's join API would answer for name of kind.
func (r *testRouter) join(t testing.TB, name, kind string) api.MeetingJoinResponse {
	t.Helper()
	return r.joinE2EE(t, name, kind, "")
}

// joinE2EE is the secured join answer for a participant declaring the e2ee public key pub (in
// its token, with the portal's token key to verify the others' keys); "" is a plain join.
func (r *testRouter) joinE2EE(t testing.TB, name, kind, pub string) api.MeetingJoinResponse {
	t.Helper()
	now := time.Now()
	id := fmt.Sprintf("p%d", r.n.Add(1))
	tok, err := token.Sign(token.Claims{
		Meeting: "1234567890", Participant: id, Name: name, Kind: kind,
		Perms: []string{token.PermPublish, token.PermSubscribe}, Router: "router-1",
		IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Nonce: id + "-nonce", E2EEKey: pub,
	}, r.priv)
	if err != nil {
		t.Fatal(err)
	}
	resp := api.MeetingJoinResponse{Token: tok, SignalURL: r.url, ParticipantID: id, RouterID: "router-1"}
	if pub != "" {
		resp.Secured, resp.TokenKey = true, r.priv.Public().(ed25519.PublicKey)
	}
	return resp
}
