package certs

import (
	"crypto/x509"
	"errors"
	"time"
)

// buildChain verifies leaf up to a trust anchor: roots (extra), the system roots, or a
// self-signed CA in the upload. It returns the intermediates to serve, root excluded.
func buildChain(leaf *x509.Certificate, uploaded, path []*x509.Certificate, roots *x509.CertPool, now time.Time) ([]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	var anchors []*x509.Certificate
	for _, c := range uploaded {
		if c.IsCA && isSelfSigned(c) {
			anchors = append(anchors, c)
		} else {
			inter.AddCert(c)
		}
	}
	var pools []*x509.CertPool
	if roots != nil {
		pools = append(pools, roots.Clone())
	}
	if sys, err := x509.SystemCertPool(); err == nil {
		pools = append(pools, sys)
	}
	if len(pools) == 0 {
		pools = append(pools, x509.NewCertPool())
	}
	var firstErr error
	for _, p := range pools {
		for _, a := range anchors {
			p.AddCert(a)
		}
		chains, err := leaf.Verify(x509.VerifyOptions{
			Intermediates: inter,
			Roots:         p,
			CurrentTime:   now,
			// EKU is checked on its own with a clearer message.
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			ch := chains[0]
			if len(ch) <= 2 {
				return nil, nil
			}
			return ch[1 : len(ch)-1], nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, classifyChainError(leaf, path, firstErr)
}

// classifyChainError says why no chain was built. When the uploaded path stops at the leaf,
// an intermediate is missing; when it stops at an intermediate CA, the chain is complete as far
// as the upload goes and its root is not trusted.
func classifyChainError(leaf *x509.Certificate, path []*x509.Certificate, err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		return errf(CodeExpired, "chain certificate %q is expired or not yet valid", name(inv.Cert))
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		return errf(CodeChainInvalid, "the certificate chain is not valid: %v", err)
	}
	top := path[len(path)-1]
	switch {
	case isSelfSigned(top):
		return errf(CodeChainInvalid, "the certificate chain does not verify up to root %q: %v", name(top), err)
	case top == leaf:
		return errf(CodeMissingIntermediate, "certificate %q is issued by %q, which is neither in the upload nor a trusted root: add the intermediate certificate(s) from your certificate authority (the chain or \"CA bundle\" file)", name(leaf), leaf.Issuer.String())
	}
	return errf(CodeUntrusted, "the chain ends at %q, issued by %q, which is not a trusted root: upload that root certificate if it is your organisation's own CA, or add the missing intermediate", name(top), top.Issuer.String())
}
