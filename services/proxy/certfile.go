package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/certs"
)

// Files the component runtime keeps in the proxy's data directory (services/component).
const (
	idKeyFile    = "key.pem"
	idCertFile   = "cert.pem"
	idServedFile = "served.pem"
)

// fileCert serves the TURN TLS listener the same certificate the component's HTTPS serves: the
// uploaded chain (served.pem) while it covers the FQDN, else the internal one (cert.pem). The
// runtime replaces those files atomically at renewal; a handshake re-reads them when their
// modification times change, so a renewed certificate is used without a restart.
type fileCert struct {
	dir  string
	fqdn func() string

	mu     sync.Mutex
	stamp  [2]time.Time
	cached *tls.Certificate
}

func (f *fileCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var stamp [2]time.Time
	for i, name := range []string{idCertFile, idServedFile} {
		if st, err := os.Stat(filepath.Join(f.dir, name)); err == nil {
			stamp[i] = st.ModTime()
		}
	}
	if f.cached != nil && stamp == f.stamp {
		return f.cached, nil
	}
	c, err := f.load()
	if err != nil {
		if f.cached != nil {
			return f.cached, nil // a half-written renewal: keep serving what worked
		}
		return nil, err
	}
	f.cached, f.stamp = c, stamp
	return c, nil
}

func (f *fileCert) load() (*tls.Certificate, error) {
	key, err := os.ReadFile(filepath.Join(f.dir, idKeyFile))
	if err != nil {
		return nil, fmt.Errorf("TURN TLS certificate: %w", err)
	}
	if served, err := os.ReadFile(filepath.Join(f.dir, idServedFile)); err == nil {
		if c, err := certs.LoadKeyPair(served, key); err == nil && c.Leaf.VerifyHostname(f.fqdn()) == nil {
			return &c, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("TURN TLS certificate: %w", err)
	}
	pem, err := os.ReadFile(filepath.Join(f.dir, idCertFile))
	if err != nil {
		return nil, fmt.Errorf("TURN TLS certificate: %w", err)
	}
	c, err := certs.LoadKeyPair(pem, key)
	if err != nil {
		return nil, fmt.Errorf("TURN TLS certificate: %w", err)
	}
	return &c, nil
}
