package manager

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// Defaults of Options.
const (
	DefaultRouterTimeout = 3 * time.Second  // a router (or proxy) silent this long is dead
	DefaultLeaseTimeout  = 30 * time.Second // an admitted participant no router reports frees its seat after this
	DefaultCredentialTTL = 10 * time.Minute // lifetime of the TURN credentials in an admit answer
)

// Errors of Admit; the HTTP layer maps them to api.Error codes.
var (
	ErrLicenceFull       = errors.New("licence.full")
	ErrRouterUnavailable = errors.New("router.unavailable")
)

// Options configure a Service.
type Options struct {
	Licence Licence
	// Secret is the TURN REST shared secret (LoadOrCreateSecret).
	Secret []byte
	Now    func() time.Time
	Log    *slog.Logger
	// Zero means the Default* constant.
	RouterTimeout, LeaseTimeout, CredentialTTL time.Duration
}

// Service is the manager's state: the licence and its seats, the routers and proxies that
// report in, and where each meeting is placed. All state is in memory: after a restart the
// routers and proxies re-register within a second and leases are rebuilt from what the routers
// report.
type Service struct {
	opts Options

	mu         sync.Mutex
	routers    map[string]*routerState
	proxies    map[string]*proxyState
	placements map[string]string // meeting → router ID; sticky while the router lives
	seats      map[seatKey]*seat
	expiredLog bool // the licence's expiry was logged
}

type routerState struct {
	id, url      string
	ips          []string // the router's addresses, for the proxies' relay allowlist
	participants int
	lastSeen     time.Time
}

type proxyState struct {
	urls     []string
	lastSeen time.Time
}

type seatKey struct{ meeting, participant string }

type seat struct {
	name, kind, router string
	since, lastSeen    time.Time
}

// New makes a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Licence.Seats == 0 {
		opts.Licence = DefaultLicence()
	}
	opts.RouterTimeout = cmp.Or(opts.RouterTimeout, DefaultRouterTimeout)
	opts.LeaseTimeout = cmp.Or(opts.LeaseTimeout, DefaultLeaseTimeout)
	opts.CredentialTTL = cmp.Or(opts.CredentialTTL, DefaultCredentialTTL)
	return &Service{
		opts:       opts,
		routers:    map[string]*routerState{},
		proxies:    map[string]*proxyState{},
		placements: map[string]string{},
		seats:      map[seatKey]*seat{},
	}
}

// Licence returns the licence in force now: the installed one until it expires, then the default.
func (s *Service) Licence() Licence {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.licenceLocked(s.opts.Now())
}

func (s *Service) licenceLocked(now time.Time) Licence {
	l := s.opts.Licence
	if !l.NotAfter.IsZero() && !now.Before(l.NotAfter) {
		if !s.expiredLog {
			s.expiredLog = true
			s.opts.Log.Error("licence expired; the default applies", "licensee", l.Licensee, "not_after", l.NotAfter, "seats", DefaultSeats)
		}
		return DefaultLicence()
	}
	return l
}

// RouterHeartbeat records a router's report. The participants it lists keep their seats.
// src is the address the heartbeat came from (the router's IP as the proxies will see it).
func (s *Service) RouterHeartbeat(hb api.RouterHeartbeat, src string) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routers[hb.RouterID]
	if r == nil {
		r = &routerState{id: hb.RouterID}
		s.routers[hb.RouterID] = r
		s.opts.Log.Info("router registered", "router", hb.RouterID, "url", hb.URL)
	} else if !s.aliveLocked(r, now) {
		s.opts.Log.Info("router is back", "router", hb.RouterID, "url", hb.URL)
	}
	r.url, r.participants, r.lastSeen = hb.URL, hb.Participants, now
	r.ips = routerIPs(hb.URL, src)
	for _, m := range hb.Meetings {
		if _, placed := s.placements[m.ID]; !placed {
			s.placements[m.ID] = r.id // the router already hosts it: keep it there
		}
		for _, p := range m.Participants {
			if st := s.seats[seatKey{m.ID, p}]; st != nil {
				st.lastSeen, st.router = now, r.id
			}
		}
	}
}

// routerIPs are the IP literals among the router's URL host and the heartbeat's source
// address. No name is resolved: the manager never makes DNS queries for what others claim.
func routerIPs(rawURL, src string) []string {
	var ips []string
	add := func(h string) {
		if a, err := netip.ParseAddr(h); err == nil {
			// Zones mean nothing to another host; proxies refuse them.
			if s := a.Unmap().WithZone("").String(); !slices.Contains(ips, s) {
				ips = append(ips, s)
			}
		}
	}
	if u, err := url.Parse(rawURL); err == nil {
		add(u.Hostname())
	}
	if h, _, err := net.SplitHostPort(src); err == nil {
		add(h)
	}
	return ips
}

// ProxyHeartbeat records a proxy's report and returns what it needs: the TURN secret and the
// live routers' addresses for its relay allowlist.
func (s *Service) ProxyHeartbeat(hb api.ProxyHeartbeat) api.ProxyHeartbeatResponse {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.proxies[hb.ProxyID]; !ok {
		s.opts.Log.Info("proxy registered", "proxy", hb.ProxyID, "urls", hb.URLs)
	}
	s.proxies[hb.ProxyID] = &proxyState{urls: slices.Clone(hb.URLs), lastSeen: now}
	resp := api.ProxyHeartbeatResponse{Secret: slices.Clone(s.opts.Secret)}
	for _, r := range s.liveRoutersLocked(now) {
		for _, ip := range r.ips {
			if !slices.Contains(resp.RouterAddrs, ip) {
				resp.RouterAddrs = append(resp.RouterAddrs, ip)
			}
		}
	}
	return resp
}

func (s *Service) aliveLocked(r *routerState, now time.Time) bool {
	return now.Sub(r.lastSeen) < s.opts.RouterTimeout
}

// liveRoutersLocked returns the live routers sorted by ID.
func (s *Service) liveRoutersLocked(now time.Time) []*routerState {
	var live []*routerState
	for _, r := range s.routers {
		if s.aliveLocked(r, now) {
			live = append(live, r)
		}
	}
	slices.SortFunc(live, func(a, b *routerState) int { return cmp.Compare(a.id, b.id) })
	return live
}

// expireLocked frees the seats of participants no router reported within the lease timeout
// and of participants whose router is dead, and forgets the placement of meetings nobody holds
// a seat in (a router still hosting one places it again with its next heartbeat).
//
// A dead router's seats go at once, not after the lease: its participants cannot be connected
// to it, and every one of them rejoins (under a new participant ID) as soon as signaling drops,
// so holding their old seats for the lease would count each person twice and, with
// retries during the seconds before the router is declared dead, fill the licence and lock the
// meeting out of its own failover.
func (s *Service) expireLocked(now time.Time) {
	occupied := map[string]bool{}
	for k, st := range s.seats {
		if now.Sub(st.lastSeen) >= s.opts.LeaseTimeout {
			delete(s.seats, k)
			s.opts.Log.Info("seat lease expired", "meeting", k.meeting, "participant", k.participant, "router", st.router)
			continue
		}
		if r := s.routers[st.router]; r != nil && !s.aliveLocked(r, now) {
			delete(s.seats, k)
			s.opts.Log.Info("seat freed: its router is dead", "meeting", k.meeting, "participant", k.participant, "router", st.router)
			continue
		}
		occupied[k.meeting] = true
	}
	for m := range s.placements {
		if !occupied[m] {
			delete(s.placements, m)
		}
	}
}

// Admit gives the participant a seat and the router hosting the meeting, placing the meeting
// on the least-loaded live router when it has none or its router died. A participant already
// admitted to the meeting keeps its seat (a rejoin costs nothing).
func (s *Service) Admit(req api.AdmitRequest) (api.AdmitResponse, error) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	key := seatKey{req.Meeting, req.Participant}
	st := s.seats[key]
	if st == nil {
		if l := s.licenceLocked(now); len(s.seats) >= l.Seats {
			return api.AdmitResponse{}, fmt.Errorf("%w: %s; wait for someone to leave or ask your administrator for a licence with more seats", ErrLicenceFull, seatsInUse(l.Seats))
		}
	}
	r := s.placeLocked(req.Meeting, now)
	if r == nil {
		return api.AdmitResponse{}, fmt.Errorf("%w: no router is available to host the meeting; try again in a moment", ErrRouterUnavailable)
	}
	if st == nil {
		st = &seat{since: now}
		s.seats[key] = st
	}
	// Until the router reports the participant, the admission itself holds the lease.
	st.name, st.kind, st.router, st.lastSeen = req.Name, req.Kind, r.id, now
	return api.AdmitResponse{RouterID: r.id, RouterURL: r.url, ICEServers: s.iceServersLocked(req.Participant, now)}, nil
}

// seatsInUse says that every one of n seats is taken.
func seatsInUse(n int) string {
	if n == 1 {
		return "The 1 licensed seat is in use"
	}
	return fmt.Sprintf("All %d licensed seats are in use", n)
}

// placeLocked returns the router for meeting: its current one while alive, else the live
// router with the fewest participants (ties: lowest ID), which then hosts it.
func (s *Service) placeLocked(meeting string, now time.Time) *routerState {
	if id, ok := s.placements[meeting]; ok {
		if r := s.routers[id]; r != nil && s.aliveLocked(r, now) {
			return r
		}
	}
	live := s.liveRoutersLocked(now)
	if len(live) == 0 {
		return nil
	}
	// Load is what the router reported, or the seats admitted to it if more: participants
	// admitted since its last heartbeat count before they connect.
	admitted := map[string]int{}
	for _, st := range s.seats {
		admitted[st.router]++
	}
	best := slices.MinFunc(live, func(a, b *routerState) int {
		return cmp.Or(cmp.Compare(max(a.participants, admitted[a.id]), max(b.participants, admitted[b.id])), cmp.Compare(a.id, b.id))
	})
	if old, ok := s.placements[meeting]; ok {
		s.opts.Log.Warn("meeting re-placed: its router is dead", "meeting", meeting, "from", old, "to", best.id)
	}
	s.placements[meeting] = best.id
	return best
}

// iceServersLocked lists the live proxies' TURN URLs with a credential for participant.
func (s *Service) iceServersLocked(participant string, now time.Time) []api.ICEServer {
	ids := make([]string, 0, len(s.proxies))
	for id, p := range s.proxies {
		if now.Sub(p.lastSeen) < s.opts.RouterTimeout {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	servers := []api.ICEServer{}
	for _, id := range ids {
		user, cred := TURNCredential(s.opts.Secret, participant, now.Add(s.opts.CredentialTTL))
		servers = append(servers, api.ICEServer{URLs: slices.Clone(s.proxies[id].urls), Username: user, Credential: cred})
	}
	return servers
}

// Leave frees the participant's seat; leaving twice is not an error.
func (s *Service) Leave(req api.LeaveRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seats, seatKey{req.Meeting, req.Participant})
}

// Presence lists who holds a seat, oldest first.
func (s *Service) Presence() []api.Presence {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	out := make([]api.Presence, 0, len(s.seats))
	for k, st := range s.seats {
		out = append(out, api.Presence{Participant: k.participant, Name: st.name, Kind: st.kind, Meeting: k.meeting, RouterID: st.router, Since: st.since})
	}
	slices.SortFunc(out, func(a, b api.Presence) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Meeting, b.Meeting), cmp.Compare(a.Participant, b.Participant))
	})
	return out
}
