package router

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// The Secured option's hooks in the router (issue 8): calls in progress when the option
// changes end with a "policy_changed" error so their clients rejoin under the new policy, and
// while it is on, signaling over a connection without TLS gets no WebSocket.

// PolicyInterval is how often the router compares the option with what it last saw.
const PolicyInterval = time.Second

// EndForPolicy ends every call in progress with a policy_changed signaling error and returns
// how many participants it ended.
func (s *SFU) EndForPolicy(secured bool) int {
	s.mu.Lock()
	var parts []*participant
	for _, r := range s.rooms {
		parts = append(parts, r.members()...)
	}
	s.mu.Unlock()
	msg := "the Secured option was turned off; rejoin"
	if secured {
		msg = "the Secured option was turned on; rejoin with end-to-end encryption (SFrame) and AES-128-GCM SRTP"
	}
	for _, p := range parts {
		p.send(api.SigTypeError, api.Error{Code: api.SignalErrorPolicyChanged, Message: msg})
		p.close(api.SignalErrorPolicyChanged, true)
	}
	return len(parts)
}

// watchPolicy ends the calls in progress whenever secured() changes, checking every interval
// until ctx ends. The value at start is the baseline: a router that starts holds no call.
func watchPolicy(ctx context.Context, s *SFU, secured func() bool, interval time.Duration, log *slog.Logger) {
	last := secured()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := secured()
		if now == last {
			continue
		}
		last = now
		n := s.EndForPolicy(now)
		log.Warn("Secured option changed: calls in progress ended to rejoin under the new policy", "secured", now, "participants", n)
	}
}

// refusePlainWhenSecured gives a request that arrived without TLS no answer at all while
// secured() holds: the connection is closed. (The router serves TLS in production; plain
// listeners exist only in tests and embedding.)
func refusePlainWhenSecured(secured func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil || secured == nil || !secured() {
			next.ServeHTTP(w, r)
			return
		}
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	})
}

// PolicyHandler is Handler guarded by refusePlainWhenSecured, for embedders that serve the
// signaling socket on a listener of their own.
func (s *SFU) PolicyHandler(secured func() bool) http.Handler {
	return refusePlainWhenSecured(secured, s.Handler())
}
