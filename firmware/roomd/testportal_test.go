package roomd

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
)

// testPortal is a small portal built from the real pieces (pairing.PortalSession, bundle.Sign,
// ca issuing) over real TLS listeners: a public HTTPS server for pairing and /healthz, and a
// mutual-TLS management server. Waits are short so tests run fast.
type testPortal struct {
	t          *testing.T
	public     *httptest.Server
	mgmt       *httptest.Server
	deviceCA   *ca.CA
	portalCA   *ca.CA
	compCA     *ca.CA
	bundleKey  ed25519.PrivateKey
	firstValid time.Duration // validity of the certificate issued at pairing

	mu       sync.Mutex
	hellos   map[string]pairing.Hello // by pairing ID
	offers   map[string]chan pairing.Challenge
	sessions map[string]*pairing.PortalSession
	results  map[string]chan error
	pushes   map[string][]byte // room ID → envelope to push at the next poll
	revoked  map[string]bool
	statuses map[string]api.RoomStatus
	history  map[string][]api.RoomStatus // every poll's status, in order (update tests)
	updates  map[string]*api.UpdateOffer // room ID → update offered in every poll answer
	renewals int
	version  uint64
	rooms    int
	bundle   []byte
}

func newTestPortal(t *testing.T) *testPortal {
	t.Helper()
	now := time.Now()
	mk := func(name string) *ca.CA {
		c, err := ca.LoadOrCreate(t.TempDir(), name, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	_, bk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPortal{t: t, deviceCA: mk("Test device CA"), portalCA: mk("Test portal CA"), compCA: mk("Test component CA"),
		bundleKey: bk, firstValid: 90 * 24 * time.Hour,
		hellos: map[string]pairing.Hello{}, offers: map[string]chan pairing.Challenge{}, sessions: map[string]*pairing.PortalSession{},
		results: map[string]chan error{}, pushes: map[string][]byte{}, revoked: map[string]bool{}, statuses: map[string]api.RoomStatus{},
		history: map[string][]api.RoomStatus{}, updates: map[string]*api.UpdateOffer{}}

	pub := http.NewServeMux()
	pub.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	pub.HandleFunc("POST /api/v1/pairing/hello", p.hello)
	pub.HandleFunc("POST /api/v1/pairing/{id}/wait", p.wait)
	pub.HandleFunc("POST /api/v1/pairing/{id}/confirm", p.confirm)
	p.public = httptest.NewUnstartedServer(pub)
	p.public.TLS = &tls.Config{Certificates: []tls.Certificate{p.serverCert(p.portalCA)}, MinVersion: tls.VersionTLS12}
	p.public.StartTLS()
	t.Cleanup(p.public.Close)

	mg := http.NewServeMux()
	mg.HandleFunc("POST /api/v1/room/poll", p.poll)
	mg.HandleFunc("POST /api/v1/room/renew", p.renew)
	mg.HandleFunc("POST /api/v1/room/unpair", p.roomUnpair)
	p.mgmt = httptest.NewUnstartedServer(mg)
	p.mgmt.TLS = &tls.Config{Certificates: []tls.Certificate{p.serverCert(p.compCA)}, MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.deviceCA.Pool()}
	p.mgmt.StartTLS()
	t.Cleanup(p.mgmt.Close)
	p.bundle = p.signBundle(1)
	return p
}

// URL is the public base URL (https://localhost:port, matching the certificate).
func (p *testPortal) URL() string { return localhostURL(p.public) }

func localhostURL(s *httptest.Server) string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return "https://localhost:" + port
}

func (p *testPortal) serverCert(c *ca.CA) tls.Certificate {
	p.t.Helper()
	key, err := ecdsaKey()
	if err != nil {
		p.t.Fatal(err)
	}
	cert, err := c.IssueServerKey(key.Public(), "localhost", []net.IP{net.IPv4(127, 0, 0, 1)}, 24*time.Hour)
	if err != nil {
		p.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

func pemCert(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func (p *testPortal) signBundle(v uint64) []byte {
	p.t.Helper()
	env, err := bundle.Sign(bundle.Bundle{Version: v, IssuedAt: time.Now().UTC(), PortalURL: p.URL(), MgmtURL: localhostURL(p.mgmt),
		PortalRoots: []string{pemCert(p.portalCA.Root())}, ComponentCA: pemCert(p.compCA.Root())}, p.bundleKey)
	if err != nil {
		p.t.Fatal(err)
	}
	return env
}

func apiError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Error{Code: code, Message: code})
}

func readAll(r *http.Request) []byte {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return b
}

func (p *testPortal) hello(w http.ResponseWriter, r *http.Request) {
	h, err := pairing.DecodeHello(readAll(r))
	if err != nil {
		apiError(w, http.StatusBadRequest, "pairing.malformed")
		return
	}
	p.mu.Lock()
	p.hellos[h.PairingID] = h
	if p.offers[h.PairingID] == nil {
		p.offers[h.PairingID] = make(chan pairing.Challenge, 1)
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "{}")
}

func (p *testPortal) wait(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	ch := p.offers[r.PathValue("id")]
	p.mu.Unlock()
	if ch == nil {
		apiError(w, http.StatusGone, "pairing.unknown")
		return
	}
	select {
	case c := <-ch:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c)
	case <-time.After(200 * time.Millisecond):
		w.WriteHeader(http.StatusNoContent)
	case <-r.Context().Done():
	}
}

func (p *testPortal) confirm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p.mu.Lock()
	ps, res := p.sessions[id], p.results[id]
	delete(p.sessions, id)
	p.mu.Unlock()
	if ps == nil {
		apiError(w, http.StatusGone, "pairing.unknown")
		return
	}
	c, err := pairing.DecodeConfirm(readAll(r))
	if err == nil {
		err = ps.Verify(c.Confirm)
	}
	if err != nil {
		res <- fmt.Errorf("confirm: %w", err)
		apiError(w, http.StatusForbidden, "pairing.wrong_code")
		return
	}
	var e pairing.Enrollment
	if err := ps.Open(c.Sealed, &e); err != nil {
		res <- err
		apiError(w, http.StatusBadRequest, "pairing.malformed")
		return
	}
	block, _ := pem.Decode([]byte(e.CSRPEM))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		res <- err
		apiError(w, http.StatusBadRequest, "pairing.malformed")
		return
	}
	p.mu.Lock()
	p.rooms++
	roomID := fmt.Sprintf("room%d", p.rooms)
	env := p.bundle
	valid := p.firstValid
	p.mu.Unlock()
	// The first certificate may be issued "in the past" so renewal is due at once.
	issuer := *p.deviceCA
	issuer.Now = func() time.Time { return time.Now().Add(-(90*24*time.Hour - valid)) }
	cert, err := issuer.IssueClient(csr.PublicKey, roomID, 90*24*time.Hour, ca.ComponentURI(roomID))
	if err != nil {
		res <- err
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	sealed, err := ps.Seal(pairing.Grant{RoomID: roomID, Name: "Boardroom", CertPEM: pemCert(cert),
		DeviceCAPEM: pemCert(p.deviceCA.Root()), Bundle: env, BundleKey: p.bundleKey.Public().(ed25519.PublicKey),
		MgmtURL: localhostURL(p.mgmt)})
	if err != nil {
		res <- err
		return
	}
	_ = json.NewEncoder(w).Encode(pairing.Result{Sealed: sealed})
	res <- nil
}

// pair is the admin entering code: it finds the waiting room by locator, hands it the
// challenge and waits for the room's confirmation.
func (p *testPortal) pair(code string) error {
	c, err := pairing.ParseCode(code)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		var h pairing.Hello
		found := false
		for _, hh := range p.hellos {
			if hh.Locator == c.Locator() {
				h, found = hh, true
			}
		}
		if !found {
			p.mu.Unlock()
			if time.Now().After(deadline) {
				return errors.New("pairing.no_room")
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		ps, ch, err := pairing.NewPortalSession(c, h, rand.Reader)
		if err != nil {
			p.mu.Unlock()
			return err
		}
		res := make(chan error, 1)
		p.sessions[h.PairingID], p.results[h.PairingID] = ps, res
		p.offers[h.PairingID] <- ch
		p.mu.Unlock()
		select {
		case err := <-res:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("no confirm from the room")
		}
	}
}

func (p *testPortal) roomID(r *http.Request) string {
	return r.TLS.PeerCertificates[0].Subject.CommonName
}

func (p *testPortal) poll(w http.ResponseWriter, r *http.Request) {
	id := p.roomID(r)
	var st api.RoomStatus
	if err := json.Unmarshal(readAll(r), &st); err != nil {
		apiError(w, http.StatusBadRequest, "room.malformed")
		return
	}
	p.mu.Lock()
	if p.revoked[id] {
		p.mu.Unlock()
		apiError(w, http.StatusForbidden, "room.unpaired")
		return
	}
	p.statuses[id] = st
	p.history[id] = append(p.history[id], st)
	offer := p.updates[id]
	push := p.pushes[id]
	delete(p.pushes, id)
	p.mu.Unlock()
	if push == nil {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	_ = json.NewEncoder(w).Encode(api.RoomCommand{Bundle: push, Update: offer})
}

func (p *testPortal) renew(w http.ResponseWriter, r *http.Request) {
	var req api.RenewRequest
	if err := json.Unmarshal(readAll(r), &req); err != nil {
		apiError(w, http.StatusBadRequest, "room.malformed")
		return
	}
	block, _ := pem.Decode([]byte(req.CSRPEM))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		apiError(w, http.StatusBadRequest, "room.malformed")
		return
	}
	id := p.roomID(r)
	cert, err := p.deviceCA.IssueClient(csr.PublicKey, id, 90*24*time.Hour, ca.ComponentURI(id))
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	p.mu.Lock()
	p.renewals++
	p.mu.Unlock()
	_ = json.NewEncoder(w).Encode(api.RenewResponse{CertPEM: pemCert(cert)})
}

func (p *testPortal) roomUnpair(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.revoked[p.roomID(r)] = true
	p.mu.Unlock()
	_, _ = io.WriteString(w, "{}")
}

func (p *testPortal) status(id string) (api.RoomStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.statuses[id]
	return s, ok
}

// share returns the CPace share of the (single) waiting room's latest hello.
func (p *testPortal) share(t *testing.T) []byte {
	t.Helper()
	var out []byte
	waitFor(t, "a hello", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, h := range p.hellos {
			out = h.Share
		}
		return out != nil
	})
	return out
}
