package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-rooms/stoa/services/certs"
)

// Defaults of TURNConfig.
const (
	DefaultRealm                 = "stoa"
	DefaultMaxAllocationsPerUser = 10
)

// TURNConfig configures the TURN listeners (RFC 8656, https://datatracker.ietf.org/doc/html/rfc8656).
type TURNConfig struct {
	// UDPAddr, TCPAddr and TLSAddr are listen addresses; "" turns that transport off.
	UDPAddr, TCPAddr, TLSAddr string
	// RelayIP is where relay sockets are bound and what clients are told to expect.
	RelayIP string
	// MaxAllocationsPerUser caps the allocations one TURN user holds at once (0: default).
	MaxAllocationsPerUser int
	// Realm is the STUN realm (default "stoa").
	Realm string
	// Host names the proxy in its TURN URLs; it is the FQDN its certificate covers, so it is
	// always used for turns: URLs, and for turn: URLs when a listener is on a wildcard address.
	Host string
	// AnnounceHost, when set, names the proxy in every URL (config proxy.turn_host).
	AnnounceHost string
}

// ServerOptions are what NewServer needs besides the configuration.
type ServerOptions struct {
	TURN TURNConfig
	// GetCertificate serves the TLS listener; required when TURN.TLSAddr is set.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Registry receives the proxy's metrics; nil: not exported.
	Registry prometheus.Registerer
	Now      func() time.Time
	Log      *slog.Logger
}

// Server is a running TURN server with REST credentials and the relay policy.
type Server struct {
	turn    *turn.Server
	cfg     TURNConfig
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	policy  Policy
	secret  atomic.Pointer[[]byte]

	udp      net.PacketConn
	tcp, tls net.Listener

	mu      sync.Mutex
	perUser map[string]int // open relay sockets per TURN user
}

// NewServer listens on the configured addresses and starts serving TURN. No allocation
// succeeds until SetSecret gives it the manager's shared secret.
func NewServer(o ServerOptions) (s *Server, err error) {
	cfg := o.TURN
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.MaxAllocationsPerUser <= 0 {
		cfg.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	relayIP := net.ParseIP(cfg.RelayIP)
	if relayIP == nil || relayIP.IsUnspecified() {
		return nil, fmt.Errorf("start TURN: relay IP %q is not a specific IP address", cfg.RelayIP)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.TLSAddr != "" && o.GetCertificate == nil {
		return nil, errors.New("start TURN: the TLS listener needs a certificate")
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("start TURN: metrics: %w", err)
	}
	s = &Server{cfg: cfg, now: o.Now, log: o.Log, metrics: m, perUser: map[string]int{}}

	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range closers {
				_ = c()
			}
		}
	}()
	gen := &relayGen{s: s, static: turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: relayIP.String()}}
	var sc turn.ServerConfig
	if cfg.UDPAddr != "" {
		if s.udp, err = net.ListenPacket("udp", cfg.UDPAddr); err != nil {
			return nil, fmt.Errorf("start TURN: listen UDP: %w", err)
		}
		closers = append(closers, s.udp.Close)
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{PacketConn: s.udp, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	if cfg.TCPAddr != "" {
		if s.tcp, err = net.Listen("tcp", cfg.TCPAddr); err != nil {
			return nil, fmt.Errorf("start TURN: listen TCP: %w", err)
		}
		closers = append(closers, s.tcp.Close)
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: s.tcp, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	if cfg.TLSAddr != "" {
		ln, err := net.Listen("tcp", cfg.TLSAddr)
		if err != nil {
			return nil, fmt.Errorf("start TURN: listen TLS: %w", err)
		}
		conf := certs.ServerConfig(&certs.Holder{})
		conf.GetCertificate = o.GetCertificate
		conf.NextProtos = nil // TURN over TLS has no ALPN of its own (RFC 8656 §4.1 leaves it out)
		s.tls = tls.NewListener(ln, conf)
		closers = append(closers, s.tls.Close)
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: s.tls, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	if len(closers) == 0 {
		return nil, errors.New("start TURN: no listener configured")
	}
	sc.Realm = cfg.Realm
	sc.LoggerFactory = pionLogs{o.Log}
	sc.AuthHandler = s.authenticate
	sc.QuotaHandler = s.quota
	sc.EventHandler = turn.EventHandler{
		OnAuth: func(src, _ net.Addr, _, _, _, method string, verdict bool) {
			if !verdict { // the username parsed but MESSAGE-INTEGRITY did not match: wrong password
				s.refuse("auth", "TURN credential refused", "client", src.String(), "method", method, "why", "bad password")
			}
		},
	}
	if s.turn, err = turn.NewServer(sc); err != nil {
		return nil, fmt.Errorf("start TURN: %w", err)
	}
	return s, nil
}

// Close stops the listeners and every allocation.
func (s *Server) Close() error { return s.turn.Close() }

// SetSecret installs the TURN REST shared secret from the manager.
func (s *Server) SetSecret(secret []byte) {
	b := append([]byte(nil), secret...)
	s.secret.Store(&b)
}

// Policy is the relay policy; the heartbeat updates its routers.
func (s *Server) Policy() *Policy { return &s.policy }

// Allocations is the number of open allocations.
func (s *Server) Allocations() int { return s.turn.AllocationCount() }

// UDPAddr, TCPAddr and TLSAddr are the bound listener addresses (nil when off).
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

func (s *Server) TLSAddr() net.Addr {
	if s.tls == nil {
		return nil
	}
	return s.tls.Addr()
}

// URLs are the ICE server URLs (RFC 7065, https://datatracker.ietf.org/doc/html/rfc7065) that
// reach this proxy, for the manager to hand to clients.
func (s *Server) URLs() []string {
	var out []string
	host := func(a net.Addr, forceName bool) string {
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return a.String()
		}
		h := ap.Addr().Unmap().String()
		if forceName || ap.Addr().IsUnspecified() {
			if s.cfg.Host != "" {
				h = s.cfg.Host
			}
		}
		if s.cfg.AnnounceHost != "" {
			h = s.cfg.AnnounceHost
		}
		return net.JoinHostPort(h, strconv.Itoa(int(ap.Port())))
	}
	if a := s.UDPAddr(); a != nil {
		out = append(out, "turn:"+host(a, false)+"?transport=udp")
	}
	if a := s.TCPAddr(); a != nil {
		out = append(out, "turn:"+host(a, false)+"?transport=tcp")
	}
	if a := s.TLSAddr(); a != nil {
		out = append(out, "turns:"+host(a, true)+"?transport=tcp")
	}
	return out
}

// authenticate implements TURN REST long-term credentials: the username carries its expiry and
// the password is HMAC-SHA1(secret, username). It returns the user part as the user ID, which
// the allocation cap counts. Refused requests get 401 from pion.
func (s *Server) authenticate(ra *turn.RequestAttributes) (userID string, key []byte, ok bool) {
	src := ""
	if ra.SrcAddr != nil {
		src = ra.SrcAddr.String()
	}
	c, err := ParseUsername(ra.Username)
	if err != nil {
		s.refuse("auth", "TURN credential refused", "client", src, "why", err.Error())
		return "", nil, false
	}
	if !s.now().Before(c.Expires) {
		s.refuse("auth", "TURN credential refused", "client", src, "user", c.User, "why", "expired", "expired_at", c.Expires)
		return "", nil, false
	}
	sec := s.secret.Load()
	if sec == nil {
		s.refuse("auth", "TURN credential refused", "client", src, "why", "no secret from the manager yet")
		return "", nil, false
	}
	return c.User, turn.GenerateAuthKey(ra.Username, ra.Realm, Password(*sec, ra.Username)), true
}

// quota answers 486 Allocation Quota Reached before a relay is opened (RFC 8656 §7.2).
func (s *Server) quota(userID, _ string, src net.Addr) bool {
	s.mu.Lock()
	n := s.perUser[userID]
	s.mu.Unlock()
	if n >= s.cfg.MaxAllocationsPerUser {
		s.refuse("quota", "TURN allocation refused: per-user cap reached", "client", src.String(), "user", userID, "cap", s.cfg.MaxAllocationsPerUser)
		return false
	}
	return true
}

// permit is the PermissionHandler: CreatePermission and ChannelBind for a peer the policy
// refuses get 403 Forbidden.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	ok, reason := s.policy.Allow(peer)
	if !ok {
		s.refuse("policy_"+reason, "TURN permission refused", "client", client.String(), "peer", peer.String(), "why", reason)
	}
	return ok
}

func (s *Server) refuse(reason, msg string, kv ...any) {
	s.metrics.refusals.WithLabelValues(reason).Inc()
	s.log.Debug(msg, kv...)
}

// relayGen opens UDP relay sockets on the relay IP. It holds the allocation cap strictly (the
// quota check above races with concurrent Allocates) and counts relayed bytes. TCP relays
// (RFC 6062) are not offered: WebRTC never asks for them.
type relayGen struct {
	s      *Server
	static turn.RelayAddressGeneratorStatic
}

func (g *relayGen) Validate() error { return g.static.Validate() }

func (g *relayGen) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	s := g.s
	s.mu.Lock()
	if s.perUser[c.UserID] >= s.cfg.MaxAllocationsPerUser {
		s.mu.Unlock()
		s.refuse("quota", "TURN allocation refused: per-user cap reached", "user", c.UserID)
		return nil, nil, errors.New("allocate relay: per-user allocation cap reached")
	}
	s.perUser[c.UserID]++
	s.mu.Unlock()
	pc, addr, err := g.static.AllocatePacketConn(c)
	if err != nil {
		s.release(c.UserID)
		return nil, nil, fmt.Errorf("allocate relay: %w", err)
	}
	s.metrics.allocations.Inc()
	s.metrics.allocTotal.Inc()
	return &relayConn{countingConn: countingConn{PacketConn: pc,
		toPeer:   s.metrics.bytes.WithLabelValues("to_peer"),
		fromPeer: s.metrics.bytes.WithLabelValues("from_peer")},
		done: func() { s.metrics.allocations.Dec(); s.release(c.UserID) }}, addr, nil
}

func (g *relayGen) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errors.New("allocate relay: TCP relays are not offered")
}

func (g *relayGen) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errors.New("allocate relay: TCP relays are not offered")
}

func (s *Server) release(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[user]--; s.perUser[user] <= 0 {
		delete(s.perUser, user)
	}
}

// relayConn releases its allocation slot once, when pion closes the relay socket.
type relayConn struct {
	countingConn
	once sync.Once
	done func()
}

func (c *relayConn) Close() error {
	c.once.Do(c.done)
	return c.PacketConn.Close()
}
