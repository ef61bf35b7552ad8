package rooms

import (
	"net"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/pairing"
)

// pending is a room waiting to be paired, known from its Hello. Every field is guarded by
// Service.pmu.
type pending struct {
	id, locator string
	hello       pairing.Hello
	remoteIP    string
	firstSeen   time.Time
	failures    int
	burned      bool // too many failures: kept only so the room's wait learns it
	// stale: the room's CPace session was spent by a failed attempt; the next exchange waits
	// for the room's fresh Hello (new share).
	stale bool

	// An exchange in progress (the admin entered a code matching the locator).
	busy      bool
	challenge *pairing.Challenge
	delivered bool            // the room has fetched the challenge: the exchange is a guess
	confirms  chan confirmReq // buffered 1; nil when no exchange waits for a confirm
	changed   chan struct{}   // closed and replaced on every change, for the room's wait
}

// confirmReq carries the room's Confirm to the admin's exchange, and the answer back.
type confirmReq struct {
	msg   pairing.Confirm
	reply chan confirmReply // buffered 1
}

type confirmReply struct {
	status int
	body   any
}

func (p *pending) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (s *Service) expired(p *pending) bool {
	return s.o.Now().Sub(p.firstSeen) > pairing.CodeLifetime
}

// removeLocked forgets p entirely.
func (s *Service) removeLocked(p *pending) {
	delete(s.pending, p.id)
	s.unindexLocked(p)
	p.signal()
}

func (s *Service) unindexLocked(p *pending) {
	if m := s.byLoc[p.locator]; m != nil {
		delete(m, p.id)
		if len(m) == 0 {
			delete(s.byLoc, p.locator)
		}
	}
}

// pruneLocked drops pairings (and burned tombstones) well past their lifetime, so the table
// holds only what a room may still ask about.
func (s *Service) pruneLocked() {
	for _, p := range s.pending {
		if !p.busy && s.o.Now().Sub(p.firstSeen) > 2*pairing.CodeLifetime {
			s.removeLocked(p)
		}
	}
}

// failLocked counts a failed attempt on p and burns the code at the limit. It reports whether
// the code was burned now.
func (s *Service) failLocked(p *pending) bool {
	p.failures++
	p.stale = true
	if p.failures < pairing.MaxFailedAttempts {
		return false
	}
	p.burned = true
	s.unindexLocked(p) // no admin can reach it any more
	p.signal()
	return true
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// addHello records or refreshes a room's Hello.
func (s *Service) addHello(r *http.Request, h pairing.Hello) error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if p, ok := s.pending[h.PairingID]; ok {
		switch {
		case p.burned:
			return errorf(http.StatusGone, "pairing.burned", "this pairing code was burned after %d failed attempts; show a new code", pairing.MaxFailedAttempts)
		case p.busy && !p.stale:
			return errorf(http.StatusConflict, "pairing.busy", "a pairing with this room is in progress")
		case p.busy && h.Locator != p.locator:
			return errorf(http.StatusConflict, "pairing.busy", "a pairing with this room is in progress")
		}
		s.unindexLocked(p)
		p.hello, p.locator, p.stale = h, h.Locator, false
		s.indexLocked(p)
		p.signal()
		return nil
	}
	s.pruneLocked()
	ip := remoteIP(r)
	perIP := 0
	for _, p := range s.pending {
		if p.remoteIP == ip {
			perIP++
		}
	}
	if len(s.pending) >= s.o.MaxPending || perIP >= maxPendingPerIP {
		return errorf(http.StatusServiceUnavailable, "pairing.full", "too many rooms are waiting to be paired; try again later")
	}
	p := &pending{id: h.PairingID, locator: h.Locator, hello: h, remoteIP: ip, firstSeen: s.o.Now(), changed: make(chan struct{})}
	s.pending[p.id] = p
	s.indexLocked(p)
	return nil
}

func (s *Service) indexLocked(p *pending) {
	m := s.byLoc[p.locator]
	if m == nil {
		m = map[string]*pending{}
		s.byLoc[p.locator] = m
	}
	m[p.id] = p
}
