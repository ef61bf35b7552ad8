package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/firmware/roomd"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/stoatest"
	"github.com/stoa-rooms/stoa/test/testpki"
)

// pairRoom pairs a running roomd through the portal API and waits until it is online.
func pairRoom(t *testing.T, sess *stoatest.Session, room *roomProc, name string) api.Room {
	t.Helper()
	st := room.waitStatus(t, "a pairing code", 30*time.Second, func(s roomd.Status) bool { return s.Code != "" })
	var paired api.Room
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: st.Code, Name: name}, "", &paired)
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pair: %d %v %s", code, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	room.waitStatus(t, "paired and online", 10*time.Second, func(s roomd.Status) bool { return s.State == roomd.StatePaired && s.Online })
	return paired
}

// stageFromNewCA uploads a certificate for localhost from a brand-new CA (root + intermediate)
// and returns its root and leaf.
func stageFromNewCA(t *testing.T, sess *stoatest.Session, name string) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	ca := testpki.NewCA(t, name)
	inter := ca.Intermediate(t, name+" Issuing")
	leaf := inter.Leaf(t, testpki.LeafOptions{DNS: []string{"localhost"}})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for field, b := range map[string][]byte{
		"certificate": testpki.CertPEM(leaf.Cert),
		"chain":       testpki.CertPEM(inter.Cert, ca.Cert),
		"key":         testpki.KeyPEM(t, leaf.Key),
	} {
		w, _ := mw.CreateFormFile(field, field+".pem")
		w.Write(b)
	}
	mw.Close()
	if code, body, err := sess.Do(http.MethodPost, "/api/v1/security/upload", buf.Bytes(), mw.FormDataContentType(), nil); err != nil || code != 200 {
		t.Fatalf("upload: %d %s %v", code, body, err)
	}
	return ca.Cert, leaf.Cert
}

// roomTrusts waits until roomd reports, through the portal, a poll made after since in which it
// verified the portal's public HTTPS against its bundle (version minBundle or later). The portal
// ends every room's long-poll when its certificate changes, so that report comes at once.
func roomTrusts(t *testing.T, sess *stoatest.Session, id string, minBundle uint64, since time.Time) api.Room {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		for _, r := range listRooms(t, sess) {
			if r.ID == id && r.BundleVersion >= minBundle && r.PortalHTTPSTrusted && r.Online && r.LastSeen.After(since) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s never reported bundle >= %d with the portal trusted: %+v", id, minBundle, listRooms(t, sess))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRotationWithRealRoom: a super admin installs a certificate from a CA the room has never
// seen. Connected, the room takes the bundle with old and new roots before the portal switches,
// stays online throughout and trusts the new certificate. Offline, activation waits for it
// (409 naming it) unless forced; back online it picks up the bundle and trusts the portal.
func TestRotationWithRealRoom(t *testing.T) {
	stack := stoatest.Start(t, stoatest.Options{})
	sess := stack.Login(t)
	roomdBin, roomctlBin := buildRoom(t)
	dir := t.TempDir()
	room := startRoomdIn(t, dir, roomdBin, roomctlBin, stack.PortalURL)
	paired := pairRoom(t, sess, room, "Boardroom")
	before := roomTrusts(t, sess, paired.ID, 1, time.Time{})

	t.Run("connected", func(t *testing.T) {
		root, leaf := stageFromNewCA(t, sess, "Rotation CA One")
		// Watch the room while the portal rotates: it must never drop its management channel.
		var offline atomic.Int64
		stop := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if s, err := room.status(t); err == nil && !s.Online {
					offline.Add(1)
				}
			}
		}()
		var st api.SecurityState
		code, body, err := sess.Do(http.MethodPost, "/api/v1/security/activate", api.ActivateRequest{WaitSeconds: 30}, "", &st)
		activated := time.Now()
		close(stop)
		<-watched
		if err != nil || code != 200 {
			t.Fatalf("activate: %d %s %v", code, body, err)
		}
		if got := servedSerial(t, stack.PortalHost); got != leaf.SerialNumber.Text(16) {
			t.Fatalf("portal serves %s, want the new %s", got, leaf.SerialNumber.Text(16))
		}
		if n := offline.Load(); n != 0 {
			t.Fatalf("the room reported itself offline %d times during rotation", n)
		}
		after := roomTrusts(t, sess, paired.ID, before.BundleVersion+1, activated)
		// The portal's HTTPS verifies with only the new root — what the room now holds.
		pool := x509.NewCertPool()
		pool.AddCert(root)
		c, err := tls.Dial("tcp", stack.PortalHost, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("new chain does not verify: %v", err)
		}
		c.Close()
		before = after
	})

	t.Run("offline", func(t *testing.T) {
		room.stop(t)
		_, leaf := stageFromNewCA(t, sess, "Rotation CA Two")
		code, body, err := sess.Do(http.MethodPost, "/api/v1/security/activate", api.ActivateRequest{WaitSeconds: 2}, "", nil)
		if err != nil || code != http.StatusConflict || !strings.Contains(string(body), "rotation.pending") || !strings.Contains(string(body), paired.ID) {
			t.Fatalf("activate with the room offline: %d %s %v, want 409 rotation.pending naming the room", code, body, err)
		}
		if servedSerial(t, stack.PortalHost) == leaf.SerialNumber.Text(16) {
			t.Fatal("the new certificate is served although the room has not acknowledged")
		}
		if code, body, err := sess.Do(http.MethodPost, "/api/v1/security/activate", api.ActivateRequest{Force: true}, "", nil); err != nil || code != 200 {
			t.Fatalf("forced activate: %d %s %v", code, body, err)
		}
		if got := servedSerial(t, stack.PortalHost); got != leaf.SerialNumber.Text(16) {
			t.Fatalf("after force the portal serves %s, want %s", got, leaf.SerialNumber.Text(16))
		}
		// The room comes back on its stored identity and catches up.
		room = startRoomdIn(t, dir, roomdBin, roomctlBin, stack.PortalURL)
		restarted := time.Now()
		room.waitStatus(t, "reconnected", 30*time.Second, func(s roomd.Status) bool { return s.State == roomd.StatePaired && s.Online })
		roomTrusts(t, sess, paired.ID, before.BundleVersion+1, restarted)
	})
}
