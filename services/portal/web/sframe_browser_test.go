package web

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stoa-rooms/stoa/services/api/e2ee"
	"github.com/stoa-rooms/stoa/test/browser"
)

// signTok signs claims in services/token's wire form.
func signTok(key ed25519.PrivateKey, claims map[string]any) string {
	b, _ := json.Marshal(claims)
	sig := ed25519.Sign(key, append([]byte("stoa-token-v1\n"), b...))
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestSFrameJSInterop runs sframe.js in Chromium against the Go implementation
// (services/api/e2ee): the RFC 9605 vector, key messages both ways (HPKE Auth mode), frames of
// every codec layout both ways, and the refusal of a key the portal did not sign.
func TestSFrameJSInterop(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(Files()))
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := browser.New(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/js/")); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) string {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`import("/js/sframe.js").then(async (m) => { const H = (s) => Uint8Array.from(s.match(/../g) || [], (x) => parseInt(x, 16)); const X = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""); try { return String(await (async () => {`+js+`})()); } catch (e) { return "ERROR " + (e.kind || "") + ": " + e.message; } })`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("RFC 9605 vector", func(t *testing.T) {
		got := eval(`const k = await m.SFrameKey.create(0x123, H("000102030405060708090a0b0c0d0e0f")); return X(await k.seal(0x4567, H("4945544620534672616d65205747"), H("64726166742d696574662d736672616d652d656e63")));`)
		if want := "9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb"; got != want {
			t.Fatalf("ct %s, want %s", got, want)
		}
	})

	portalPub, portal, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	const meeting = "3330004444"
	goPriv, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	gs, err := e2ee.NewSession(e2ee.Config{Meeting: meeting, Self: "gopher", Private: goPriv, PortalKey: portalPub})
	if err != nil {
		t.Fatal(err)
	}
	goTok := signTok(portal, map[string]any{"mtg": meeting, "sub": "gopher", "e2ee": gs.PublicKey()})
	jsPub := eval(fmt.Sprintf(`window.s = await m.Session.create(%q, "js", H(%q)); return window.s.publicKey();`, meeting, hex.EncodeToString(portalPub)))
	jsTok := signTok(portal, map[string]any{"mtg": meeting, "sub": "js", "e2ee": jsPub})

	frames := map[e2ee.Codec][]byte{
		e2ee.CodecVP8:  append([]byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, bytes.Repeat([]byte{0, 0, 1, 7}, 30)...),
		e2ee.CodecH264: {0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 3, 0x01, 0xff},
		e2ee.CodecOpus: bytes.Repeat([]byte{0x78, 0x00}, 40),
	}

	t.Run("JS to Go", func(t *testing.T) {
		keyMsg := eval(fmt.Sprintf(`const o = await window.s.addPeer("gopher", %q, false); return X(o.key);`, goTok))
		if _, err := gs.AddPeer("js", jsTok, false); err != nil {
			t.Fatal(err)
		}
		if err := gs.HandleKey("js", mustHex(t, keyMsg)); err != nil {
			t.Fatalf("Go opening the JS key message: %v", err)
		}
		for codec, f := range frames {
			ct := eval(fmt.Sprintf(`return X(await window.s.encryptFrame(%q, H(%q)));`, codec.String(), hex.EncodeToString(f)))
			pt, err := gs.DecryptFrame("js", codec, mustHex(t, ct))
			if err != nil {
				t.Fatalf("%v: Go decrypting the JS frame: %v", codec, err)
			}
			if !bytes.Equal(pt, f) {
				t.Fatalf("%v: Go got %x, want %x", codec, pt, f)
			}
		}
	})

	t.Run("Go to JS", func(t *testing.T) {
		out, err := gs.AddPeer("js", jsTok, false) // known: seals our current key again
		if err != nil {
			t.Fatal(err)
		}
		if got := eval(fmt.Sprintf(`await window.s.handleKey("gopher", H(%q)); return "ok";`, hex.EncodeToString(out.Key))); got != "ok" {
			t.Fatalf("JS opening the Go key message: %s", got)
		}
		for codec, f := range frames {
			ct, err := gs.EncryptFrame(codec, f)
			if err != nil {
				t.Fatal(err)
			}
			got := eval(fmt.Sprintf(`return X(await window.s.decryptFrame("gopher", %q, H(%q)));`, codec.String(), hex.EncodeToString(ct)))
			if got != hex.EncodeToString(f) {
				t.Fatalf("%v: JS got %s, want %x", codec, got, f)
			}
			if got := eval(fmt.Sprintf(`return X(await window.s.decryptFrame("gopher", %q, H(%q)));`, codec.String(), hex.EncodeToString(ct))); got[:12] != "ERROR replay" {
				t.Fatalf("%v: JS replay: %s", codec, got)
			}
		}
	})

	t.Run("JS refuses a key the portal did not sign", func(t *testing.T) {
		_, routerKey, _ := ed25519.GenerateKey(nil)
		bad := signTok(routerKey, map[string]any{"mtg": meeting, "sub": "mallory", "e2ee": gs.PublicKey()})
		if got := eval(fmt.Sprintf(`return (await window.s.addPeer("mallory", %q, true)).to;`, bad)); got[:16] != "ERROR untrusted:" {
			t.Fatalf("JS accepted a router-signed key: %s", got)
		}
		if got := eval(fmt.Sprintf(`return (await window.s.addPeer("gopher", %q, false)).to;`, jsTok)); got[:16] != "ERROR untrusted:" {
			t.Fatalf("JS accepted another participant's token: %s", got)
		}
	})
	browser.RequireNoErrors(t, ctx)
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}
