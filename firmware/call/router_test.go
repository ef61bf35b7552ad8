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
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sfu := router.New(router.Options{ID: "router-1", TokenKey: func() ed25519.PublicKey { return pub }})
	mux := http.NewServeMux()
	mux.Handle("GET /rtc", sfu.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testRouter{url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/rtc", priv: priv}
}

// join is what the portal's join API would answer for name of kind.
func (r *testRouter) join(t testing.TB, name, kind string) api.MeetingJoinResponse {
	t.Helper()
	now := time.Now()
	id := fmt.Sprintf("p%d", r.n.Add(1))
	tok, err := token.Sign(token.Claims{
		Meeting: "1234567890", Participant: id, Name: name, Kind: kind,
		Perms: []string{token.PermPublish, token.PermSubscribe}, Router: "router-1",
		IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Nonce: id + "-nonce",
	}, r.priv)
	if err != nil {
		t.Fatal(err)
	}
	return api.MeetingJoinResponse{Token: tok, SignalURL: r.url, ParticipantID: id, RouterID: "router-1"}
}
