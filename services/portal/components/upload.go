package components

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
)

// maxUpload bounds a certificate upload (certificate, chain files, key).
const maxUpload = 1 << 20

// publicOnly is a crypto.Signer that knows only a public key. The portal never holds a
// component's private key, so an uploaded certificate is validated against the component's
// public key with the same rules as the portal's own; it cannot sign anything.
type publicOnly struct{ pub crypto.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }
func (publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("component key is not held by the portal")
}

// HandleUploadCert is POST /api/v1/components/{id}/certificate (super admin), multipart/form-data
// like the portal's own upload: "certificate", zero or more "chain", optional "password". The
// certificate must be issued by a trusted CA for the component's FQDN and for the component's
// own key (get its CSR from the component's system console, GET /csr): private keys never
// travel. The component starts serving it on its next heartbeat; its internal certificate stays
// its client identity towards the portal.
func (s *Service) HandleUploadCert(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "certificate upload must be multipart/form-data under 1 MiB: %v", err))
		return
	}
	defer r.MultipartForm.RemoveAll()
	cert, err := formFile(r.MultipartForm, "certificate")
	if err != nil || len(cert) == 0 {
		s.writeErr(w, r, errorf(http.StatusBadRequest, certs.CodeEmpty, "no certificate file in field \"certificate\""))
		return
	}
	var chain [][]byte
	for _, fh := range r.MultipartForm.File["chain"] {
		b, err := readPart(fh)
		if err != nil {
			s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "read chain file: %v", err))
			return
		}
		chain = append(chain, b)
	}
	if len(r.MultipartForm.File["key"]) > 0 {
		s.writeErr(w, r, errorf(http.StatusBadRequest, certs.CodeKeyInvalid, "a component's private key never leaves the component: upload only the certificate issued for the CSR from its system console"))
		return
	}
	info, err := s.uploadCert(r.Context(), r.PathValue("id"), cert, chain, r.FormValue("password"))
	if err != nil {
		var ce *certs.Error
		if errors.As(err, &ce) {
			err = errorf(http.StatusUnprocessableEntity, ce.Code, "%s", ce.Msg)
		}
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "component.cert.upload", fmt.Sprintf("id=%s subject=%s serial=%s", r.PathValue("id"), info.Subject, info.Serial))
	writeJSON(w, http.StatusOK, info)
}

func (s *Service) uploadCert(ctx context.Context, id string, cert []byte, chain [][]byte, password string) (api.CertInfo, error) {
	c, err := s.lookupComponent(ctx, id)
	if err != nil {
		return api.CertInfo{}, err
	}
	cur, err := certs.ParseChainPEM(c.CertPEM)
	if err != nil {
		return api.CertInfo{}, fmt.Errorf("upload: stored certificate: %w", err)
	}
	b, err := certs.ParseUpload(cert, chain, nil, password)
	if err != nil {
		return api.CertInfo{}, err
	}
	b.Key = nil // only the component's own key counts, even when a PKCS#12 file carried one
	tc, err := certs.Validate(b, certs.ValidateOptions{FQDN: c.FQDN, Key: publicOnly{cur[0].PublicKey}, Roots: s.UploadRoots, Now: s.now()})
	if err != nil {
		return api.CertInfo{}, err
	}
	var served []*x509.Certificate
	for _, der := range tc.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			return api.CertInfo{}, fmt.Errorf("upload: %w", err)
		}
		served = append(served, x)
	}
	if err := s.putSlot(ctx, uploadedSlot(c.ID), certs.ChainPEM(served)); err != nil {
		return api.CertInfo{}, fmt.Errorf("upload: %w", err)
	}
	s.log().Info("component certificate uploaded", "id", c.ID, "fqdn", c.FQDN, "subject", tc.Leaf.Subject.String())
	info := certs.Info(served, s.now())
	info.Source = "uploaded"
	return info, nil
}

func formFile(f *multipart.Form, field string) ([]byte, error) {
	fhs := f.File[field]
	if len(fhs) != 1 {
		return nil, fmt.Errorf("want exactly one file in %q", field)
	}
	return readPart(fhs[0])
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxUpload))
}
