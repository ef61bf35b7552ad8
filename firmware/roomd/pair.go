package roomd

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
)

// waitTimeout bounds one long-poll for the admin's challenge (the portal holds it ≤ 25 s).
const waitTimeout = 35 * time.Second

var (
	// errNewCode: the code is spent (burned, expired, unknown to the portal, too many
	// failures); the room makes a new one.
	errNewCode = errors.New("pairing code spent")
	// errWrongCode: one failed attempt; the code stays, the room greets the portal again.
	errWrongCode = errors.New("wrong code entered on the portal")
)

// pair runs the pairing flow with the portal at base until a grant arrives, making a new code
// whenever the current one is spent. Nothing is stored here.
func (a *Agent) pair(ctx context.Context, base string) (*Identity, []byte, error) {
	c := &http.Client{Transport: newTransport(pairingTLS())}
	defer c.CloseIdleConnections()
	for {
		code, err := pairing.NewCode(a.o.Rand)
		if err != nil {
			return nil, nil, fmt.Errorf("pair: %w", err)
		}
		a.showCode(code, base)
		id, env, err := a.pairWithCode(ctx, c, base, code)
		if errors.Is(err, errNewCode) {
			a.o.Log.Info("pairing code spent; making a new one", "reason", err)
			continue
		}
		return id, env, err
	}
}

// showCode puts the code on the display, in the status and through OnCode.
// The screen first; then the status and OnCode together (OnCode runs under the status lock),
// so whoever sees the code in one place finds it in the others.
func (a *Agent) showCode(code pairing.Code, portal string) {
	a.show(board.Screen{Title: "Pair this room", Code: code.String(), QR: PairingURL(portal),
		Lines: []string{"Enter this code on the portal: Admin → Rooms → Add", portal}})
	a.setStatus(func(s *Status) {
		*s = Status{State: StateUnpaired, Code: code.String(), PortalURL: portal, LastError: s.LastError}
		if a.o.OnCode != nil {
			a.o.OnCode(code.String())
		}
	})
}

// PairingURL is the portal page where an admin enters a room's code (shown as a QR code).
func PairingURL(portal string) string { return strings.TrimRight(portal, "/") + "/rooms.html" }

// pairWithCode greets the portal and waits for the admin, counting failed attempts.
func (a *Agent) pairWithCode(ctx context.Context, c *http.Client, base string, code pairing.Code) (*Identity, []byte, error) {
	made := a.o.Now()
	pid, err := pairing.NewPairingID(a.o.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("pair: %w", err)
	}
	bo := NewBackoff()
	failures := 0
	var rs *pairing.RoomSession
	for {
		if a.o.Now().Sub(made) >= pairing.CodeLifetime {
			return nil, nil, fmt.Errorf("%w: expired", errNewCode)
		}
		if failures >= pairing.MaxFailedAttempts {
			return nil, nil, fmt.Errorf("%w: %d failed attempts", errNewCode, failures)
		}
		if rs == nil {
			// A fresh session (and share) for every attempt: a CPace session answers once.
			// The same pairing ID replaces the share the portal keeps.
			var share []byte
			rs, share, err = pairing.NewRoomSession(code, pid, a.o.Rand)
			if err != nil {
				return nil, nil, fmt.Errorf("pair: %w", err)
			}
			hello := pairing.Hello{PairingID: pid, Locator: code.Locator(), Share: share, Room: a.o.Room}
			ans, err := postJSON(ctx, c, base+"/api/v1/pairing/hello", hello)
			if err == nil && ans.Status != http.StatusAccepted && ans.Status != http.StatusOK {
				err = fmt.Errorf("pair: hello: %s", ans)
			}
			if err != nil {
				rs = nil
				if !a.retry(ctx, bo, err) {
					return nil, nil, ctx.Err()
				}
				continue
			}
			bo.Reset()
		}
		wctx, cancel := context.WithTimeout(ctx, waitTimeout)
		ans, err := postJSON(wctx, c, base+"/api/v1/pairing/"+pid+"/wait", nil)
		cancel()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		switch {
		case err != nil:
			// The portal may have restarted and forgotten us: greet it again.
			rs = nil
			if !a.retry(ctx, bo, err) {
				return nil, nil, ctx.Err()
			}
		case ans.Status == http.StatusNoContent:
		case ans.Status == http.StatusGone:
			return nil, nil, fmt.Errorf("%w: %s", errNewCode, ans.Err.Code)
		case ans.Status == http.StatusOK:
			ch, err := pairing.DecodeChallenge(ans.Body)
			if err != nil {
				rs = nil
				a.setError(fmt.Errorf("pair: %w", err))
				continue
			}
			a.setStatus(func(s *Status) { s.State = StatePairing })
			id, env, err := a.exchange(ctx, c, base, pid, rs, ch)
			rs = nil
			if err == nil {
				return id, env, nil
			}
			a.setStatus(func(s *Status) { s.State = StateUnpaired })
			switch {
			case errors.Is(err, errWrongCode):
				failures++
				a.o.Log.Warn("pairing attempt failed", "failures", failures, "err", err)
				a.setError(err)
			case errors.Is(err, errNewCode), ctx.Err() != nil:
				return nil, nil, err
			default:
				if !a.retry(ctx, bo, err) {
					return nil, nil, ctx.Err()
				}
			}
		default:
			rs = nil
			if !a.retry(ctx, bo, fmt.Errorf("pair: wait: %s", ans)) {
				return nil, nil, ctx.Err()
			}
		}
	}
}

// retry records err and sleeps one backoff step; false when ctx ended.
func (a *Agent) retry(ctx context.Context, bo *Backoff, err error) bool {
	a.o.Log.Warn("pairing", "err", err)
	a.setError(err)
	return sleepCtx(ctx, bo.Next())
}

// exchange answers the portal's challenge: check its confirmation, send ours with the sealed
// enrollment, open and check the grant.
func (a *Agent) exchange(ctx context.Context, c *http.Client, base, pid string, rs *pairing.RoomSession, ch pairing.Challenge) (*Identity, []byte, error) {
	confirmURL := base + "/api/v1/pairing/" + pid + "/confirm"
	confirm, err := rs.Respond(ch)
	if errors.Is(err, pairing.ErrWrongCode) {
		// Tell the portal at once so the admin sees the error (best effort).
		_, _ = postJSON(ctx, c, confirmURL, pairing.Confirm{})
		return nil, nil, fmt.Errorf("%w: the portal's confirmation does not match", errWrongCode)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pair: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), a.o.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("pair: generate key: %w", err)
	}
	csrDER, err := x509.CreateCertificateRequest(a.o.Rand, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "stoa-room"}, // the portal names the room itself
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pair: create csr: %w", err)
	}
	csrPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))
	sealed, err := rs.Seal(pairing.Enrollment{CSRPEM: csrPEM, Room: a.o.Room})
	if err != nil {
		return nil, nil, fmt.Errorf("pair: %w", err)
	}
	ans, err := postJSON(ctx, c, confirmURL, pairing.Confirm{Confirm: confirm, Sealed: sealed})
	if err != nil {
		return nil, nil, fmt.Errorf("pair: confirm: %w", err)
	}
	switch ans.Status {
	case http.StatusOK:
	case http.StatusForbidden:
		return nil, nil, fmt.Errorf("%w: %s", errWrongCode, ans)
	case http.StatusGone:
		return nil, nil, fmt.Errorf("%w: %s", errNewCode, ans.Err.Code)
	default:
		return nil, nil, fmt.Errorf("pair: confirm: %s", ans)
	}
	res, err := pairing.DecodeResult(ans.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("pair: %w", err)
	}
	var g pairing.Grant
	if err := rs.Open(res.Sealed, &g); err != nil {
		return nil, nil, fmt.Errorf("pair: %w", err)
	}
	id, err := checkGrant(g, key, base, a.o.Now())
	if err != nil {
		return nil, nil, err
	}
	return id, g.Bundle, nil
}

// checkGrant verifies what the portal granted before anything is stored: the bundle's
// signature, and a client certificate for our key issued by the device CA.
func checkGrant(g pairing.Grant, key *ecdsa.PrivateKey, base string, now time.Time) (*Identity, error) {
	pub := ed25519.PublicKey(g.BundleKey)
	b, err := bundle.Verify(g.Bundle, pub)
	if err != nil {
		return nil, fmt.Errorf("check grant: %w", err)
	}
	cert, err := parseCertPEM(g.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("check grant: cert_pem: %w", err)
	}
	deviceCA, err := parseCertPEM(g.DeviceCAPEM)
	if err != nil {
		return nil, fmt.Errorf("check grant: device_ca_pem: %w", err)
	}
	if err := checkClientCert(cert, key, deviceCA, now); err != nil {
		return nil, fmt.Errorf("check grant: %w", err)
	}
	portal := b.PortalURL
	if portal == "" {
		portal = base
	}
	return &Identity{
		Room:      RoomRecord{RoomID: g.RoomID, Name: g.Name, MgmtURL: strings.TrimRight(g.MgmtURL, "/"), PortalURL: portal},
		Key:       key,
		Cert:      cert,
		DeviceCA:  deviceCA,
		BundleKey: pub,
	}, nil
}

// checkClientCert: cert is for key, chains to the device CA and allows client auth now.
func checkClientCert(cert *x509.Certificate, key *ecdsa.PrivateKey, deviceCA *x509.Certificate, now time.Time) error {
	if !key.PublicKey.Equal(cert.PublicKey) {
		return errors.New("the client certificate is not for this room's key")
	}
	roots := x509.NewCertPool()
	roots.AddCert(deviceCA)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("verify client certificate against the device CA: %w", err)
	}
	return nil
}

func parseCertPEM(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return c, nil
}
