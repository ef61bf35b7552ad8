package rtcclient_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
)

func srvTLS(srv *httptest.Server) *tls.Config {
	return srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
}
