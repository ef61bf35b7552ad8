// Package portal is the portal role: web UI and REST API for accounts, certificates and
// components, the internal CA, and the HTTPS front door of the whole system.
package portal

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/config"
	"github.com/stoa-rooms/stoa/services/httpserver"
	"github.com/stoa-rooms/stoa/services/portal/auth"
	"github.com/stoa-rooms/stoa/services/portal/components"
	"github.com/stoa-rooms/stoa/services/portal/meetings"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
	"github.com/stoa-rooms/stoa/services/portal/store"
	"github.com/stoa-rooms/stoa/services/portal/updates"
	"github.com/stoa-rooms/stoa/services/portal/web"
	"github.com/stoa-rooms/stoa/services/token"
)

// Options configure a portal Server.
type Options struct {
	Config          config.Portal
	DataDir         string // the portal's own directory: database, internal CA
	CredentialsPath string // where the first super admin's credentials are written
	Version         string
	Log             *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ExtraRoots are trusted, beside the system roots and an uploaded root, when validating an
	// uploaded certificate chain (for a private enterprise CA).
	ExtraRoots *x509.CertPool
	// RoomsTuning, when set, adjusts the rooms service's options (tests shorten long-polls).
	RoomsTuning func(*rooms.Options)
}

// Server is a running portal.
type Server struct {
	cfg        config.Portal
	log        *slog.Logger
	now        func() time.Time
	store      store.Store
	auth       *auth.Manager
	certs      *certState
	acme       *acmeRunner
	comps      *components.Service
	tokenKey   ed25519.PrivateKey // signs meeting join tokens
	meetings   *meetings.Service
	rooms      *rooms.Service
	updates    *updates.Service
	secured    *securedOption
	internal   *certs.Holder
	reg        *prometheus.Registry
	extraRoots *x509.CertPool
	credsPath  string
	bootstrap  string // the first super admin's password, only in the process that created it

	runCtx  context.Context // lives as long as Run; ACME renewal hangs off it
	runOnce sync.Once
}

// Listeners are the portal's bound sockets.
type Listeners struct {
	HTTPS    net.Listener
	HTTP     net.Listener // nil when no redirect listener is configured
	Internal net.Listener
}

// Listen binds the portal's listeners from its configuration.
func Listen(cfg config.Portal) (Listeners, error) {
	var l Listeners
	var err error
	if l.HTTPS, err = net.Listen("tcp", cfg.HTTPSAddr); err != nil {
		return l, fmt.Errorf("listen portal https on %s: %w", cfg.HTTPSAddr, err)
	}
	if l.Internal, err = net.Listen("tcp", cfg.InternalAddr); err != nil {
		l.HTTPS.Close()
		return l, fmt.Errorf("listen portal internal on %s: %w", cfg.InternalAddr, err)
	}
	if cfg.HTTPAddr != "" {
		if l.HTTP, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			l.HTTPS.Close()
			l.Internal.Close()
			return l, fmt.Errorf("listen portal http on %s: %w", cfg.HTTPAddr, err)
		}
	}
	return l, nil
}

// New opens the portal's state (running migrations), makes sure a certificate is served and a
// super admin exists.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create portal data dir: %w", err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(o.DataDir, "portal.db"))
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: o.Config, log: o.Log, now: o.Now, store: st, reg: httpserver.NewRegistry(),
		extraRoots: o.ExtraRoots, credsPath: o.CredentialsPath, internal: &certs.Holder{},
		runCtx: context.Background(),
	}
	if s.secured, err = newSecuredOption(ctx, s); err != nil {
		st.Close()
		return nil, err
	}
	s.auth = auth.New(st, auth.Config{
		Idle: o.Config.SessionIdle.Duration, Max: o.Config.SessionMax.Duration,
		MaxFailures: o.Config.LoginMaxFailures, Lockout: o.Config.LoginLockout.Duration, Now: o.Now,
	}, o.Log.With("component", "auth"))
	s.certs = &certState{st: st, holder: &certs.Holder{}, fqdn: o.Config.FQDN, now: o.Now}
	s.acme = &acmeRunner{s: s}
	if err := s.certs.load(ctx); err != nil {
		st.Close()
		return nil, err
	}
	created, err := s.auth.EnsureSuperAdmin(ctx, o.CredentialsPath)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("create first super admin: %w", err)
	}
	if created {
		s.bootstrap = readPassword(o.CredentialsPath)
	}
	internalCA, err := ca.LoadOrCreate(filepath.Join(o.DataDir, "ca"), "Stoa internal component CA", o.Now())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("load internal CA: %w", err)
	}
	// The meeting-token key signs join tokens; components learn its public half from
	// heartbeat answers.
	s.tokenKey, err = token.LoadOrCreateKey(filepath.Join(o.DataDir, "token-key.pem"))
	if err != nil {
		st.Close()
		return nil, err
	}
	s.comps = &components.Service{
		TokenKey: s.tokenKey.Public().(ed25519.PublicKey),
		Store:    st, CA: internalCA, Now: o.Now, Log: o.Log.With("component", "components"),
		HeartbeatInterval: 10 * time.Second, Audit: s.auth.Audit, Secured: s.secured.On,
		Actor: auth.UserName,
	}
	icert, err := s.comps.PortalInternalCert(o.Config.FQDN)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("issue portal internal certificate: %w", err)
	}
	s.internal.Set(&icert)
	s.meetings = s.newMeetings(internalCA.Pool())
	ro := rooms.Options{
		Store: st, DataDir: o.DataDir, ComponentCA: internalCA, ServedAnchor: s.servedAnchor,
		Now: o.Now, Log: o.Log.With("component", "rooms"), Audit: s.auth.Audit,
		Join: s.secured.markJoin(s.meetings.JoinE2EE), // rooms join meetings over their management channel
	}
	if o.RoomsTuning != nil {
		o.RoomsTuning(&ro)
	}
	s.rooms, err = rooms.New(ro)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.certs.changed = s.rooms.CertificateChanged
	if s.updates, err = s.newUpdates(o); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// newMeetings builds the meetings service: it reaches the manager and routers with the
// portal's internal certificate, trusting only the internal CA.
func (s *Server) newMeetings(internalRoots *x509.CertPool) *meetings.Service {
	tc := certs.ClientConfig()
	tc.RootCAs = internalRoots
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return s.internal.Get(), nil }
	return &meetings.Service{
		Store: s.store, TokenKey: s.tokenKey, ClientTLS: tc, Now: s.now, Log: s.log.With("component", "meetings"),
		Audit: s.auth.Audit, Secured: s.secured.On,
		ManagerURL: func(ctx context.Context) (string, error) {
			return s.comps.OnlineURL(ctx, "manager")
		},
		RouterURL: func(ctx context.Context, id string) (string, error) {
			return s.comps.ComponentURL(ctx, "router", id)
		},
	}
}

// servedAnchor is the top certificate of the chain the portal serves now: what rooms must
// trust (for a self-signed certificate, the certificate itself).
func (s *Server) servedAnchor() *x509.Certificate {
	kp := s.certs.holder.Get()
	if kp == nil {
		return nil
	}
	chain, err := chainOf(*kp)
	if err != nil {
		return nil
	}
	return chain[len(chain)-1]
}

// readPassword pulls the password line back out of the credentials file just written, so the
// first start can print it once on the terminal.
func readPassword(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "password: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// URL is the portal's public URL for the bound listeners.
func (s *Server) URL(l Listeners) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	_, port, _ := net.SplitHostPort(l.HTTPS.Addr().String())
	if port == "443" {
		return "https://" + s.cfg.FQDN
	}
	return "https://" + net.JoinHostPort(s.cfg.FQDN, port)
}

// BootstrapPassword is the generated super admin password when this process created it.
func (s *Server) BootstrapPassword() string { return s.bootstrap }

// CredentialsPath is where the first super admin's credentials were written.
func (s *Server) CredentialsPath() string { return s.credsPath }

// Components is the component registry (join tokens, certificates, heartbeats).
func (s *Server) Components() *components.Service { return s.comps }

// Rooms is the room registry: pairing, bundles, management channel.
func (s *Server) Rooms() *rooms.Service { return s.rooms }

// ServingRoots trusts exactly the chain the portal serves now (for in-process components).
func (s *Server) ServingRoots() *x509.CertPool { return s.certs.roots() }

// Close releases the store.
func (s *Server) Close() error {
	s.acme.close()
	return s.store.Close()
}

// Run serves until ctx is cancelled.
func (s *Server) Run(ctx context.Context, l Listeners) error {
	s.runCtx = ctx
	s.comps.InternalURL = "https://" + net.JoinHostPort(s.cfg.FQDN, portOf(l.Internal))
	s.rooms.SetURLs(s.URL(l), s.comps.InternalURL)
	s.meetings.PublicURL = s.URL(l)
	// Long-polls (pairing wait, room polls) end at once on shutdown instead of holding
	// the graceful shutdown for their full 25 s.
	go func() { <-ctx.Done(); s.rooms.Shutdown() }()
	if err := s.acme.load(ctx); err != nil {
		s.log.Error("ACME disabled: saved configuration is invalid", "err", err)
	}
	tlsConf := certs.ServerConfig(s.certs.holder)
	tlsConf.GetCertificate = s.getCertificate
	tlsConf.NextProtos = append(tlsConf.NextProtos, "acme-tls/1")

	httpsHost := s.cfg.FQDN
	if p := portOf(l.HTTPS); p != "443" {
		httpsHost = net.JoinHostPort(s.cfg.FQDN, p)
	}
	errc := make(chan error, 3)
	var wg sync.WaitGroup
	serve := func(ln net.Listener, h http.Handler, tc *tls.Config) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- httpserver.Serve(ctx, s.log, ln, h, tc)
		}()
	}
	serve(l.HTTPS, s.Handler(), tlsConf)
	serve(l.Internal, s.internalHandler(), s.internalTLSConfig())
	if l.HTTP != nil {
		serve(l.HTTP, s.secured.plainHTTP(s.httpHandler(httpserver.RedirectToHTTPS(httpsHost))), nil)
	}
	go s.expiryLoop(ctx)
	if s.cfg.Announce {
		// Tracked by wg so Run returns only after the mDNS responder has shut down.
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.announce(ctx, l)
		}()
	}
	s.log.Info("portal serving", "https", l.HTTPS.Addr(), "internal", l.Internal.Addr(), "fqdn", s.cfg.FQDN)
	var first error
	go func() { wg.Wait(); close(errc) }()
	for err := range errc {
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// internalTLSConfig accepts client certificates from the component CA and the device CA; each
// handler then checks that the chain ends at its own CA.
func (s *Server) internalTLSConfig() *tls.Config {
	c := s.comps.InternalTLSConfig(s.internal)
	c.ClientCAs.AddCert(s.rooms.DeviceCA().Root())
	return s.secured.restrictTLS(c)
}

// internalHandler routes room management to the rooms service, the rest to components.
func (s *Server) internalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/room/", s.secured.roomCapabilities(s.rooms.MgmtHandler()))
	mux.Handle("/", s.comps.InternalHandler())
	return mux
}

func (s *Server) expiryLoop(ctx context.Context) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	s.expiryWarning(s.now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.expiryWarning(s.now())
		}
	}
}

func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// auditSystem records an action taken by the portal itself.
func (s *Server) auditSystem(action, detail string) {
	if err := s.store.AppendAudit(context.Background(), store.AuditEntry{At: s.now(), Actor: "system", Action: action, Detail: detail}); err != nil {
		s.log.Error("audit", "err", err)
	}
}

// Handler is the portal's HTTPS handler: UI, REST API, health and metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	httpserver.Ops(mux, s.reg, nil)
	mux.Handle("/ui/", web.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))

	mux.HandleFunc("POST /api/v1/login", s.auth.HandleLogin)
	mux.HandleFunc("POST /api/v1/logout", s.auth.HandleLogout)
	mux.HandleFunc("GET /api/v1/me", s.auth.HandleMe)

	super := func(h http.HandlerFunc) http.Handler { return s.auth.Require(store.RoleSuperAdmin, h) }
	admin := func(h http.HandlerFunc) http.Handler { return s.auth.Require(store.RoleAdmin, h) }
	mux.Handle("GET /api/v1/audit", super(s.auth.HandleAudit))
	mux.Handle("/api/v1/users", admin(s.auth.HandleUsers))

	mux.Handle("GET /api/v1/security/certificate", super(s.handleSecurityState))
	mux.Handle("POST /api/v1/security/key", super(s.handleGenerateKey))
	mux.Handle("POST /api/v1/security/csr", super(s.handleGenerateCSR))
	mux.Handle("GET /api/v1/security/csr", super(s.handleDownloadCSR))
	mux.Handle("POST /api/v1/security/upload", super(s.handleUpload))
	mux.Handle("POST /api/v1/security/activate", super(s.handleActivate))
	mux.Handle("POST /api/v1/security/rollback", super(s.handleRollback))
	mux.Handle("POST /api/v1/security/reset-self-signed", super(s.handleResetSelfSigned))
	mux.Handle("GET /api/v1/security/acme", super(s.handleACMEGet))
	mux.Handle("PUT /api/v1/security/acme", super(s.handleACMEPut))
	mux.Handle("POST /api/v1/security/acme/issue", super(s.handleACMEIssue))
	mux.Handle("GET /api/v1/security/secured", super(s.handleSecuredGet))
	mux.Handle("PUT /api/v1/security/secured", super(s.handleSecuredPut))

	mux.Handle("GET /api/v1/rooms", admin(s.rooms.HandleList))
	mux.Handle("POST /api/v1/rooms/pair", admin(s.rooms.HandlePair))
	mux.Handle("POST /api/v1/rooms/push", admin(s.rooms.HandlePush))
	mux.Handle("POST /api/v1/rooms/prune-roots", admin(s.rooms.HandlePruneRoots))
	mux.Handle("PUT /api/v1/rooms/{id}", admin(s.rooms.HandleRename))
	mux.Handle("DELETE /api/v1/rooms/{id}", admin(s.rooms.HandleDelete))
	mux.Handle("POST /api/v1/rooms/{id}/panels/{panel}/revoke", admin(s.rooms.HandleRevokePanel))
	mux.Handle("POST /api/v1/rooms/{id}/update", admin(s.rooms.HandleStartUpdate))

	// Update bundles: super admins upload and delete them; admins list them to start updates.
	mux.Handle("GET /api/v1/updates", admin(s.updates.HandleList))
	mux.Handle("POST /api/v1/updates", super(s.updates.HandleUpload))
	mux.Handle("DELETE /api/v1/updates/{board}/{version}", super(s.updates.HandleDelete))

	user := func(h http.HandlerFunc) http.Handler { return s.auth.Require(store.RoleUser, h) }
	mux.Handle("GET /api/v1/meetings", user(s.meetings.HandleList))
	mux.Handle("POST /api/v1/meetings", user(s.meetings.HandleCreate))
	mux.Handle("GET /api/v1/meetings/{id}", user(s.meetings.HandleGet))
	mux.Handle("PUT /api/v1/meetings/{id}", user(s.meetings.HandleUpdate))
	mux.Handle("DELETE /api/v1/meetings/{id}", user(s.meetings.HandleDelete))
	mux.Handle("POST /api/v1/meetings/{id}/join", user(s.secured.markJoinHTTP(http.HandlerFunc(s.meetings.HandleJoin)).ServeHTTP))
	mux.Handle("PUT /api/v1/rooms/{id}/meeting", admin(s.meetings.HandleRoomMeeting))

	mux.Handle("GET /api/v1/components", super(s.comps.HandleList))
	mux.Handle("POST /api/v1/components/tokens", super(s.comps.HandleTokens))
	mux.Handle("PUT /api/v1/components/{id}/fqdn", super(s.comps.HandleSetFQDN))
	mux.Handle("POST /api/v1/components/{id}/certificate", super(s.comps.HandleUploadCert))

	// Components join with a bearer token and no cookie, so CSRF (an ambient-credential attack)
	// does not apply: the join route bypasses the session middleware.
	top := http.NewServeMux()
	top.HandleFunc("POST /api/v1/components/join", s.comps.HandleJoin)
	// Signaling WebSockets carry their join token inside; the handler checks the Origin.
	top.HandleFunc("GET "+meetings.RTCPathPrefix+"{router}", s.meetings.HandleRTC)
	// Rooms pairing likewise carries no ambient credential: the PAKE over the room's code
	// authenticates both sides.
	top.HandleFunc("POST /api/v1/pairing/hello", s.rooms.HandleHello)
	top.HandleFunc("POST /api/v1/pairing/{id}/wait", s.rooms.HandleWait)
	top.HandleFunc("POST /api/v1/pairing/{id}/confirm", s.rooms.HandleConfirm)
	top.Handle("/", s.auth.Middleware(mux))
	return httpserver.HSTS(top)
}
