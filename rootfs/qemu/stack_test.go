package qemu

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/siteconfig"
)

// TestDevConfigNamesDevPortal: the dev image (make qemu) knows the portal by the name make
// run gives it, and maps that name to the forwarded address.
func TestDevConfigNamesDevPortal(t *testing.T) {
	f, err := os.Open("stoa-config.dev.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	site, err := siteconfig.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(site.PortalURL)
	if err != nil || u.Hostname() != DevPortalName || u.Port() != "" {
		t.Errorf("dev portal_url %q, want https://%s (port 443, forwarded)", site.PortalURL, DevPortalName)
	}
	var mapped bool
	for _, h := range site.Hosts {
		mapped = mapped || (h.Name == DevPortalName && h.Address == GuestPortal)
	}
	if !mapped {
		t.Errorf("dev hosts %+v do not map %s to %s", site.Hosts, DevPortalName, GuestPortal)
	}
}

func TestParseStack(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
		want              Stack
	}{
		{name: "make run", in: `{"portal_url": "https://portal.stoa.localhost:8443", "portal_https": "127.0.0.1:8443",
			"portal_http": "127.0.0.1:8080", "portal_internal": "127.0.0.1:8447", "manager": "127.0.0.1:8444"}`,
			want: Stack{PortalURL: "https://portal.stoa.localhost:8443", PortalHTTPS: "127.0.0.1:8443", PortalInternal: "127.0.0.1:8447"}},
		{name: "not json", in: `portal`, wantErr: "decode addresses.json"},
		{name: "components only", in: `{"manager": "127.0.0.1:8444"}`, wantErr: "portal_https"},
		{name: "no internal", in: `{"portal_url": "https://p:1", "portal_https": "127.0.0.1:1"}`, wantErr: "portal_internal"},
		{name: "plain url", in: `{"portal_url": "http://p:1", "portal_https": "127.0.0.1:1", "portal_internal": "127.0.0.1:2"}`, wantErr: "not an https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStack([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseStack(f *testing.F) {
	f.Add([]byte(`{"portal_url": "https://portal.stoa.localhost:8443", "portal_https": "127.0.0.1:8443", "portal_internal": "127.0.0.1:8447"}`))
	f.Add([]byte(`{"portal_url": "https://[::1", "portal_https": ":", "portal_internal": "x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStack(b)
		if err != nil {
			return
		}
		if s.PortalName() == "" {
			t.Fatalf("accepted %q without a portal name", b)
		}
		if _, err := s.DevForwards(DefaultTURNTCP); err != nil && strings.EqualFold(s.PortalName(), DevPortalName) {
			t.Fatalf("dev-named stack refused: %v", err)
		}
	})
}

func TestReadStackNoStack(t *testing.T) {
	_, err := ReadStack(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "start `make run`") {
		t.Fatalf("err %v, want a hint to start make run", err)
	}
}

func TestDevForwards(t *testing.T) {
	st := Stack{PortalURL: "https://" + DevPortalName + ":8443", PortalHTTPS: "127.0.0.1:8443", PortalInternal: "127.0.0.1:8447"}
	fw, err := st.DevForwards("127.0.0.1:3478")
	if err != nil {
		t.Fatal(err)
	}
	want := []Forward{
		{Guest: "10.0.2.100:443", Host: "127.0.0.1:8443"},
		{Guest: "10.0.2.100:8443", Host: "127.0.0.1:8443"},
		{Guest: "10.0.2.100:8447", Host: "127.0.0.1:8447"},
		{Guest: "10.0.2.100:3478", Host: "127.0.0.1:3478"},
	}
	if !reflect.DeepEqual(fw, want) {
		t.Fatalf("forwards %+v, want %+v", fw, want)
	}
	st.PortalURL = "https://localhost:8443"
	if _, err := st.DevForwards("127.0.0.1:3478"); err == nil || !strings.Contains(err.Error(), "FQDN="+DevPortalName) {
		t.Fatalf("a localhost stack: err %v, want the FQDN hint", err)
	}
}

// TestCheckStack serves a TLS portal with certificates for different names and checks that
// only the one naming DevPortalName passes, and that a stopped stack is reported as such.
func TestCheckStack(t *testing.T) {
	for _, tc := range []struct {
		name, certName, wantErr string
		stopped                 bool
	}{
		{name: "dev name", certName: DevPortalName},
		{name: "localhost cert", certName: "localhost", wantErr: "does not name " + DevPortalName},
		{name: "stack stopped", certName: DevPortalName, stopped: true, wantErr: "is `make run` running?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t, tc.certName)}})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
				}
			}()
			addr := ln.Addr().String()
			if tc.stopped {
				ln.Close()
			} else {
				defer ln.Close()
			}
			st := Stack{PortalURL: "https://" + DevPortalName, PortalHTTPS: addr, PortalInternal: addr}
			fw, err := st.DevForwards(addr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = st.CheckStack(ctx, fw)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
