package certs

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/smallstep/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"software.sslmate.com/src/go-pkcs12"
)

// parseP7 reads the certificates of a PKCS#7 SignedData (RFC 2315 §9.1), the ".p7b" form CAs
// use for chains. A panic in the third-party parser is turned into an error: uploads are
// outside data and must never take the portal down.
func parseP7(name string, der []byte) (certs []*x509.Certificate, err error) {
	defer func() {
		if r := recover(); r != nil {
			certs, err = nil, errf(CodeP7Invalid, "the %s is a damaged PKCS#7 file", name)
		}
	}()
	p7, perr := pkcs7.Parse(der)
	if perr != nil {
		return nil, errf(CodeP7Invalid, "the %s is not a readable PKCS#7 (.p7b) file: %v", name, perr)
	}
	if len(p7.Certificates) == 0 {
		return nil, errf(CodeP7Invalid, "the PKCS#7 %s contains no certificates", name)
	}
	return p7.Certificates, nil
}

// Key-derivation iteration limits for PKCS#12. The counts come from the file itself, so a
// hostile file could otherwise ask for billions of hash rounds. Real exporters use 2,000
// (Windows) to 10,000 (Java), OpenSSL 3 2,048; OWASP's PBKDF2 advice tops out near 600,000.
const (
	maxP12Iterations      = 1_000_000
	maxP12TotalIterations = 4_000_000
)

// parseP12 opens a PKCS#12 file (RFC 7292) with password: key, certificate and CA certificates.
// A file without a key (a trust store) still yields its certificates.
func parseP12(name string, data []byte, password string) (certs []*x509.Certificate, keys []crypto.Signer, err error) {
	defer func() {
		if r := recover(); r != nil {
			certs, keys, err = nil, nil, errf(CodeP12Invalid, "the %s is a damaged PKCS#12 file", name)
		}
	}()
	total := 0
	if e := checkIterations(data, 0, &total); e != nil {
		return nil, nil, errf(CodeP12Invalid, "the PKCS#12 %s %s", name, e.Error())
	}
	k, leaf, cas, derr := pkcs12.DecodeChain(data, password)
	if derr != nil {
		if errors.Is(derr, pkcs12.ErrIncorrectPassword) || errors.Is(derr, pkcs12.ErrDecryption) {
			if password == "" {
				return nil, nil, errf(CodeP12Password, "the PKCS#12 %s is protected by a password: enter it with the upload", name)
			}
			return nil, nil, errf(CodeP12Password, "the password for the PKCS#12 %s is wrong", name)
		}
		ts, terr := pkcs12.DecodeTrustStore(data, password)
		if terr != nil || len(ts) == 0 {
			return nil, nil, errf(CodeP12Invalid, "the %s is not a readable PKCS#12 (.pfx/.p12) file: %v", name, derr)
		}
		return ts, nil, nil
	}
	signer, serr := asSigner(k)
	if serr != nil {
		return nil, nil, serr
	}
	return append([]*x509.Certificate{leaf}, cas...), []crypto.Signer{signer}, nil
}

// checkIterations walks the DER tree (into OCTET STRINGs too, where PKCS#12 nests its safes)
// and rejects any "OCTET STRING salt, INTEGER iterations" pair above the limits: that is the
// shape of MacData, pbeParams and PBKDF2-params alike.
func checkIterations(der []byte, depth int, total *int) error {
	if depth > 12 {
		return nil
	}
	s := cryptobyte.String(der)
	var prev cbasn1.Tag
	for !s.Empty() {
		var (
			el  cryptobyte.String
			tag cbasn1.Tag
		)
		if !s.ReadAnyASN1(&el, &tag) {
			return nil // not DER here; the decoder proper will say what is wrong
		}
		switch {
		case tag == cbasn1.INTEGER && prev == cbasn1.OCTET_STRING:
			if len(el) > 4 || (len(el) > 0 && el[0]&0x80 != 0) {
				return fmt.Errorf("asks for an absurd key-derivation iteration count")
			}
			n := 0
			for _, b := range el {
				n = n<<8 | int(b)
			}
			*total += n
			if n > maxP12Iterations || *total > maxP12TotalIterations {
				return fmt.Errorf("asks for %d key-derivation iterations (limit %d): re-export it with default settings", n, maxP12Iterations)
			}
		case tag&0x20 != 0 || tag == cbasn1.OCTET_STRING:
			if err := checkIterations(el, depth+1, total); err != nil {
				return err
			}
		}
		prev = tag
	}
	return nil
}
