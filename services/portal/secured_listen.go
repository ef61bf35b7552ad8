package portal

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
)

// acmeChallengePrefix is where ACME http-01 tokens are served (RFC 8555 section 8.3): the one
// plain-HTTP path that still answers while the Secured option is on and ACME is in use.
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// plainHTTP guards the plain-HTTP redirect listener: while the Secured option is on, a request
// gets no answer at all (the connection is closed without a response), except an ACME http-01
// challenge while ACME is enabled with a challenge type that may be http-01.
func (o *securedOption) plainHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !o.On() || (strings.HasPrefix(r.URL.Path, acmeChallengePrefix) && o.s.acmeHTTP01()) {
			next.ServeHTTP(w, r)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok { // not reached on HTTP/1.1; never answer anyway
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
	})
}

// acmeHTTP01 reports whether ACME is enabled: the portal's ACME client picks tls-alpn-01 when
// the CA offers it and falls back to http-01, so an enabled client may need the HTTP port.
func (s *Server) acmeHTTP01() bool { return s.acme.current() != nil }

// restrictTLS makes c (a server configuration for component and room links) TLS 1.3 only while
// the Secured option is on: every component and room is ours (Go's TLS 1.3). It is decided per
// handshake, so turning the option on needs no restart.
func (o *securedOption) restrictTLS(c *tls.Config) *tls.Config {
	base := c.Clone()
	strict := c.Clone()
	strict.MinVersion = tls.VersionTLS13
	prev := c.GetConfigForClient
	c.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if prev != nil {
			if pc, err := prev(h); pc != nil || err != nil {
				return pc, err
			}
		}
		if o.On() {
			return strict, nil
		}
		return base, nil
	}
	return c
}

// maxPollPeek bounds how much of a room poll the capability recorder reads; the rooms service
// applies its own, smaller limit to the same bytes.
const maxPollPeek = 1 << 20

// roomCapabilities records, from each room's management poll, the firmware and capabilities
// it declares (api.RoomStatus.Capabilities), then hands the untouched request to next. Only a
// client certificate that chains to the device CA names a room here; the rooms service still
// authenticates and validates the poll itself.
func (o *securedOption) roomCapabilities(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/room/poll" || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		chain := r.TLS.VerifiedChains[0]
		id, ok := rooms.RoomIDFromCert(chain[0])
		if !ok || !bytes.Equal(chain[len(chain)-1].Raw, o.s.rooms.DeviceCA().Root().Raw) {
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, maxPollPeek))
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
		if fw, caps, ok := decodeRoomCaps(b); ok {
			o.recordRoom(id, fw, caps)
		}
		next.ServeHTTP(w, r)
	})
}

// decodeRoomCaps takes firmware and capabilities from a poll body; a malformed or oversized
// list records nothing (the rooms service refuses what it cannot accept).
func decodeRoomCaps(b []byte) (firmware string, caps []string, ok bool) {
	var st struct {
		Firmware     string   `json:"firmware"`
		Capabilities []string `json:"capabilities"`
	}
	if json.Unmarshal(b, &st) != nil || len(st.Capabilities) > api.MaxRoomCapabilities || len(st.Firmware) > 64 {
		return "", nil, false
	}
	for _, c := range st.Capabilities {
		if c == "" || len(c) > api.MaxCapabilityLen {
			return "", nil, false
		}
	}
	return st.Firmware, st.Capabilities, true
}
