package acme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzParseAccountKey(f *testing.F) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := marshalKey(p256)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	derRSA, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	for _, seed := range [][]byte{
		good,
		append(append([]byte{}, good...), good...),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: derRSA}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		[]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		nil,
		[]byte("garbage"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseAccountKey(b)
		if err != nil {
			return
		}
		if k.Curve != elliptic.P256() {
			t.Fatalf("accepted a %s key", k.Curve.Params().Name)
		}
		again, err := marshalKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseAccountKey(again); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseIssued(f *testing.F) {
	f.Add([]byte(`{"fqdn":"a.b","sha256":"` + strings.Repeat("ab", 32) + `","not_before":"2024-01-01T00:00:00Z","not_after":"2024-04-01T00:00:00Z","issued_at":"2024-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"sha256":"zz"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseIssued(b)
		if err == nil && len(rec.SHA256) != 64 {
			t.Fatalf("accepted fingerprint %q", rec.SHA256)
		}
	})
}

func FuzzHTTPHandler(f *testing.F) {
	for _, s := range []string{"/", "/.well-known/acme-challenge/", "/.well-known/acme-challenge/tok_-en",
		"/.well-known/acme-challenge/a/b", "/.well-known/acme-challenge/%00", "/x?y=z"} {
		f.Add(s)
	}
	c := New(Config{FQDN: "portal.stoa.test"}, nil, nil)
	c.httpTokens["tok_-en"] = "tok_-en.thumbprint"
	h := c.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	f.Fuzz(func(t *testing.T, path string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK && (path != "/.well-known/acme-challenge/tok_-en" || rec.Body.String() != "tok_-en.thumbprint") {
			t.Fatalf("path %q answered 200 with %q", path, rec.Body.String())
		}
		if rec.Code == http.StatusTeapot && strings.HasPrefix(path, httpChallengePrefix) {
			t.Fatalf("challenge path %q went to the fallback", path)
		}
	})
}

func FuzzCheckFQDN(f *testing.F) {
	for _, s := range []string{"portal.example.com", "a.b", "localhost", "*.a.b", "1.2.3.4", "a..b", "-a.b", "xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkFQDN(name) != nil {
			return
		}
		if strings.ContainsAny(name, "*/: ") || !strings.Contains(name, ".") || len(name) > 253 {
			t.Fatalf("accepted %q", name)
		}
	})
}
