package auth

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"

	"github.com/stoa-rooms/stoa/services/portal/store"
)

func TestCrossSiteRequestsRefused(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("alice", store.RoleUser, userPW)
	c := e.client()
	me := e.login(c, "alice", userPW)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    map[string]string
		want   int
	}{
		{"login from another site", http.MethodPost, "/api/v1/login", loginBody("alice", userPW), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"login from a sibling site", http.MethodPost, "/api/v1/login", loginBody("alice", userPW), map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"login with foreign Origin", http.MethodPost, "/api/v1/login", loginBody("alice", userPW), map[string]string{"Origin": "https://evil.example"}, 403},
		{"POST cross-site without token", http.MethodPost, "/api/v1/echo", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"POST cross-site even with token", http.MethodPost, "/api/v1/echo", nil, map[string]string{"Sec-Fetch-Site": "cross-site", CSRFHeader: me.CSRFToken}, 403},
		{"DELETE with foreign Origin and token", http.MethodDelete, "/api/v1/echo", nil, map[string]string{"Origin": "https://evil.example", CSRFHeader: me.CSRFToken}, 403},
		{"GET cross-site is safe", http.MethodGet, "/api/v1/echo", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
		{"POST same-origin with token", http.MethodPost, "/api/v1/echo", nil, map[string]string{"Sec-Fetch-Site": "same-origin", CSRFHeader: me.CSRFToken}, 200},
		{"POST own Origin with token", http.MethodPost, "/api/v1/echo", nil, map[string]string{"Origin": e.srv.URL, CSRFHeader: me.CSRFToken}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(c, tc.method, tc.path, tc.body, tc.hdr)
			if r.status != tc.want {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, r.status, r.body, tc.want)
			}
			if tc.want == 403 && r.apiError(t).Code != "csrf" {
				t.Fatalf("code %q, want csrf", r.apiError(t).Code)
			}
		})
	}
}

func multipartBody(t *testing.T, token string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if token != "" {
		if err := mw.WriteField(CSRFField, token); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("certificate", "cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("-----BEGIN CERTIFICATE-----\n"))
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func TestCSRFTokenRequiredWithSession(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("alice", store.RoleUser, userPW)
	c := e.client()
	me := e.login(c, "alice", userPW)
	goodMP, goodMPType := multipartBody(t, me.CSRFToken)
	badMP, badMPType := multipartBody(t, "wrong")
	noMP, noMPType := multipartBody(t, "")
	form := []byte(url.Values{CSRFField: {me.CSRFToken}}.Encode())
	for _, tc := range []struct {
		name   string
		method string
		body   []byte
		hdr    map[string]string
		want   int
	}{
		{"no token", http.MethodPost, nil, nil, 403},
		{"wrong token", http.MethodPost, nil, map[string]string{CSRFHeader: me.CSRFToken + "x"}, 403},
		{"empty token", http.MethodPut, nil, map[string]string{CSRFHeader: ""}, 403},
		{"PATCH without token", http.MethodPatch, nil, nil, 403},
		{"DELETE without token", http.MethodDelete, nil, nil, 403},
		{"right token", http.MethodPost, nil, map[string]string{CSRFHeader: me.CSRFToken}, 200},
		{"right token PUT", http.MethodPut, []byte(`{}`), map[string]string{CSRFHeader: me.CSRFToken}, 200},
		{"multipart with right field", http.MethodPost, goodMP, map[string]string{"Content-Type": goodMPType}, 200},
		{"multipart with wrong field", http.MethodPost, badMP, map[string]string{"Content-Type": badMPType}, 403},
		{"multipart without field", http.MethodPost, noMP, map[string]string{"Content-Type": noMPType}, 403},
		{"urlencoded form with field", http.MethodPost, form, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 200},
		{"JSON body field does not count", http.MethodPost, []byte(`{"csrf_token":"` + me.CSRFToken + `"}`), nil, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(c, tc.method, "/api/v1/echo", tc.body, tc.hdr)
			if r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
			if tc.want == 403 && r.apiError(t).Code != "csrf" {
				t.Fatalf("code %q, want csrf", r.apiError(t).Code)
			}
		})
	}
	// The logout endpoint is protected the same way: a forged logout does nothing.
	if r := e.do(c, http.MethodPost, "/api/v1/logout", nil, nil); r.status != 403 {
		t.Fatalf("logout without token: %d", r.status)
	}
	if r := e.do(c, http.MethodGet, "/api/v1/me", nil, nil); r.status != 200 {
		t.Fatalf("session lost after refused logout: %d", r.status)
	}
}
