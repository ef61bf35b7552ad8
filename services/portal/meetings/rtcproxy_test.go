package meetings

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stoa-rooms/stoa/services/component"
)

// echoRouter is a stand-in for the router's /rtc: it accepts only the portal's internal
// certificate, greets, then echoes every message; it records the headers it was sent.
type echoRouter struct {
	mu      sync.Mutex
	headers []http.Header
}

func (er *echoRouter) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /rtc", component.RequirePortalClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		er.mu.Lock()
		er.headers = append(er.headers, r.Header.Clone())
		er.mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := r.Context()
		if err := c.Write(ctx, websocket.MessageText, []byte("hello from router")); err != nil {
			return
		}
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, append([]byte("echo:"), b...)); err != nil {
				return
			}
		}
	})))
	return mux
}

func TestRTCProxy(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice")
	er := &echoRouter{}
	routerID := strings.Repeat("ab", 16)
	e.setRouter(routerID, e.serveComponent(t, er.handler()))
	signal, err := SignalURL(e.svc.PublicURL, routerID)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(t *testing.T, url string, h http.Header) (*websocket.Conn, *http.Response, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: alice.hc, HTTPHeader: h})
	}

	t.Run("messages flow both ways", func(t *testing.T) {
		c, _, err := dial(t, signal, http.Header{"Origin": {e.svc.PublicURL}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, b, err := c.Read(ctx); err != nil || string(b) != "hello from router" {
			t.Fatalf("first message %q, %v", b, err)
		}
		for _, msg := range []string{`{"type":"join","data":{"token":"x"}}`, strings.Repeat("a", 60<<10)} {
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if _, b, err := c.Read(ctx); err != nil || string(b) != "echo:"+msg {
				t.Fatalf("echo of %.40q: %.40q, %v", msg, b, err)
			}
		}
		c.Close(websocket.StatusNormalClosure, "bye")
		er.mu.Lock()
		defer er.mu.Unlock()
		h := er.headers[len(er.headers)-1]
		if h.Get("Cookie") != "" || h.Get("Origin") != "" || h.Get("X-Forwarded-For") == "" {
			t.Fatalf("router saw Cookie %q Origin %q X-Forwarded-For %q", h.Get("Cookie"), h.Get("Origin"), h.Get("X-Forwarded-For"))
		}
	})

	t.Run("clients without Origin pass", func(t *testing.T) {
		c, _, err := dial(t, signal, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, b, err := c.Read(ctx); err != nil || string(b) != "hello from router" {
			t.Fatalf("first message %q, %v", b, err)
		}
	})

	for _, tc := range []struct {
		name   string
		url    string
		origin string
		status int
	}{
		{"foreign origin", signal, "https://evil.example", http.StatusForbidden},
		{"same host, plain http", signal, strings.Replace(e.svc.PublicURL, "https://", "http://", 1), http.StatusForbidden},
		{"null origin", signal, "null", http.StatusForbidden},
		{"unknown router", strings.Replace(signal, strings.Repeat("ab", 16), strings.Repeat("cd", 16), 1), e.svc.PublicURL, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(er.headersSnapshot())
			c, res, err := dial(t, tc.url, http.Header{"Origin": {tc.origin}})
			if err == nil {
				c.CloseNow()
				t.Fatal("dial succeeded")
			}
			if res == nil || res.StatusCode != tc.status {
				t.Fatalf("response %v, err %v; want HTTP %d", res, err, tc.status)
			}
			if len(er.headersSnapshot()) != before {
				t.Fatal("the refused request reached the router")
			}
		})
	}

	t.Run("plain GET is not proxied", func(t *testing.T) {
		status, _ := alice.raw("GET", strings.Replace(signal, "wss://"+strings.TrimPrefix(e.svc.PublicURL, "https://"), "", 1), nil)
		if status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", status)
		}
	})

	t.Run("router refuses other certificates", func(t *testing.T) {
		// Straight to the router with a client that has no portal certificate: refused, so
		// only the portal's proxy (or a component) reaches /rtc this way.
		e.mu.Lock()
		url := strings.Replace(e.routers[routerID], "https://", "wss://", 1) + "/rtc"
		e.mu.Unlock()
		tc := e.svc.ClientTLS.Clone()
		tc.Certificates = nil
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
		if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("direct dial without the portal certificate: %v %v", res, err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("timed out")
		}
	})
}

func (er *echoRouter) headersSnapshot() []http.Header {
	er.mu.Lock()
	defer er.mu.Unlock()
	return append([]http.Header(nil), er.headers...)
}
