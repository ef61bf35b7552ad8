package portal

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
	"github.com/stoa-rooms/stoa/test/stoatest"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// fakeClock is the portal's injected clock: real time plus an offset the test advances.
type fakeClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

type roomsPortal struct {
	*testPortal
	clock *fakeClock
}

// startRoomsPortal is startPortal with an injected clock and short room long-polls.
func startRoomsPortal(t *testing.T) *roomsPortal {
	t.Helper()
	clk := &fakeClock{}
	p := startPortalWith(t, portalOptions{now: clk.Now, noHTTP: true, roomsTuning: shortRoomWaits})
	return &roomsPortal{testPortal: p, clock: clk}
}

// shortRoomWaits keeps the rooms service's long-polls and waits test-sized.
func shortRoomWaits(o *rooms.Options) {
	o.WaitTimeout, o.PollTimeout, o.ExchangeTimeout, o.PushWait = 2*time.Second, 3*time.Second, 3*time.Second, 3*time.Second
}

func (p *roomsPortal) rooms(t *testing.T) []api.Room {
	t.Helper()
	var rs []api.Room
	if code, body, err := p.sess.Do("GET", "/api/v1/rooms", nil, "", &rs); err != nil || code != 200 {
		t.Fatalf("list rooms: %d %s %v", code, body, err)
	}
	return rs
}

// adminPair posts the code through the admin API.
func (p *roomsPortal) adminPair(t *testing.T, code, name string) (int, api.Error, api.Room) {
	t.Helper()
	var room api.Room
	status, body, err := p.sess.Do("POST", "/api/v1/rooms/pair", api.PairRequest{Code: code, Name: name}, "", &room)
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	var e api.Error
	if status != 200 {
		json.Unmarshal(body, &e)
	}
	return status, e, room
}

// testRoom plays a room's pairing side with provisioning/pairing over plain HTTP calls; it does
// not verify the portal's TLS certificate here, as a real room cannot yet (the PAKE protects it).
type testRoom struct {
	t    *testing.T
	base string
	hc   *http.Client
	code pairing.Code
	id   string
	rs   *pairing.RoomSession
	key  *ecdsa.PrivateKey
}

func newRoom(t *testing.T, base string, code pairing.Code) *testRoom {
	t.Helper()
	id, err := pairing.NewPairingID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := &testRoom{t: t, base: base, hc: stoatest.InsecureClient(), code: code, id: id, key: key}
	if err := r.hello(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *testRoom) hello() error {
	rs, share, err := pairing.NewRoomSession(r.code, r.id, rand.Reader)
	if err != nil {
		return err
	}
	r.rs = rs
	h := pairing.Hello{PairingID: r.id, Locator: r.code.Locator(), Share: share,
		Room: pairing.RoomInfo{Model: "sim", Firmware: "0.1.0", Serial: "SIM-1", Hostname: "room-sim"}}
	st, body := r.post("/api/v1/pairing/hello", h)
	if st == http.StatusGone {
		var e api.Error
		json.Unmarshal(body, &e)
		return goneError{e.Code}
	}
	if st != http.StatusAccepted {
		return fmt.Errorf("hello: %d %s", st, body)
	}
	return nil
}

// goneError: the portal answered 410, the room must make a new code.
type goneError struct{ code string }

func (e goneError) Error() string { return "gone: " + e.code }

func (r *testRoom) post(path string, in any) (int, []byte) {
	b, _ := json.Marshal(in)
	resp, err := r.hc.Post(r.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// run waits for challenges until paired (the Grant) or refused for good (the 410 code).
func (r *testRoom) run() (pairing.Grant, string, error) {
	for {
		st, body := r.post("/api/v1/pairing/"+r.id+"/wait", struct{}{})
		switch st {
		case http.StatusNoContent:
			continue
		case http.StatusGone:
			var e api.Error
			json.Unmarshal(body, &e)
			return pairing.Grant{}, e.Code, nil
		case http.StatusOK:
		default:
			return pairing.Grant{}, "", fmt.Errorf("wait: %d %s", st, body)
		}
		ch, err := pairing.DecodeChallenge(body)
		if err != nil {
			return pairing.Grant{}, "", err
		}
		confirm, err := r.rs.Respond(ch)
		if errors.Is(err, pairing.ErrWrongCode) {
			// Tell the portal at once, then offer a fresh share for the next attempt.
			if st, body := r.post("/api/v1/pairing/"+r.id+"/confirm", pairing.Confirm{}); st != http.StatusForbidden {
				return pairing.Grant{}, "", fmt.Errorf("empty confirm: %d %s", st, body)
			}
			if err := r.hello(); err != nil {
				var ge goneError
				if errors.As(err, &ge) {
					return pairing.Grant{}, ge.code, nil
				}
				return pairing.Grant{}, "", err
			}
			continue
		}
		if err != nil {
			return pairing.Grant{}, "", err
		}
		// The CSR asks for a name of its own; the portal must ignore it.
		csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil.example"}, DNSNames: []string{"evil.example"}}, r.key)
		sealed, err := r.rs.Seal(pairing.Enrollment{CSRPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
			Room: pairing.RoomInfo{Model: "sim", Firmware: "0.1.0", Serial: "SIM-1", Hostname: "room-sim"}})
		if err != nil {
			return pairing.Grant{}, "", err
		}
		st, body = r.post("/api/v1/pairing/"+r.id+"/confirm", pairing.Confirm{Confirm: confirm, Sealed: sealed})
		if st != http.StatusOK {
			return pairing.Grant{}, "", fmt.Errorf("confirm: %d %s", st, body)
		}
		res, err := pairing.DecodeResult(body)
		if err != nil {
			return pairing.Grant{}, "", err
		}
		var g pairing.Grant
		if err := r.rs.Open(res.Sealed, &g); err != nil {
			return pairing.Grant{}, "", err
		}
		return g, "", nil
	}
}

type runResult struct {
	grant pairing.Grant
	gone  string
	err   error
}

func (r *testRoom) start() <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		g, gone, err := r.run()
		ch <- runResult{g, gone, err}
	}()
	return ch
}

// mgmtClient is the room's management client: its client certificate, and the bundle's
// management pool as the only trust (no system roots).
func (p *roomsPortal) mgmtClient(t *testing.T, g pairing.Grant, key *ecdsa.PrivateKey) *http.Client {
	t.Helper()
	b, err := bundle.Verify(g.Bundle, g.BundleKey)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := b.MgmtPool()
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(g.CertPEM))
	tc := certs.ClientConfig()
	tc.RootCAs = pool
	tc.Certificates = []tls.Certificate{{Certificate: [][]byte{blk.Bytes}, PrivateKey: key}}
	u, _ := url.Parse(g.MgmtURL)
	tc.ServerName = u.Hostname()
	tr := &http.Transport{TLSClientConfig: tc, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", p.internal) // the URL names localhost; the listener is 127.0.0.1
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func poll(c *http.Client, g pairing.Grant, st api.RoomStatus) (int, api.RoomCommand, api.Error, error) {
	b, _ := json.Marshal(st)
	resp, err := c.Post(g.MgmtURL+"/api/v1/room/poll", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, api.RoomCommand{}, api.Error{}, err
	}
	defer resp.Body.Close()
	var cmd api.RoomCommand
	var e api.Error
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		err = json.Unmarshal(body, &cmd)
	} else {
		json.Unmarshal(body, &e)
	}
	return resp.StatusCode, cmd, e, err
}

func newCode(t *testing.T) pairing.Code {
	t.Helper()
	c, err := pairing.NewCode(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode has the same locator as c but other secret digits.
func wrongCode(t *testing.T, c pairing.Code) pairing.Code {
	t.Helper()
	for {
		o := newCode(t)
		w, err := pairing.ParseCode(c.Locator() + string(o)[4:])
		if err == nil && w != c {
			return w
		}
	}
}

// TestRoomPairing drives pairing through the admin API against a room played with
// provisioning/pairing, then the management channel, push and unpair.
func TestRoomPairing(t *testing.T) {
	p := startRoomsPortal(t)
	deviceCA := p.Rooms().DeviceCA()

	code := newCode(t)
	room := newRoom(t, p.base, code)
	res := room.start()
	status, e, paired := p.adminPair(t, code.String(), "Boardroom")
	if status != 200 {
		t.Fatalf("pair: %d %+v", status, e)
	}
	r := <-res
	if r.err != nil || r.gone != "" {
		t.Fatalf("room side: %v %q", r.err, r.gone)
	}
	g := r.grant

	t.Run("grant", func(t *testing.T) {
		b, err := bundle.Verify(g.Bundle, g.BundleKey)
		if err != nil {
			t.Fatalf("bundle from the grant does not verify with the grant's key: %v", err)
		}
		if b.Version < 1 || b.MgmtURL != g.MgmtURL || len(b.PortalRoots) != 1 {
			t.Fatalf("bundle %+v", b)
		}
		// The bundle's portal root verifies what the portal serves on its public port.
		pool, _ := b.PortalPool()
		conn, err := tls.Dial("tcp", p.https, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("portal public HTTPS against the bundle: %v", err)
		}
		conn.Close()
		blk, _ := pem.Decode([]byte(g.CertPEM))
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: deviceCA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("room certificate does not chain to the device CA: %v", err)
		}
		if id, ok := rooms.RoomIDFromCert(cert); !ok || id != g.RoomID || id != paired.ID {
			t.Fatalf("certificate names room %q (%v), grant %q, admin %q", id, ok, g.RoomID, paired.ID)
		}
		if cert.Subject.CommonName == "evil.example" || len(cert.DNSNames) > 0 {
			t.Fatalf("subject taken from the CSR: %v %v", cert.Subject, cert.DNSNames)
		}
		if d := cert.NotAfter.Sub(cert.NotBefore); d < 89*24*time.Hour || d > 91*24*time.Hour {
			t.Fatalf("room certificate lifetime %v, want 90 days", d)
		}
		if g.Name != "Boardroom" || paired.Name != "Boardroom" || paired.Model != "sim" {
			t.Fatalf("grant %q, admin room %+v", g.Name, paired)
		}
	})

	t.Run("used code", func(t *testing.T) {
		if status, e, _ := p.adminPair(t, code.String(), "Again"); status != 404 || e.Code != "pairing.no_room" {
			t.Fatalf("reused code: %d %+v", status, e)
		}
	})

	mc := p.mgmtClient(t, g, room.key)
	b, _ := bundle.Verify(g.Bundle, g.BundleKey)
	t.Run("management poll acknowledges", func(t *testing.T) {
		st := api.RoomStatus{Firmware: "0.1.0", BundleVersion: b.Version, PortalHTTPSTrusted: true}
		status, cmd, e, err := poll(mc, g, st)
		if err != nil || status != 200 || len(cmd.Bundle) != 0 {
			t.Fatalf("poll: %d %+v %v (bundle %d bytes)", status, e, err, len(cmd.Bundle))
		}
		rs := p.rooms(t)
		if len(rs) != 1 || rs[0].BundleVersion != b.Version || rs[0].Firmware != "0.1.0" || !rs[0].Online || !rs[0].PortalHTTPSTrusted {
			t.Fatalf("rooms after poll: %+v", rs)
		}
		// A room behind gets the bundle at once.
		st.BundleVersion = 0
		if status, cmd, _, err := poll(mc, g, st); err != nil || status != 200 || !bytes.Equal(cmd.Bundle, g.Bundle) {
			t.Fatalf("poll from version 0: %d %v", status, err)
		}
	})

	t.Run("push wakes the poll", func(t *testing.T) {
		polled := make(chan api.RoomCommand, 1)
		go func() {
			_, cmd, _, _ := poll(mc, g, api.RoomStatus{Firmware: "0.1.0", BundleVersion: b.Version})
			polled <- cmd
		}()
		var cmd api.RoomCommand
		start := time.Now()
	wait:
		for {
			var pr api.PushResult
			if code := p.post(t, "/api/v1/rooms/push", api.PushRequest{RoomID: g.RoomID}, &pr); code != 200 || pr.Version != b.Version {
				t.Fatalf("push: %d %+v", code, pr)
			}
			select {
			case cmd = <-polled:
				break wait
			case <-time.After(100 * time.Millisecond):
			}
		}
		if len(cmd.Bundle) == 0 || time.Since(start) > 2500*time.Millisecond {
			t.Fatalf("push did not wake the poll with the bundle (after %v)", time.Since(start))
		}
		if status, _, _, err := poll(mc, g, api.RoomStatus{BundleVersion: b.Version}); status != 200 || err != nil {
			t.Fatalf("next poll: %d %v", status, err)
		}
	})

	t.Run("wrong code", func(t *testing.T) {
		code := newCode(t)
		room := newRoom(t, p.base, code)
		res := room.start()
		for i := 1; i <= pairing.MaxFailedAttempts; i++ {
			if status, e, _ := p.adminPair(t, wrongCode(t, code).String(), "Nope"); status != 422 || e.Code != "pairing.wrong_code" {
				t.Fatalf("wrong code attempt %d: %d %+v", i, status, e)
			}
		}
		r := <-res
		if r.err != nil || r.gone != "pairing.burned" {
			t.Fatalf("room after %d wrong codes: %v %q, want 410 pairing.burned", pairing.MaxFailedAttempts, r.err, r.gone)
		}
		if status, e, _ := p.adminPair(t, code.String(), "Late"); status != 404 || e.Code != "pairing.no_room" {
			t.Fatalf("right code after burning: %d %+v", status, e)
		}
		if rs := p.rooms(t); len(rs) != 1 {
			t.Fatalf("failed pairings stored rooms: %+v", rs)
		}
		var audit []api.AuditEntry
		p.sess.Do("GET", "/api/v1/audit?limit=200", nil, "", &audit)
		failed, burned := 0, 0
		for _, a := range audit {
			switch a.Action {
			case "room.pair_failed":
				failed++
			case "room.pair_burned":
				burned++
			}
		}
		if failed < pairing.MaxFailedAttempts || burned != 1 {
			t.Fatalf("audit: %d room.pair_failed, %d room.pair_burned", failed, burned)
		}
	})

	t.Run("busy", func(t *testing.T) {
		code := newCode(t)
		room := newRoom(t, p.base, code) // fetches the challenge, then never answers
		first := make(chan int, 1)
		go func() {
			status, _, _ := p.adminPair(t, code.String(), "First")
			first <- status
		}()
		waitFor(t, "the challenge", func() bool {
			st, _ := room.post("/api/v1/pairing/"+room.id+"/wait", struct{}{})
			return st == 200
		})
		if status, e, _ := p.adminPair(t, code.String(), "Second"); status != 409 || e.Code != "pairing.busy" {
			t.Fatalf("second concurrent pairing: %d %+v, want 409 pairing.busy", status, e)
		}
		if st := <-first; st != http.StatusGatewayTimeout {
			t.Fatalf("first pairing without an answer: %d, want 504", st)
		}
		if rs := p.rooms(t); len(rs) != 1 {
			t.Fatalf("busy pairing stored rooms: %+v", rs)
		}
	})

	t.Run("unpair revokes", func(t *testing.T) {
		polled := make(chan int, 1)
		go func() {
			status, _, _, _ := poll(mc, g, api.RoomStatus{BundleVersion: b.Version})
			polled <- status
		}()
		if code, body, err := p.sess.Do("DELETE", "/api/v1/rooms/"+g.RoomID, nil, "", nil); err != nil || code != 204 {
			t.Fatalf("unpair: %d %s %v", code, body, err)
		}
		// The in-flight poll is woken and refused (or refused at once if it started late).
		if st := <-polled; st != 403 {
			t.Fatalf("in-flight poll at unpair: %d", st)
		}
		status, _, e, err := poll(mc, g, api.RoomStatus{BundleVersion: b.Version})
		if err != nil || status != 403 || e.Code != "room.unpaired" {
			t.Fatalf("poll with the revoked certificate: %d %+v %v", status, e, err)
		}
		if rs := p.rooms(t); len(rs) != 0 {
			t.Fatalf("rooms after unpair: %+v", rs)
		}
	})

	t.Run("expired", func(t *testing.T) {
		code := newCode(t)
		room := newRoom(t, p.base, code)
		p.clock.Advance(pairing.CodeLifetime + time.Minute)
		if status, e, _ := p.adminPair(t, code.String(), "Late"); status != 410 || e.Code != "pairing.expired" {
			t.Fatalf("expired code: %d %+v", status, e)
		}
		if _, gone, err := room.run(); err != nil || gone != "pairing.expired" {
			t.Fatalf("room's wait on an expired code: %q %v", gone, err)
		}
		if rs := p.rooms(t); len(rs) != 0 {
			t.Fatalf("expired pairing stored rooms: %+v", rs)
		}
	})
}

// roomAgent is the room's management loop: poll, store any bundle through bundle.Store (which
// verifies it), acknowledge it with the next poll.
func roomAgent(ctx context.Context, c *http.Client, g pairing.Grant, st *bundle.Store) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			b, err := st.Load()
			if err != nil {
				return
			}
			body, _ := json.Marshal(api.RoomStatus{Firmware: "0.1.0", BundleVersion: b.Version})
			req, _ := http.NewRequestWithContext(ctx, "POST", g.MgmtURL+"/api/v1/room/poll", bytes.NewReader(body))
			resp, err := c.Do(req)
			if err != nil {
				continue
			}
			var cmd api.RoomCommand
			json.NewDecoder(resp.Body).Decode(&cmd)
			resp.Body.Close()
			if len(cmd.Bundle) > 0 {
				st.Save(cmd.Bundle)
			}
		}
	}()
	return done
}

// stageFromNewCA runs the Security page's CSR flow with a certificate from a fresh CA (root +
// issuing intermediate), staged but not active.
func stageFromNewCA(t *testing.T, p *roomsPortal, name string) (*x509.Certificate, *testpki.CA) {
	t.Helper()
	if code := p.post(t, "/api/v1/security/key", api.KeyRequest{Algorithm: "ecdsa-p256"}, nil); code != 200 {
		t.Fatalf("key: %d", code)
	}
	var csr api.CSRResponse
	if code := p.post(t, "/api/v1/security/csr", api.CSRRequest{}, &csr); code != 200 {
		t.Fatalf("csr: %d", code)
	}
	root := testpki.NewCA(t, name+" Root")
	inter := root.Intermediate(t, name+" Issuing CA")
	leaf := signCSR(t, inter, csr.CSRPEM, time.Now().Add(90*24*time.Hour))
	if code, e, _ := p.upload(t, "/api/v1/security/upload", testpki.CertPEM(leaf), [][]byte{testpki.CertPEM(inter.Cert), testpki.CertPEM(root.Cert)}, nil, ""); code != 200 {
		t.Fatalf("upload: %d %+v", code, e)
	}
	return leaf, root
}

// trusts reports whether a room holding st verifies the portal's public HTTPS now.
func trusts(p *roomsPortal, st *bundle.Store) bool {
	b, err := st.Load()
	if err != nil {
		return false
	}
	pool, err := b.PortalPool()
	if err != nil {
		return false
	}
	conn, err := tls.Dial("tcp", p.https, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func TestRoomRotation(t *testing.T) {
	p := startRoomsPortal(t)
	code := newCode(t)
	room := newRoom(t, p.base, code)
	res := room.start()
	if status, e, _ := p.adminPair(t, code.String(), "Lobby"); status != 200 {
		t.Fatalf("pair: %d %+v", status, e)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	g := r.grant
	st := &bundle.Store{Dir: t.TempDir(), Pub: g.BundleKey}
	if _, err := st.Save(g.Bundle); err != nil {
		t.Fatal(err)
	}
	mc := p.mgmtClient(t, g, room.key)
	activate := func(req api.ActivateRequest) (int, api.Error) {
		code, body, err := p.sess.Do("POST", "/api/v1/security/activate", req, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		json.Unmarshal(body, &e)
		return code, e
	}

	t.Run("connected room acknowledges, then the certificate activates", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := roomAgent(ctx, mc, g, st)
		defer func() { cancel(); <-done }()
		leaf, _ := stageFromNewCA(t, p, "Rotation One")
		if code, e := activate(api.ActivateRequest{WaitSeconds: 15}); code != 200 {
			t.Fatalf("activate: %d %+v", code, e)
		}
		if p.serial(t) != leaf.SerialNumber.Text(16) {
			t.Fatal("new certificate not served after activation")
		}
		b, _ := st.Load()
		if len(b.PortalRoots) != 2 || !trusts(p, st) {
			t.Fatalf("room holds v%d with %d roots; trusts the new certificate: %v", b.Version, len(b.PortalRoots), trusts(p, st))
		}
	})

	t.Run("offline room: 409 lists it, force activates, it catches up", func(t *testing.T) {
		before := p.serial(t)
		leaf, _ := stageFromNewCA(t, p, "Rotation Two")
		code, e := activate(api.ActivateRequest{WaitSeconds: 1})
		if code != 409 || e.Code != "rotation.pending" || !bytes.Contains([]byte(e.Message), []byte(g.RoomID)) {
			t.Fatalf("activate with the room offline: %d %+v", code, e)
		}
		if p.serial(t) != before {
			t.Fatal("a pending rotation changed the served certificate")
		}
		if trusts(p, st) != true {
			t.Fatal("the old certificate should still verify for the offline room")
		}
		if code, e := activate(api.ActivateRequest{Force: true}); code != 200 {
			t.Fatalf("forced activation: %d %+v", code, e)
		}
		if p.serial(t) != leaf.SerialNumber.Text(16) || trusts(p, st) {
			t.Fatal("after force the new certificate must serve, untrusted by the stale room")
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := roomAgent(ctx, mc, g, st)
		defer func() { cancel(); <-done }()
		waitFor(t, "the returning room to trust the new certificate", func() bool { return trusts(p, st) })
		cur, _ := st.Load()
		waitFor(t, "the acknowledgement", func() bool { rs := p.rooms(t); return len(rs) == 1 && rs[0].BundleVersion == cur.Version })
	})

	t.Run("prune roots", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := roomAgent(ctx, mc, g, st)
		defer func() { cancel(); <-done }()
		var pr api.PushResult
		if code := p.post(t, "/api/v1/rooms/prune-roots", nil, &pr); code != 200 || len(pr.Rooms) != 1 || !pr.Rooms[0].Acked {
			t.Fatalf("prune: %d %+v", code, pr)
		}
		b, _ := st.Load()
		if b.Version != pr.Version || len(b.PortalRoots) != 1 || !trusts(p, st) {
			t.Fatalf("after prune the room holds v%d with %d roots", b.Version, len(b.PortalRoots))
		}
	})
}
