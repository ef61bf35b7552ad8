package roomd

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/ca"
)

// Files of the room's identity in the data directory. room.json is written last and removed
// first: it is the commit marker, so a crash mid-save or mid-wipe leaves an unpaired room, never
// a half identity.
const (
	keyFile       = "key.pem"
	certFile      = "cert.pem"
	deviceCAFile  = "device-ca.pem"
	bundleKeyFile = "bundle-key.pem"
	roomFile      = "room.json"
)

// errNotPaired: no identity is stored.
var errNotPaired = errors.New("room is not paired")

// RoomRecord is room.json.
type RoomRecord struct {
	RoomID    string `json:"room_id"`
	Name      string `json:"name"`
	MgmtURL   string `json:"mgmt_url"`
	PortalURL string `json:"portal_url"`
}

// Identity is everything a paired room holds.
type Identity struct {
	Room      RoomRecord
	Key       *ecdsa.PrivateKey
	Cert      *x509.Certificate
	CertPEM   []byte
	DeviceCA  *x509.Certificate
	BundleKey ed25519.PublicKey
	Bundles   *bundle.Store
}

// TLSCertificate is the client certificate for mutual TLS.
func (id *Identity) TLSCertificate() *tls.Certificate {
	return &tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
}

// saveIdentity writes id into dir; env is the grant's signed bundle. Key 0600, room.json last.
func saveIdentity(dir string, id *Identity, env []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return fmt.Errorf("save identity: marshal key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(id.BundleKey)
	if err != nil {
		return fmt.Errorf("save identity: marshal bundle key: %w", err)
	}
	room, err := json.MarshalIndent(id.Room, "", "  ")
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	// A previous pairing's bundles belong to another portal's key: drop them first.
	for _, f := range []string{bundle.CurrentFile, bundle.PreviousFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("save identity: %w", err)
		}
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
		{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Cert.Raw}), 0o644},
		{deviceCAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.DeviceCA.Raw}), 0o644},
		{bundleKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644},
	}
	for _, f := range files {
		if err := ca.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("save identity: %w", err)
		}
	}
	id.Bundles = &bundle.Store{Dir: dir, Pub: id.BundleKey}
	if _, err := id.Bundles.Save(env); err != nil {
		return fmt.Errorf("save identity: store bundle: %w", err)
	}
	if err := ca.WriteFileAtomic(filepath.Join(dir, roomFile), room, 0o644); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	return nil
}

// saveCert replaces the client certificate after a renewal (the key stays).
func saveCert(dir string, cert *x509.Certificate) error {
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := ca.WriteFileAtomic(filepath.Join(dir, certFile), data, 0o644); err != nil {
		return fmt.Errorf("save renewed certificate: %w", err)
	}
	return nil
}

// loadIdentity reads the identity; errNotPaired when room.json is absent.
func loadIdentity(dir string) (*Identity, error) {
	raw, err := os.ReadFile(filepath.Join(dir, roomFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotPaired
	}
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	id := &Identity{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&id.Room); err != nil {
		return nil, fmt.Errorf("load identity: %s: %w", roomFile, err)
	}
	if id.Room.RoomID == "" || id.Room.MgmtURL == "" {
		return nil, fmt.Errorf("load identity: %s lacks room_id or mgmt_url", roomFile)
	}
	block, err := readPEM(dir, keyFile, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("load identity: parse key: %w", err)
	}
	var ok bool
	if id.Key, ok = k.(*ecdsa.PrivateKey); !ok {
		return nil, fmt.Errorf("load identity: key is %T, want ECDSA", k)
	}
	if id.Cert, err = readCert(dir, certFile); err != nil {
		return nil, err
	}
	if !id.Key.PublicKey.Equal(id.Cert.PublicKey) {
		return nil, errors.New("load identity: certificate does not match the key")
	}
	if id.DeviceCA, err = readCert(dir, deviceCAFile); err != nil {
		return nil, err
	}
	pubDER, err := readPEM(dir, bundleKeyFile, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		return nil, fmt.Errorf("load identity: parse bundle key: %w", err)
	}
	if id.BundleKey, ok = pub.(ed25519.PublicKey); !ok {
		return nil, fmt.Errorf("load identity: bundle key is %T, want ed25519", pub)
	}
	id.Bundles = &bundle.Store{Dir: dir, Pub: id.BundleKey}
	if _, err := id.Bundles.Load(); err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	return id, nil
}

func readPEM(dir, name, typ string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		return nil, fmt.Errorf("load identity: %s holds no %s PEM block", name, typ)
	}
	return b.Bytes, nil
}

func readCert(dir, name string) (*x509.Certificate, error) {
	der, err := readPEM(dir, name, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("load identity: parse %s: %w", name, err)
	}
	return c, nil
}

// wipeIdentity forgets the pairing: room.json first (so a crash leaves "unpaired"), then the
// rest. The stale socket and unrelated files stay.
func wipeIdentity(dir string) error {
	var errs []error
	for _, f := range []string{roomFile, keyFile, certFile, deviceCAFile, bundleKeyFile, bundle.CurrentFile, bundle.PreviousFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wipe identity: %w", err)
	}
	return nil
}
