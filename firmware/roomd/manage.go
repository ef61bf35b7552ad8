package roomd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/services/api"
)

// errRevoked: the portal says this room is no longer paired (403 room.unpaired).
var errRevoked = errors.New("the portal unpaired this room")

// checkTimeout bounds the public HTTPS trust check.
const checkTimeout = 5 * time.Second

// manager holds the management channel of one paired identity.
type manager struct {
	a    *Agent
	id   *Identity
	cert atomic.Pointer[tls.Certificate]

	ver    uint64       // bundle version the clients were built for
	mgmt   *http.Client // mTLS to MgmtURL, RootCAs = bundle.MgmtPool()
	public *http.Client // public HTTPS check, RootCAs = bundle.PortalPool()
	base   string       // management base URL
}

// managed runs the management loop until ctx ends or the portal unpairs the room.
func (a *Agent) managed(ctx context.Context, id *Identity) error {
	m := &manager{a: a, id: id}
	m.cert.Store(id.TLSCertificate())
	defer m.close()
	defer a.mgmt.clear()
	defer a.upd.wg.Wait() // an install in flight is cancelled with ctx: let it end first
	a.setStatus(func(s *Status) {
		*s = Status{State: StatePaired, PortalURL: id.Room.PortalURL, RoomID: id.Room.RoomID,
			Name: id.Room.Name, CertNotAfter: id.Cert.NotAfter}
	})
	a.show(paired(id.Room.Name, false))
	bo := NewBackoff()
	online := false
	for {
		err := m.cycle(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errRevoked) {
			return err
		}
		if err == nil {
			bo.Reset()
			if !online {
				online = true
				a.show(paired(id.Room.Name, true))
			}
			continue
		}
		a.o.Log.Warn("management channel", "err", err)
		a.setStatus(func(s *Status) { s.Online, s.LastError = false, err.Error() })
		if online {
			online = false
			a.show(paired(id.Room.Name, false))
		}
		if !sleepCtx(ctx, bo.Next()) {
			return ctx.Err()
		}
	}
}

func paired(name string, online bool) board.Screen {
	state := "Portal unreachable; retrying"
	if online {
		state = "Connected to the portal"
	}
	return board.Screen{Title: name, Lines: []string{state}}
}

// cycle is one poll: reload the bundle, renew the certificate if due, check the public HTTPS,
// report status and carry out the answer.
func (m *manager) cycle(ctx context.Context) error {
	b, err := m.id.Bundles.Load()
	if err != nil {
		return fmt.Errorf("management: %w", err)
	}
	if err := m.clients(b); err != nil {
		return err
	}
	m.a.mgmt.set(m.mgmt, m.base, b)
	m.a.setStatus(func(s *Status) { s.BundleVersion = b.Version })
	if err := m.maybeRenew(ctx); err != nil {
		m.a.o.Log.Warn("certificate renewal failed; retrying next cycle", "err", err)
	}
	trusted, checkErr := m.checkPublic(ctx, b)
	st := api.RoomStatus{
		Firmware:           m.a.o.Config.Firmware,
		BundleVersion:      b.Version,
		CertNotAfter:       m.cert.Load().Leaf.NotAfter,
		UptimeSeconds:      int64(m.a.o.Now().Sub(m.a.started) / time.Second),
		PortalHTTPSTrusted: trusted,
		PortalHTTPSError:   checkErr,
		Capabilities:       capabilities(),
	}
	st.Panels = m.a.panels.report() // touch panels (panel_hook.go)
	m.a.upd.drainKick()
	m.a.upd.refresh(ctx)
	st.System, st.Update = m.a.upd.report() // A/B system and update progress (update_agent.go)
	m.a.setStatus(func(s *Status) { s.System, s.Update = st.System, st.Update })
	pctx, cancel := context.WithTimeout(ctx, time.Duration(m.a.o.Config.PollTimeout)+10*time.Second)
	defer cancel()
	// A new update state (installed, failed) cuts the long poll short to be reported at once.
	pctx, stopKick := m.a.upd.interruptible(pctx)
	defer stopKick()
	// The portal counts a room online while its poll is in flight; so does the room, from the
	// moment the request is written over a verified mutual-TLS connection.
	pctx = httptrace.WithClientTrace(pctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			m.a.setStatus(func(s *Status) { s.Online = true })
			m.a.upd.sent(st.Update)
		}
	}})
	ans, err := postJSON(pctx, m.mgmt, m.base+"/api/v1/room/poll", st)
	if err != nil && errors.Is(context.Cause(pctx), errReportNow) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("management poll: %w", err)
	}
	switch {
	case ans.Status == http.StatusForbidden && ans.Err.Code == "room.unpaired":
		return errRevoked
	case ans.Status != http.StatusOK:
		return fmt.Errorf("management poll: %s", ans)
	}
	m.a.setStatus(func(s *Status) {
		s.Online, s.LastError, s.BundleVersion = true, "", b.Version
		s.CertNotAfter = m.cert.Load().Leaf.NotAfter
	})
	cmd, err := DecodeRoomCommand(ans.Body)
	if err != nil {
		return fmt.Errorf("management poll: %w", err)
	}
	m.a.panels.revoke(cmd.RevokePanels)
	m.a.upd.offer(ctx, cmd.Update, m.fetchUpdates())
	if len(cmd.Bundle) > 0 {
		// A refused bundle is not acknowledged: the next poll still reports the old version,
		// so the portal sees the room has not taken it.
		nb, err := m.id.Bundles.Save(cmd.Bundle)
		if err != nil {
			m.a.o.Log.Warn("refused pushed bundle", "err", err, "stored_version", b.Version)
			m.a.setError(fmt.Errorf("refused pushed bundle: %w", err))
			return nil
		}
		if nb.Version != b.Version {
			m.a.o.Log.Info("stored pushed bundle", "version", nb.Version, "previous", b.Version)
		}
		m.a.setStatus(func(s *Status) { s.BundleVersion = nb.Version })
	}
	return nil
}

// clients (re)builds the HTTP clients when the bundle changed.
func (m *manager) clients(b bundle.Bundle) error {
	if m.mgmt != nil && m.ver == b.Version {
		return nil
	}
	base := m.id.Room.MgmtURL
	if b.MgmtURL != "" {
		base = b.MgmtURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return fmt.Errorf("management: bad mgmt_url %q", base)
	}
	mp, err := b.MgmtPool()
	if err != nil {
		return fmt.Errorf("management: %w", err)
	}
	pp, err := b.PortalPool()
	if err != nil {
		return fmt.Errorf("management: %w", err)
	}
	pu, err := url.Parse(b.PortalURL)
	if err != nil {
		return fmt.Errorf("management: bad portal_url %q: %w", b.PortalURL, err)
	}
	m.close()
	m.mgmt = &http.Client{Transport: newTransport(mgmtTLS(mp, u.Hostname(), m.cert.Load))}
	m.public = &http.Client{Transport: newTransport(portalCheckTLS(pp, pu.Hostname())), Timeout: checkTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	m.base = (&url.URL{Scheme: "https", Host: u.Host}).String()
	m.ver = b.Version
	return nil
}

func (m *manager) close() {
	for _, c := range []*http.Client{m.mgmt, m.public} {
		if c != nil {
			c.CloseIdleConnections()
		}
	}
}

// checkPublic verifies the portal's public HTTPS against the bundle's PortalRoots, as a
// browser-less stand-in for every later connection the room makes to the portal.
func (m *manager) checkPublic(ctx context.Context, b bundle.Bundle) (bool, string) {
	if b.PortalURL == "" {
		return false, "bundle has no portal_url"
	}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, b.PortalURL+"/healthz", nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := m.public.Do(req)
	if err != nil {
		return false, err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("/healthz answered %d", resp.StatusCode)
	}
	return true, ""
}

// maybeRenew asks for a new certificate when less than a third of the current one's lifetime
// is left. The key stays: a second key file would need its own crash-safe swap with the cert.
func (m *manager) maybeRenew(ctx context.Context) error {
	cur := m.cert.Load().Leaf
	now := m.a.o.Now()
	life := cur.NotAfter.Sub(cur.NotBefore)
	if cur.NotAfter.Sub(now) >= life/3 {
		return nil
	}
	csrDER, err := x509.CreateCertificateRequest(m.a.o.Rand, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "stoa-room"}}, m.id.Key)
	if err != nil {
		return fmt.Errorf("renew: create csr: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ans, err := postJSON(rctx, m.mgmt, m.base+"/api/v1/room/renew", api.RenewRequest{
		CSRPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))})
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if ans.Status != http.StatusOK {
		return fmt.Errorf("renew: %s", ans)
	}
	rr, err := DecodeRenewResponse(ans.Body)
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	cert, err := parseCertPEM(rr.CertPEM)
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if err := checkClientCert(cert, m.id.Key, m.id.DeviceCA, now); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if err := saveCert(m.a.o.Config.DataDir, cert); err != nil {
		return err
	}
	m.id.Cert = cert
	m.cert.Store(&tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: m.id.Key, Leaf: cert})
	// Drop pooled connections so the next handshake presents the new certificate.
	m.mgmt.CloseIdleConnections()
	m.a.o.Log.Info("client certificate renewed", "not_after", cert.NotAfter, "serial", cert.SerialNumber.Text(16))
	return nil
}

// unpairRemote tells the portal the room leaves (best effort, short timeout).
func (a *Agent) unpairRemote(ctx context.Context, id *Identity) {
	m := &manager{a: a, id: id}
	m.cert.Store(id.TLSCertificate())
	defer m.close()
	b, err := id.Bundles.Load()
	if err == nil {
		err = m.clients(b)
	}
	if err == nil {
		uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var ans answer
		ans, err = postJSON(uctx, m.mgmt, m.base+"/api/v1/room/unpair", nil)
		if err == nil && ans.Status >= 300 {
			err = fmt.Errorf("status %s", ans)
		}
	}
	if err != nil {
		a.o.Log.Warn("telling the portal about the unpair failed; forgetting identity anyway", "err", err)
	}
}

// mgmtSlot holds the paired room's management channel for JoinMeeting (call.go), which posts
// from other goroutines than the management loop's.
type mgmtSlot struct{ p atomic.Pointer[mgmtChannel] }

type mgmtChannel struct {
	client *http.Client
	base   string
	bundle bundle.Bundle
}

func (s *mgmtSlot) set(c *http.Client, base string, b bundle.Bundle) {
	s.p.Store(&mgmtChannel{client: c, base: base, bundle: b})
}
func (s *mgmtSlot) clear()            { s.p.Store(nil) }
func (s *mgmtSlot) get() *mgmtChannel { return s.p.Load() }
