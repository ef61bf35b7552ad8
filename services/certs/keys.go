package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// KeyAlgorithms returns the algorithms GenerateKey accepts, as offered on the Security page.
func KeyAlgorithms() []string {
	return []string{"rsa2048", "rsa3072", "rsa4096", "ecdsa-p256", "ecdsa-p384"}
}

// GenerateKey makes a new private key for a CSR.
func GenerateKey(alg string) (crypto.Signer, error) {
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa3072":
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case "rsa4096":
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	case "ecdsa-p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, errf(CodeKeyAlgorithm, "unknown key algorithm %q: choose one of %s", alg, strings.Join(KeyAlgorithms(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return k, nil
}

// MarshalKeyPEM encodes k as a PKCS#8 "PRIVATE KEY" PEM block (RFC 5958).
func MarshalKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKeyPEM reads the first private key PEM block in data: PKCS#8 ("PRIVATE KEY"), PKCS#1
// ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Other blocks (certificates, EC PARAMETERS)
// are skipped. Encrypted keys are refused with a hint to decrypt them first.
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errf(CodeKeyInvalid, "no private key found: expected a PEM block \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"")
		}
		if k, ok, err := keyFromBlock(b); ok {
			return k, err
		}
	}
}

// keyFromBlock parses b if it is a private key block; ok reports whether it was one.
func keyFromBlock(b *pem.Block) (k crypto.Signer, ok bool, err error) {
	switch b.Type {
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		if _, enc := b.Headers["DEK-Info"]; enc {
			return nil, true, errf(CodeKeyInvalid, "the private key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
		}
		k, err := parseKeyDER(b.Bytes)
		return k, true, err
	case "ENCRYPTED PRIVATE KEY":
		return nil, true, errf(CodeKeyInvalid, "the private key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	}
	return nil, false, nil
}

// parseKeyDER tries PKCS#8, then PKCS#1, then SEC 1, whatever the PEM label said: files with
// the wrong label are common and the DER itself is unambiguous.
func parseKeyDER(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return asSigner(k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errf(CodeKeyInvalid, "the private key could not be read: it is not valid PKCS#8, PKCS#1 or SEC 1 data")
}

func asSigner(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, errf(CodeKeyInvalid, "unsupported private key type %T: use RSA or ECDSA", k)
}
