package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/stoa-rooms/stoa/services/api"
)

// CreateCSR makes a PEM "CERTIFICATE REQUEST" (RFC 2986) for key. The subject comes from req
// (CommonName defaults to fqdn); the SANs are fqdn, req.DNSNames and req.IPAddresses, since
// browsers ignore the CN (RFC 6125 §6.4.4). Invalid fields are refused with a *Error naming
// the field.
func CreateCSR(key crypto.Signer, req api.CSRRequest, fqdn string) ([]byte, error) {
	if key == nil {
		return nil, errf(CodeKeyMissing, "no key: generate a key before creating a CSR")
	}
	tmpl, err := csrTemplate(req, fqdn)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func csrTemplate(req api.CSRRequest, fqdn string) (*x509.CertificateRequest, error) {
	fqdn = strings.TrimSuffix(strings.TrimSpace(fqdn), ".")
	fqdnIP, ipErr := netip.ParseAddr(fqdn)
	if ipErr != nil {
		if err := checkDNSName(fqdn); err != nil {
			return nil, errf(CodeCSRInvalid, "portal FQDN %q is not a valid DNS name: %s", fqdn, err.Msg)
		}
	}
	var subj pkix.Name
	if c := strings.TrimSpace(req.Country); c != "" {
		if len(c) != 2 || !isLetter(c[0]) || !isLetter(c[1]) {
			return nil, errf(CodeCSRInvalid, "country %q must be a two-letter ISO 3166 code such as DE or US", c)
		}
		subj.Country = []string{strings.ToUpper(c)}
	}
	fields := []struct {
		name, val string
		dst       *[]string
	}{
		{"state", req.State, &subj.Province},
		{"locality", req.Locality, &subj.Locality},
		{"organization", req.Organization, &subj.Organization},
		{"organizational unit", req.OrganizationalUnit, &subj.OrganizationalUnit},
	}
	for _, f := range fields {
		v := strings.TrimSpace(f.val)
		if v == "" {
			continue
		}
		// RFC 5280 appendix A upper bounds are 64 (organization, OU), 128 (state, locality);
		// 64 keeps every field safe with every CA.
		if len(v) > 64 {
			return nil, errf(CodeCSRInvalid, "%s is %d characters long: at most 64 are allowed", f.name, len(v))
		}
		*f.dst = []string{v}
	}
	subj.CommonName = strings.TrimSpace(req.CommonName)
	if subj.CommonName == "" {
		subj.CommonName = fqdn
	}
	if len(subj.CommonName) > 64 {
		return nil, errf(CodeCSRInvalid, "common name is %d characters long: at most 64 are allowed (RFC 5280 ub-common-name)", len(subj.CommonName))
	}

	tmpl := &x509.CertificateRequest{Subject: subj}
	seen := map[string]bool{}
	seenIP := map[netip.Addr]bool{}
	if ipErr == nil {
		// A portal reached by address (labs, tests) needs an IP SAN, not a DNS one.
		seenIP[fqdnIP.Unmap()] = true
		tmpl.IPAddresses = []net.IP{net.IP(fqdnIP.Unmap().AsSlice())}
	} else {
		seen[strings.ToLower(fqdn)] = true
		tmpl.DNSNames = []string{fqdn}
	}
	for _, d := range req.DNSNames {
		d = strings.TrimSuffix(strings.TrimSpace(d), ".")
		if d == "" || seen[strings.ToLower(d)] {
			continue
		}
		if err := checkDNSName(d); err != nil {
			return nil, errf(CodeCSRInvalid, "DNS name %q is not valid: %s", d, err.Msg)
		}
		seen[strings.ToLower(d)] = true
		tmpl.DNSNames = append(tmpl.DNSNames, d)
	}
	for _, s := range req.IPAddresses {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, errf(CodeCSRInvalid, "IP address %q is not valid: write it like 192.0.2.10 or 2001:db8::10", s)
		}
		a = a.Unmap()
		if seenIP[a] {
			continue
		}
		seenIP[a] = true
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	return tmpl, nil
}

func isLetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// checkDNSName checks preferred name syntax (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1),
// allowing one leading "*." wildcard label (RFC 6125 §6.4.3).
func checkDNSName(name string) *Error {
	if name == "" {
		return &Error{Code: CodeCSRInvalid, Msg: "the name is empty"}
	}
	if len(name) > 253 {
		return &Error{Code: CodeCSRInvalid, Msg: "the name is longer than 253 characters"}
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if i == 0 && l == "*" && len(labels) > 2 {
			continue
		}
		if l == "" {
			return &Error{Code: CodeCSRInvalid, Msg: "it has an empty label (two dots in a row, or a leading dot)"}
		}
		if len(l) > 63 {
			return &Error{Code: CodeCSRInvalid, Msg: fmt.Sprintf("label %q is longer than 63 characters", l)}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return &Error{Code: CodeCSRInvalid, Msg: fmt.Sprintf("label %q starts or ends with a hyphen", l)}
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !isLetter(c) && !(c >= '0' && c <= '9') && c != '-' {
				return &Error{Code: CodeCSRInvalid, Msg: fmt.Sprintf("label %q contains %q: only letters, digits and hyphens are allowed", l, c)}
			}
		}
	}
	return nil
}
