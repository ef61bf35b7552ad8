package router

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stoa-rooms/stoa/services/api"
)

// A call in progress when the Secured option changes ends with a policy_changed error, in
// either direction, and the socket closes.
func TestPolicyChangeEndsCalls(t *testing.T) {
	tests := []struct {
		name string
		from bool
	}{
		{"turned on", false},
		{"turned off", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			var secured atomic.Bool
			secured.Store(tc.from)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				watchPolicy(ctx, e.sfu, secured.Load, 10*time.Millisecond, slog.New(slog.DiscardHandler))
			}()
			t.Cleanup(func() { cancel(); <-done })

			c := connectWS(t, e, e.token(t, "m1", "p1", testRouterID))
			if m := c.next(t); m.Type != api.SigTypeJoined {
				t.Fatalf("first message %s, want joined", m.Type)
			}
			secured.Store(!tc.from)
			for {
				m := c.next(t)
				if m.Type != api.SigTypeError {
					continue
				}
				var ae api.Error
				if err := json.Unmarshal(m.Data, &ae); err != nil {
					t.Fatal(err)
				}
				if ae.Code != api.SignalErrorPolicyChanged || !strings.Contains(ae.Message, "rejoin") {
					t.Fatalf("error %+v, want policy_changed asking to rejoin", ae)
				}
				break
			}
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer rcancel()
			if _, _, err := c.ws.Read(rctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("socket after policy_changed: %v, want a normal closure", err)
			}
			waitFor(t, 5*time.Second, "no participant left", func() bool { return len(e.sfu.Stats().Participants) == 0 })
		})
	}
}

// While the option is on, signaling without TLS gets no WebSocket (not even an HTTP answer).
func TestPlainSignalingRefusedWhenSecured(t *testing.T) {
	tests := []struct {
		name    string
		secured bool
	}{
		{"off: plain ws accepted (tests only)", false},
		{"on: plain ws refused", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			srv := httptest.NewServer(e.sfu.PolicyHandler(func() bool { return tc.secured }))
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/rtc", nil)
			if tc.secured {
				if err == nil {
					ws.CloseNow()
					t.Fatal("a plain ws:// signaling socket opened while the Secured option is on")
				}
				if resp != nil {
					t.Fatalf("plain ws:// got an HTTP answer %d, want none", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("plain ws:// while off: %v", err)
			}
			ws.CloseNow()
		})
	}
}
