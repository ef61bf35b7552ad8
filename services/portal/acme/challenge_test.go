package acme_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/acme"
)

func TestIsACMEHello(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hello *tls.ClientHelloInfo
		want  bool
	}{
		{"nil", nil, false},
		{"no ALPN", &tls.ClientHelloInfo{}, false},
		{"browser", &tls.ClientHelloInfo{SupportedProtos: []string{"h2", "http/1.1"}}, false},
		{"CA validation", &tls.ClientHelloInfo{SupportedProtos: []string{"acme-tls/1"}}, true},
		{"mixed", &tls.ClientHelloInfo{SupportedProtos: []string{"http/1.1", "acme-tls/1"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := acme.IsACMEHello(tc.hello); got != tc.want {
				t.Fatalf("IsACMEHello = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHTTPHandlerRouting(t *testing.T) {
	c := acme.New(acme.Config{FQDN: "portal.stoa.test"}, newSettings(t), testLogger(t))
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	h := c.HTTPHandler(fallback)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusTeapot},
		{http.MethodGet, "/login", http.StatusTeapot},
		{http.MethodGet, "/.well-known/other", http.StatusTeapot},
		{http.MethodGet, "/.well-known/acme-challenge/unknownToken", http.StatusNotFound},
		{http.MethodGet, "/.well-known/acme-challenge/", http.StatusNotFound},
		{http.MethodGet, "/.well-known/acme-challenge/../../etc/passwd", http.StatusNotFound},
		{http.MethodPost, "/.well-known/acme-challenge/abc", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestTLSConfigKeepsBase(t *testing.T) {
	c := acme.New(acme.Config{FQDN: "portal.stoa.test"}, newSettings(t), testLogger(t))
	holder := &certs.Holder{}
	own := selfSigned(t, "portal.stoa.test")
	holder.Set(&own)
	base := certs.ServerConfig(holder)
	cfg := c.TLSConfig(base)
	if !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1", acme.ALPNProto}) {
		t.Fatalf("NextProtos = %v", cfg.NextProtos)
	}
	if !slices.Equal(base.NextProtos, []string{"h2", "http/1.1"}) {
		t.Fatalf("base NextProtos changed to %v", base.NextProtos)
	}
	if cfg.MinVersion != tls.VersionTLS12 || !slices.Equal(cfg.CipherSuites, certs.AEADSuites) {
		t.Fatal("TLS policy of the base config lost")
	}
	got, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "portal.stoa.test", SupportedProtos: []string{"h2"}})
	if err != nil || got != &own {
		t.Fatalf("browser hello got %v, %v; want the portal's certificate", got, err)
	}
	if _, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "portal.stoa.test", SupportedProtos: []string{acme.ALPNProto}}); err == nil {
		t.Fatal("ACME hello without a pending challenge got a certificate")
	}
}
