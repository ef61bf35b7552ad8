package acme_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/services/portal/acme"
)

// fakeClock is the renewer's injected clock and timer: Now is set by the test, and every wait
// Run asks for is handed to the test, which decides when it fires. Nothing sleeps.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
}

type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waits: make(chan fakeWait, 16)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	w := fakeWait{d: d, fire: make(chan time.Time, 1)}
	f.waits <- w
	return w.fire
}

// nextWait returns the next wait Run asks for, failing if none comes within the deadline.
func (f *fakeClock) nextWait(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-f.waits:
		return w
	case <-time.After(20 * time.Second):
		t.Fatal("renewer asked for no wait")
		return fakeWait{}
	}
}

// installed is the portal side of Run: the active certificate, swapped by install.
type installed struct {
	mu    sync.Mutex
	leaf  *x509.Certificate
	count int
}

func (in *installed) current() *x509.Certificate {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.leaf
}

func (in *installed) install(certPEM, keyPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.leaf = pair.Leaf
	in.count++
	return nil
}

func runRenewer(t *testing.T, c *acme.Client, in *installed) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, in.current, in.install) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestRunInstallsAndRenewsAtTwoThirds(t *testing.T) {
	const lifetime = 6 * time.Hour
	e := startPebble(t, lifetime)
	clock := newFakeClock(time.Now())
	s := newSettings(t)
	c := acme.New(acme.Config{
		DirectoryURL: e.DirectoryURL, FQDN: "renew.stoa.test", Roots: e.WFERoots,
		PollInterval: 20 * time.Millisecond, Now: clock.Now, After: clock.After,
	}, s, testLogger(t))
	e.answer(c)

	// A self-signed certificate for the same name is not ACME-issued: Run replaces it at once.
	self := selfSigned(t, "renew.stoa.test")
	in := &installed{leaf: self.Leaf}
	stop := runRenewer(t, c, in)

	w := clock.nextWait(t)
	first := in.current()
	if in.count != 1 || first == self.Leaf {
		t.Fatalf("after first pass: %d installs, want 1 replacing the self-signed certificate", in.count)
	}
	checkLeafRoot(t, e, first)
	wantRenew := first.NotBefore.Add(first.NotAfter.Sub(first.NotBefore) * 2 / 3)
	st := c.State()
	if st.LastError != "" || !st.LastIssued.Equal(clock.Now()) {
		t.Fatalf("state after issuance = %+v", st)
	}
	if d := st.NextRenewal.Sub(wantRenew); d < -time.Second || d > time.Second {
		t.Fatalf("NextRenewal = %v, want 2/3 of the lifetime: %v", st.NextRenewal, wantRenew)
	}
	if want := wantRenew.Sub(clock.Now()); w.d < want-time.Second || w.d > want+time.Second {
		t.Fatalf("renewer waits %v, want %v", w.d, want)
	}

	// Waking up early (the periodic re-check) changes nothing.
	clock.Set(wantRenew.Add(-time.Minute))
	w.fire <- clock.Now()
	w = clock.nextWait(t)
	if in.count != 1 || w.d > time.Minute+time.Second {
		t.Fatalf("early wake-up: %d installs, next wait %v; want no renewal, wait ~1m", in.count, w.d)
	}

	// Past 2/3 of the lifetime: a new certificate replaces the first.
	clock.Set(wantRenew.Add(time.Second))
	w.fire <- clock.Now()
	clock.nextWait(t)
	second := in.current()
	if in.count != 2 || second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("after renewal time: %d installs; want a second, different certificate", in.count)
	}
	checkLeafRoot(t, e, second)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}

	// A restarted renewer recognises its own certificate from the stored record.
	clock2 := newFakeClock(clock.Now())
	c2 := acme.New(acme.Config{
		DirectoryURL: e.DirectoryURL, FQDN: "renew.stoa.test", Roots: e.WFERoots,
		PollInterval: 20 * time.Millisecond, Now: clock2.Now, After: clock2.After,
	}, s, testLogger(t))
	runRenewer(t, c2, in)
	clock2.nextWait(t)
	if in.count != 2 || c2.State().LastIssued.IsZero() {
		t.Fatalf("restarted renewer: %d installs, state %+v; want no new issuance and LastIssued known", in.count, c2.State())
	}
}

func checkLeafRoot(t *testing.T, e *pebbleEnv, leaf *x509.Certificate) {
	t.Helper()
	inter := x509.NewCertPool()
	inter.AddCert(e.CA.GetIntermediateCert(0).Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: e.rootPool(), Intermediates: inter, DNSName: "renew.stoa.test"}); err != nil {
		t.Fatalf("installed leaf does not verify: %v", err)
	}
}

func TestRunBacksOffOnFailure(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens here any more: the directory is unreachable
	clock := newFakeClock(time.Now())
	s := newSettings(t)
	c := acme.New(acme.Config{
		DirectoryURL: "https://" + addr + "/dir", FQDN: "down.stoa.test",
		Now: clock.Now, After: clock.After,
	}, s, testLogger(t))
	in := &installed{}
	stop := runRenewer(t, c, in)

	var prev time.Duration
	for i := range 12 {
		w := clock.nextWait(t)
		st := c.State()
		if !strings.Contains(st.LastError, "directory unreachable") || !strings.Contains(st.LastError, addr) {
			t.Fatalf("attempt %d: LastError = %q, want it to name the unreachable directory", i, st.LastError)
		}
		if w.d < 30*time.Second || w.d > 6*time.Hour {
			t.Fatalf("attempt %d: retry in %v, want within [30s, 6h]", i, w.d)
		}
		if i < 8 && w.d < prev {
			t.Fatalf("attempt %d: retry in %v after %v, want growing backoff", i, w.d, prev)
		}
		if !st.NextRenewal.Equal(clock.Now().Add(w.d)) {
			t.Fatalf("attempt %d: NextRenewal %v, want now+%v", i, st.NextRenewal, w.d)
		}
		prev = w.d
		w.fire <- clock.Now()
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	if in.count != 0 {
		t.Fatalf("installed %d certificates from an unreachable CA", in.count)
	}
	if _, err := s.Setting(context.Background(), acme.SettingAccountKey); err == nil {
		t.Fatal("account key stored although no CA was reached")
	}
}
