package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// MaxUploadSize is the largest file ParseUpload reads. Real chains are a few KiB; the limit
// keeps a mistaken or hostile upload from costing memory and parse time.
const MaxUploadSize = 1 << 20

// Bundle is what an upload contained: the server certificate, every other certificate (issuer
// path first, leaf excluded) and the private key when the upload carried one.
type Bundle struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	Key   crypto.Signer
}

// ParseUpload reads an uploaded certificate in any common container: PEM (one certificate or a
// bundle, possibly with the key), DER, PKCS#7 (.p7b, PEM or DER; RFC 2315) or PKCS#12 (.pfx,
// .p12; RFC 7292) opened with password. chain holds extra certificate files and key an optional
// PEM or DER private key. The leaf is the one certificate that issues none of the others, so
// files and bundles may come in any order. Problems are returned as *Error.
func ParseUpload(cert []byte, chain [][]byte, key []byte, password string) (*Bundle, error) {
	var (
		certs []*x509.Certificate
		keys  []crypto.Signer
	)
	files := append([][]byte{cert}, chain...)
	for i, f := range files {
		name := "certificate file"
		if i > 0 {
			name = fmt.Sprintf("chain file %d", i)
		}
		c, k, err := parseFile(name, f, password)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c...)
		keys = append(keys, k...)
	}
	if len(key) > 0 {
		k, err := parseKeyFile(key)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	certs = dedupe(certs)
	if len(certs) == 0 {
		return nil, errf(CodeNoCertificate, "the upload contains no certificate: add the server certificate file")
	}
	leaf, err := pickLeaf(certs, keys)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Leaf: leaf, Chain: orderChain(leaf, certs)}
	for _, k := range keys {
		if keyMatches(leaf, k) {
			b.Key = k
			break
		}
	}
	if b.Key == nil && len(keys) > 0 {
		// Keep the wrong key so Validate can say "does not match" rather than "missing".
		b.Key = keys[0]
	}
	return b, nil
}

// parseFile detects the container of one uploaded file and returns its certificates and keys.
func parseFile(name string, data []byte, password string) ([]*x509.Certificate, []crypto.Signer, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errf(CodeEmpty, "the %s is empty", name)
	}
	if len(data) > MaxUploadSize {
		return nil, nil, errf(CodeTooLarge, "the %s is %d bytes: at most %d (1 MiB) are accepted", name, len(data), MaxUploadSize)
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return parsePEMFile(name, data)
	}
	return parseDERFile(name, data, password)
}

func parsePEMFile(name string, data []byte) ([]*x509.Certificate, []crypto.Signer, error) {
	var (
		certs []*x509.Certificate
		keys  []crypto.Signer
	)
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE", "X509 CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, errf(CodeGarbage, "PEM block %d of the %s is not a readable certificate: %v", n, name, err)
			}
			certs = append(certs, c)
		case "PKCS7", "CMS":
			cs, err := parseP7(name, b.Bytes)
			if err != nil {
				return nil, nil, err
			}
			certs = append(certs, cs...)
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			return nil, nil, errf(CodeNoCertificate, "the %s is a certificate signing request (CSR), not a certificate: send it to your certificate authority and upload the certificate it returns", name)
		default:
			k, isKey, err := keyFromBlock(b)
			if err != nil {
				return nil, nil, err
			}
			if isKey {
				keys = append(keys, k)
			}
			// Anything else (EC PARAMETERS, comments in block form) carries nothing we need.
		}
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, nil, errf(CodeTruncatedPEM, "the %s is cut off or damaged: a PEM block has no matching END line or invalid base64 (after %d certificate(s))", name, len(certs))
	}
	return certs, keys, nil
}

// parseDERFile tells the binary containers apart by their first ASN.1 elements: a certificate
// is SEQUENCE{SEQUENCE ...} (RFC 5280), PKCS#7 is SEQUENCE{OID ...} (RFC 2315 ContentInfo),
// PKCS#12 is SEQUENCE{INTEGER 3 ...} (RFC 7292 PFX). Reading only headers works even when
// the file is cut short, so the error names the right format.
func parseDERFile(name string, data []byte, password string) ([]*x509.Certificate, []crypto.Signer, error) {
	const notACert = "the %s is not a certificate: expected PEM text, DER, PKCS#7 (.p7b) or PKCS#12 (.pfx/.p12)"
	if data[0] != 0x30 || len(data) < 4 {
		return nil, nil, errf(CodeGarbage, notACert, name)
	}
	hdr := 2
	switch l := data[1]; {
	case l < 0x80:
	case l >= 0x81 && l <= 0x84:
		hdr += int(l & 0x7f)
	default:
		return nil, nil, errf(CodeGarbage, notACert, name)
	}
	if hdr >= len(data) {
		return nil, nil, errf(CodeGarbage, notACert, name)
	}
	switch data[hdr] {
	case 0x30:
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, nil, errf(CodeGarbage, "the %s looks like a DER certificate but could not be read: %v", name, err)
		}
		return []*x509.Certificate{c}, nil, nil
	case 0x06:
		cs, err := parseP7(name, data)
		return cs, nil, err
	case 0x02:
		return parseP12(name, data, password)
	}
	return nil, nil, errf(CodeGarbage, notACert, name)
}

func parseKeyFile(data []byte) (crypto.Signer, error) {
	if len(data) > MaxUploadSize {
		return nil, errf(CodeTooLarge, "the key file is %d bytes: at most %d (1 MiB) are accepted", len(data), MaxUploadSize)
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return ParseKeyPEM(data)
	}
	return parseKeyDER(data)
}

func dedupe(certs []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	seen := map[string]bool{}
	for _, c := range certs {
		if !seen[string(c.Raw)] {
			seen[string(c.Raw)] = true
			out = append(out, c)
		}
	}
	return out
}

// issues reports whether p looks like the issuer of c, by name and key identifier (RFC 5280
// §4.2.1.1). Signatures are not checked here: a SHA-1 signed chain must still be put in order
// so that Validate can name its real problem.
func issues(p, c *x509.Certificate) bool {
	if bytes.Equal(p.Raw, c.Raw) || !bytes.Equal(c.RawIssuer, p.RawSubject) {
		return false
	}
	return len(c.AuthorityKeyId) == 0 || len(p.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, p.SubjectKeyId)
}

func pickLeaf(certs []*x509.Certificate, keys []crypto.Signer) (*x509.Certificate, error) {
	var cands []*x509.Certificate
	for _, c := range certs {
		issuer := false
		for _, o := range certs {
			if issues(c, o) {
				issuer = true
				break
			}
		}
		if !issuer {
			cands = append(cands, c)
		}
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	if len(cands) == 0 {
		return nil, errf(CodeMultipleLeaves, "cannot tell which certificate is the server certificate: the %d certificates all issue one another", len(certs))
	}
	// An unrelated extra root or cross-signed CA in a bundle is common; prefer end entities,
	// then the one the uploaded key belongs to.
	filters := []func(*x509.Certificate) bool{
		func(c *x509.Certificate) bool { return !c.IsCA },
		func(c *x509.Certificate) bool {
			for _, k := range keys {
				if keyMatches(c, k) {
					return true
				}
			}
			return false
		},
	}
	for _, f := range filters {
		var kept []*x509.Certificate
		for _, c := range cands {
			if f(c) {
				kept = append(kept, c)
			}
		}
		if len(kept) == 1 {
			return kept[0], nil
		}
		if len(kept) > 1 {
			cands = kept
		}
	}
	var names []string
	for _, c := range cands {
		names = append(names, fmt.Sprintf("%q", c.Subject.String()))
	}
	return nil, errf(CodeMultipleLeaves, "the upload holds %d unrelated server certificates (%s): upload one certificate with its own chain", len(cands), strings.Join(names, ", "))
}

// orderChain returns the certificates other than leaf: its issuer path first (nearest issuer
// first), then any others in upload order.
func orderChain(leaf *x509.Certificate, certs []*x509.Certificate) []*x509.Certificate {
	used := map[*x509.Certificate]bool{leaf: true}
	var out []*x509.Certificate
	for cur := leaf; ; {
		var next *x509.Certificate
		for _, c := range certs {
			if !used[c] && issues(c, cur) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		used[next] = true
		out = append(out, next)
		cur = next
	}
	for _, c := range certs {
		if !used[c] {
			out = append(out, c)
		}
	}
	return out
}

func keyMatches(c *x509.Certificate, k crypto.Signer) bool {
	if c == nil || k == nil {
		return false
	}
	pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(c.PublicKey)
}
