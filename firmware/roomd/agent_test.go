package roomd

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/board/sim"
	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
)

type runningAgent struct {
	*Agent
	display *sim.Display
	dir     string
	codes   chan string
	done    chan error
}

func startAgent(t *testing.T, portalURL string) *runningAgent {
	t.Helper()
	dir := t.TempDir()
	cfg := Defaults()
	cfg.DataDir, cfg.PortalURL, cfg.Discover = dir, portalURL, false
	cfg.Firmware = "test-1"
	d := &sim.Display{}
	codes := make(chan string, 100)
	a, err := NewAgent(Options{Config: cfg, Display: d, OnCode: func(c string) { codes <- c },
		Log:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Room: pairing.RoomInfo{Model: "sim", Hostname: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, display: d, dir: dir, codes: codes, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ra.done:
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop within 10 s")
		}
	})
	return ra
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (ra *runningAgent) code(t *testing.T) string {
	t.Helper()
	select {
	case c := <-ra.codes:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no pairing code within 10 s")
		return ""
	}
}

// wrongCode keeps the locator (so the portal finds the room) but changes the secret digits.
func wrongCode(t *testing.T, code string) string {
	t.Helper()
	c, err := pairing.ParseCode(code)
	if err != nil {
		t.Fatal(err)
	}
	for _, tail := range []string{"73918264", "28461937"} {
		if w := c.Locator() + tail; w != string(c) {
			return w
		}
	}
	t.Fatal("no wrong code")
	return ""
}

func TestAgentPairsManagesAndIsUnpaired(t *testing.T) {
	p := newTestPortal(t)
	ra := startAgent(t, p.URL())
	code := ra.code(t)
	if s := ra.display.Last(); s.Title != "Pair this room" || s.Code != code || s.QR != p.URL()+"/rooms.html" {
		t.Fatalf("display shows %+v, want the code %s", s, code)
	}
	if s := ra.Status(); s.State != StateUnpaired || s.Code != code || s.PortalURL != p.URL() {
		t.Fatalf("status %+v", s)
	}
	// A wrong code fails on both sides, counts one failure and changes nothing stored.
	firstShare := p.share(t)
	if err := p.pair(wrongCode(t, code)); err == nil {
		t.Fatal("pairing with a wrong code succeeded")
	}
	waitFor(t, "room back to waiting with the same code", func() bool {
		s := ra.Status()
		return s.State == StateUnpaired && s.Code == code && strings.Contains(s.LastError, "wrong code")
	})
	if _, err := os.Stat(filepath.Join(ra.dir, roomFile)); !os.IsNotExist(err) {
		t.Fatalf("room.json after a failed attempt: %v", err)
	}

	// The room greets the portal again with a fresh share before the next attempt can work.
	waitFor(t, "a fresh hello", func() bool { return string(p.share(t)) != string(firstShare) })
	if err := p.pair(code); err != nil {
		t.Fatalf("pair: %v", err)
	}
	waitFor(t, "room paired and online", func() bool { s := ra.Status(); return s.State == StatePaired && s.Online })
	s := ra.Status()
	if s.RoomID != "room1" || s.Name != "Boardroom" || s.Code != "" || s.CertNotAfter.IsZero() {
		t.Fatalf("paired status %+v", s)
	}
	for name, perm := range map[string]os.FileMode{keyFile: 0o600, certFile: 0o644, deviceCAFile: 0o644, bundleKeyFile: 0o644, roomFile: 0o644, bundle.CurrentFile: 0o644} {
		fi, err := os.Stat(filepath.Join(ra.dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == keyFile && fi.Mode().Perm() != perm {
			t.Fatalf("%s mode %v, want %v", name, fi.Mode().Perm(), perm)
		}
	}
	waitFor(t, "status reported to the portal", func() bool {
		st, ok := p.status("room1")
		return ok && st.BundleVersion == 1 && st.PortalHTTPSTrusted && st.Firmware == "test-1"
	})
	// The firmware's capabilities (e2ee with cgo, capabilities.go) reach the portal.
	if st, _ := p.status("room1"); !slices.Equal(st.Capabilities, capabilities()) {
		t.Fatalf("status capabilities %q, want %q", st.Capabilities, capabilities())
	}

	// A pushed newer bundle is stored and acknowledged by the next poll.
	p.mu.Lock()
	p.pushes["room1"] = p.signBundle(2)
	p.mu.Unlock()
	waitFor(t, "bundle v2 acknowledged", func() bool { st, _ := p.status("room1"); return st.BundleVersion == 2 })
	if ra.Status().BundleVersion != 2 {
		t.Fatalf("status bundle version %d, want 2", ra.Status().BundleVersion)
	}

	// Refused bundles: not stored, not acknowledged.
	_, otherKey, _ := ed25519GenerateKey()
	refused := map[string][]byte{"older": p.signBundle(1), "garbage": []byte(`{"payload":"AAAA","signature":"AAAA"}`)}
	good := p.bundleKey
	p.bundleKey = otherKey
	refused["bad signature"] = p.signBundle(3)
	p.bundleKey = good
	for name, env := range refused {
		t.Run("refuse "+name, func(t *testing.T) {
			ra.setStatus(func(s *Status) { s.LastError = "" })
			p.mu.Lock()
			p.pushes["room1"] = env
			p.mu.Unlock()
			waitFor(t, "refusal", func() bool { return strings.Contains(ra.Status().LastError, "refused pushed bundle") })
			b, err := (&bundle.Store{Dir: ra.dir, Pub: good.Public().(ed25519PublicKey)}).Load()
			if err != nil || b.Version != 2 {
				t.Fatalf("stored bundle v%d (%v), want v2", b.Version, err)
			}
			if st, _ := p.status("room1"); st.BundleVersion != 2 {
				t.Fatalf("portal sees v%d, want 2", st.BundleVersion)
			}
		})
	}

	// The portal unpairs the room: it forgets everything and shows a new code.
	p.mu.Lock()
	p.revoked["room1"] = true
	p.mu.Unlock()
	next := ra.code(t)
	if next == code {
		t.Fatal("the same code was shown again after unpair")
	}
	waitFor(t, "unpaired with the new code", func() bool { s := ra.Status(); return s.State == StateUnpaired && s.Code == next })
	for _, f := range []string{roomFile, keyFile, certFile, bundle.CurrentFile} {
		if _, err := os.Stat(filepath.Join(ra.dir, f)); !os.IsNotExist(err) {
			t.Fatalf("%s still there after unpair: %v", f, err)
		}
	}
}

func TestAgentRenewsCertificate(t *testing.T) {
	p := newTestPortal(t)
	p.firstValid = 10 * 24 * time.Hour // of 90 days: less than a third left
	ra := startAgent(t, p.URL())
	if err := p.pair(ra.code(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "renewal", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.renewals == 1 })
	waitFor(t, "renewed cert reported", func() bool {
		st, _ := p.status("room1")
		return time.Until(st.CertNotAfter) > 80*24*time.Hour
	})
	id, err := loadIdentity(ra.dir)
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(id.Cert.NotAfter) < 80*24*time.Hour {
		t.Fatalf("stored cert expires %s, want the renewed one", id.Cert.NotAfter)
	}
	p.mu.Lock()
	n := p.renewals
	p.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d renewals, want exactly 1", n)
	}
}

func TestAgentLocalUnpairAndManualPortal(t *testing.T) {
	p := newTestPortal(t)
	ra := startAgent(t, "")
	if err := ra.Unpair(); err == nil {
		t.Fatal("Unpair of an unpaired room succeeded")
	}
	waitFor(t, "waiting for a portal", func() bool {
		return strings.Contains(strings.Join(ra.display.Last().Lines, "\n"), "Looking for the portal")
	})
	if err := ra.Pair("http://insecure.example"); err == nil {
		t.Fatal("Pair accepted an http URL")
	}
	if err := ra.Pair(p.URL()); err != nil {
		t.Fatal(err)
	}
	if err := p.pair(ra.code(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "paired", func() bool { return ra.Status().State == StatePaired })
	if err := ra.Pair(p.URL()); err != ErrAlreadyPaired {
		t.Fatalf("Pair while paired: %v, want ErrAlreadyPaired", err)
	}
	if err := ra.Unpair(); err != nil {
		t.Fatal(err)
	}
	ra.code(t)
	waitFor(t, "portal told about the unpair", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.revoked["room1"] })
	if _, err := os.Stat(filepath.Join(ra.dir, roomFile)); !os.IsNotExist(err) {
		t.Fatalf("room.json after unpair: %v", err)
	}
}
