package portal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/rooms"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// maxUploadFile bounds each uploaded file; certs.ParseUpload refuses larger ones with its own
// message, so the reader allows one byte more to let it see "too large".
const (
	maxUploadFile = 1 << 20
	maxUploadBody = 8 << 20
)

// The Super Admin → Security API (security guide step 1). Every handler here runs behind
// Require(superadmin) and CSRF checks; every change is audited.

func (s *Server) handleSecurityState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.securityState(r))
}

func (s *Server) securityState(r *http.Request) api.SecurityState {
	ctx := r.Context()
	now := s.now()
	st := api.SecurityState{FQDN: s.cfg.FQDN, ACME: s.acme.state(ctx)}
	if kp := s.certs.holder.Get(); kp != nil {
		if chain, err := chainOf(*kp); err == nil {
			st.Active = certs.Info(chain, now)
		}
	}
	if sc, err := s.store.CertSlot(ctx, "active"); err == nil {
		st.Active.Source = sc.Source
	}
	if sc, err := s.store.CertSlot(ctx, "previous"); err == nil {
		if chain, err := certs.ParseChainPEM(sc.CertPEM); err == nil {
			info := certs.Info(chain, now)
			info.Source = sc.Source
			st.Previous = &info
		}
	}
	if kp, source, err := s.certs.staged(ctx); err == nil {
		if chain, err := chainOf(kp); err == nil {
			info := certs.Info(chain, now)
			info.Source = source
			st.Staged = &info
		}
	}
	if pk, err := s.store.PendingKey(ctx); err == nil {
		st.Key = &api.KeyInfo{Algorithm: pk.Algorithm, CreatedAt: pk.CreatedAt, HasCSR: len(pk.CSRPEM) > 0}
	}
	return st
}

func (s *Server) handleGenerateKey(w http.ResponseWriter, r *http.Request) {
	var req api.KeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	key, err := certs.GenerateKey(req.Algorithm)
	if err != nil {
		writeError(w, http.StatusBadRequest, "key.algorithm", err.Error())
		return
	}
	pemKey, err := certs.MarshalKeyPEM(key)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	pk := store.PendingKey{KeyPEM: pemKey, Algorithm: req.Algorithm, CreatedAt: s.now()}
	if err := s.store.PutPendingKey(r.Context(), pk); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	s.auth.Audit(r, "cert.key_generate", req.Algorithm)
	writeJSON(w, http.StatusOK, api.KeyInfo{Algorithm: pk.Algorithm, CreatedAt: pk.CreatedAt})
}

func (s *Server) handleGenerateCSR(w http.ResponseWriter, r *http.Request) {
	var req api.CSRRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	ctx := r.Context()
	pk, err := s.store.PendingKey(ctx)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusConflict, "key.missing", "generate a private key first (step 1), then the CSR")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	key, err := certs.ParseKeyPEM(pk.KeyPEM)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	csr, err := certs.CreateCSR(key, req, s.cfg.FQDN)
	if err != nil {
		writeError(w, http.StatusBadRequest, "csr.invalid", err.Error())
		return
	}
	pk.CSRPEM = csr
	if err := s.store.PutPendingKey(ctx, pk); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	s.auth.Audit(r, "cert.csr_generate", fmt.Sprintf("cn=%q dns=%q ip=%q", req.CommonName, req.DNSNames, req.IPAddresses))
	writeJSON(w, http.StatusOK, api.CSRResponse{CSRPEM: string(csr)})
}

func (s *Server) handleDownloadCSR(w http.ResponseWriter, r *http.Request) {
	pk, err := s.store.PendingKey(r.Context())
	if err != nil || len(pk.CSRPEM) == 0 {
		writeError(w, http.StatusNotFound, "csr.missing", "no CSR generated yet")
		return
	}
	w.Header().Set("Content-Type", "application/pkcs10")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.cfg.FQDN+".csr"))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(pk.CSRPEM)
}

// uploadForm is a parsed certificate upload: the files as bytes, and the PKCS#12 password.
type uploadForm struct {
	cert, key []byte
	chain     [][]byte
	password  string
}

func readUploadForm(w http.ResponseWriter, r *http.Request) (uploadForm, error) {
	var f uploadForm
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return f, fmt.Errorf("upload must be multipart/form-data: %w", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f, fmt.Errorf("read upload: %w", err)
		}
		b, err := readPart(part)
		if err != nil {
			return f, err
		}
		switch part.FormName() {
		case "certificate":
			f.cert = b
		case "chain":
			// A browser sends an unnamed empty part for an unused file input; a named empty
			// file is a real (bad) upload and goes to the parser.
			if len(b) > 0 || part.FileName() != "" {
				f.chain = append(f.chain, b)
			}
		case "key":
			f.key = b
		case "password":
			f.password = string(b)
		case "csrf_token":
		default:
			return f, fmt.Errorf("unexpected form field %q", part.FormName())
		}
	}
	return f, nil
}

func readPart(p *multipart.Part) ([]byte, error) {
	var buf bytes.Buffer
	// One byte over the limit lets the parser report "too large" with its own message.
	if _, err := io.Copy(&buf, io.LimitReader(p, maxUploadFile+1)); err != nil {
		return nil, fmt.Errorf("read upload field %q: %w", p.FormName(), err)
	}
	return buf.Bytes(), nil
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	f, err := readUploadForm(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "upload.invalid", err.Error())
		return
	}
	ctx := r.Context()
	b, err := certs.ParseUpload(f.cert, f.chain, f.key, f.password)
	if err != nil {
		s.auth.Audit(r, "cert.upload_rejected", err.Error())
		writeCertError(w, err)
		return
	}
	opts := certs.ValidateOptions{FQDN: s.cfg.FQDN, Roots: s.extraRoots, Now: s.now()}
	if b.Key == nil {
		if pk, err := s.store.PendingKey(ctx); err == nil {
			if opts.Key, err = certs.ParseKeyPEM(pk.KeyPEM); err != nil {
				writeError(w, http.StatusInternalServerError, "internal", err.Error())
				return
			}
		}
	}
	kp, err := certs.Validate(b, opts)
	if err != nil {
		s.auth.Audit(r, "cert.upload_rejected", err.Error())
		writeCertError(w, err)
		return
	}
	if err := s.certs.stage(ctx, kp, "uploaded"); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	chain, _ := chainOf(kp)
	info := certs.Info(chain, s.now())
	info.Source = "uploaded"
	s.auth.Audit(r, "cert.upload", fmt.Sprintf("subject=%q serial=%s", info.Subject, info.Serial))
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleActivate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", "activation request body unreadable or too large")
		return
	}
	req, err := rooms.DecodeActivateRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "request.invalid", err.Error())
		return
	}
	ctx := r.Context()
	kp, _, err := s.certs.staged(ctx)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusConflict, "cert.nothing_staged", "upload and validate a certificate first (step 3), then activate it")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	// Rooms first learn to trust the new chain's anchor (design of issue 3): a bundle holding
	// old and new roots is pushed and acknowledged before the new certificate serves.
	chain, err := chainOf(kp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	behind, err := s.rooms.PrepareActivation(ctx, chain[len(chain)-1], time.Duration(req.WaitSeconds)*time.Second)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	if len(behind) > 0 {
		msg := rooms.PendingMessage(behind)
		if !req.Force {
			s.auth.Audit(r, "cert.activate_pending", msg)
			writeError(w, http.StatusConflict, "rotation.pending", msg)
			return
		}
		s.auth.Audit(r, "cert.activate_forced", msg)
	}
	if err := s.certs.activateStaged(ctx); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusConflict, "cert.nothing_staged", "upload and validate a certificate first (step 3), then activate it")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	// The pending key now serves; keep it only in the active slot.
	_ = s.store.DeletePendingKey(ctx)
	st := s.securityState(r)
	s.auth.Audit(r, "cert.activate", fmt.Sprintf("subject=%q serial=%s", st.Active.Subject, st.Active.Serial))
	s.log.Info("portal certificate activated", "serial", st.Active.Serial, "not_after", st.Active.NotAfter)
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleRollback(w http.ResponseWriter, r *http.Request) {
	if err := s.certs.rollback(r.Context()); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusConflict, "cert.no_previous", "there is no previous certificate to roll back to")
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	st := s.securityState(r)
	s.auth.Audit(r, "cert.rollback", "serial="+st.Active.Serial)
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleResetSelfSigned(w http.ResponseWriter, r *http.Request) {
	if err := s.certs.reset(r.Context()); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	st := s.securityState(r)
	s.auth.Audit(r, "cert.reset_self_signed", "serial="+st.Active.Serial)
	writeJSON(w, http.StatusOK, st)
}

// expiryWarning logs once a day while the served certificate has fewer than 30 days left.
func (s *Server) expiryWarning(now time.Time) {
	if kp := s.certs.holder.Get(); kp != nil && kp.Leaf != nil && kp.Leaf.NotAfter.Sub(now) < 30*24*time.Hour {
		s.log.Warn("portal certificate expires soon", "not_after", kp.Leaf.NotAfter)
	}
}
