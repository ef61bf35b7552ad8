package meetings

import (
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// RTCPathPrefix is where the portal serves routers' signaling: RTCPathPrefix + <router ID>.
const RTCPathPrefix = "/api/v1/rtc/"

// HandleRTC is GET /api/v1/rtc/{router}: a WebSocket reverse proxy to that router's /rtc over
// mutual TLS (the portal's internal certificate). It needs no session: the join token inside
// the WebSocket authenticates. Browsers must come from the portal's own origin (cross-site
// WebSocket hijacking protection); clients without an Origin header (not browsers) pass.
func (s *Service) HandleRTC(w http.ResponseWriter, r *http.Request) {
	s.init()
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, s.PublicURL) {
		s.log().Warn("signaling from a foreign origin refused", "origin", o, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusForbidden, api.Error{Code: "origin", Message: "cross-origin WebSocket refused"})
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeJSON(w, http.StatusBadRequest, api.Error{Code: "request.invalid", Message: "a WebSocket upgrade is required"})
		return
	}
	id := r.PathValue("router")
	if s.RouterURL == nil {
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Code: "router.unavailable", Message: "no router is configured"})
		return
	}
	base, err := s.RouterURL(r.Context(), id)
	if err != nil {
		s.log().Warn("signaling for an unavailable router", "router", id, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Code: "router.unavailable", Message: "that router is not available; join the meeting again"})
		return
	}
	target, err := url.Parse(base)
	if err != nil {
		s.writeErr(w, r, errors.New("router URL: "+err.Error()))
		return
	}
	// The portal's server deadlines would cut the hijacked connection after a minute; a
	// call lasts longer. The router's signaling keeps its own liveness checks.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	proxy := &httputil.ReverseProxy{
		Transport: s.wsTransport(),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = "/rtc", ""
			pr.Out.URL.RawQuery = ""
			pr.SetXForwarded()
			// The router is not the portal: the session cookie and any credentials stay
			// here, and the Origin was checked above (the router would compare it with
			// its own host).
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del(headerCSRF)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log().Warn("signaling proxy failed", "router", id, "err", err)
			writeJSON(w, http.StatusBadGateway, api.Error{Code: "router.unavailable", Message: "the router did not answer; join the meeting again"})
		},
		ErrorLog: nil,
	}
	proxy.ServeHTTP(w, r)
}

const headerCSRF = "X-CSRF-Token"

// wsTransport talks HTTP/1.1 (WebSocket upgrades need it) with the portal's internal
// certificate to routers.
func (s *Service) wsTransport() *http.Transport {
	tc := s.ClientTLS.Clone()
	tc.NextProtos = []string{"http/1.1"}
	return &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second}
}

// sameOrigin compares an Origin header with the portal's public URL (scheme and host, RFC 6454).
func sameOrigin(origin, public string) bool {
	o, err := url.Parse(origin)
	if err != nil {
		return false
	}
	p, err := url.Parse(public)
	if err != nil {
		return false
	}
	return p.Scheme != "" && strings.EqualFold(o.Scheme, p.Scheme) && o.Path == "" &&
		strings.EqualFold(hostPort(o), hostPort(p))
}

// hostPort is u's host with the scheme's default port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}
