package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
)

// markJoin sets MeetingJoinResponse.Secured on a room's join answers while the option is on.
func (o *securedOption) markJoin(join rooms.JoinFunc) rooms.JoinFunc {
	return func(ctx context.Context, meeting, name, kind, e2eeKey string) (api.MeetingJoinResponse, error) {
		resp, err := join(ctx, meeting, name, kind, e2eeKey)
		if err == nil && o.On() {
			resp.Secured = true
		}
		return resp, err
	}
}

// markJoinHTTP sets "secured": true in a successful meeting join answer (POST
// /api/v1/meetings/{id}/join) while the option is on. It rewrites only that key, so fields the
// meetings service adds pass through unchanged.
func (o *securedOption) markJoinHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !o.On() {
			next.ServeHTTP(w, r)
			return
		}
		rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		if rec.status == http.StatusOK {
			var m map[string]json.RawMessage
			if json.Unmarshal(body, &m) == nil {
				m["secured"] = json.RawMessage("true")
				if b, err := json.Marshal(m); err == nil {
					body = append(b, '\n')
				}
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

// bufferedResponse holds a handler's answer so it can be amended before it is sent.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = code, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
