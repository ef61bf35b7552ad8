//go:build tools

package tools

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/letsencrypt/pebble/v2/wfe"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "golang.org/x/crypto/acme"
	_ "golang.org/x/crypto/argon2"
	_ "modernc.org/sqlite"
	_ "software.sslmate.com/src/go-pkcs12"
	_ "github.com/smallstep/pkcs7"
)
