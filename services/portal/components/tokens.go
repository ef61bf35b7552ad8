package components

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

const tokenBytes = 32

// hashToken is what the store keeps of a token: a leaked database yields no usable token.
func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// wellFormedToken reports whether tok could be a token CreateToken made (base64url, 32 bytes).
func wellFormedToken(tok string) bool {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return err == nil && len(b) == tokenBytes
}

// CreateToken mints a one-time join token for a component of req.Kind at req.FQDN, valid for
// TokenTTL. Only its SHA-256 is stored; the token itself is in the response, once.
func (s *Service) CreateToken(ctx context.Context, actor string, req api.JoinTokenRequest) (api.JoinTokenResponse, error) {
	if err := checkKind(req.Kind); err != nil {
		return api.JoinTokenResponse{}, err
	}
	fqdn, err := normFQDN(req.FQDN)
	if err != nil {
		return api.JoinTokenResponse{}, err
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return api.JoinTokenResponse{}, fmt.Errorf("create join token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	exp := s.now().Add(TokenTTL)
	if err := s.Store.CreateJoinToken(ctx, store.JoinToken{
		Hash: hashToken(tok), Kind: req.Kind, FQDN: fqdn, CreatedBy: actor, ExpiresAt: exp,
	}); err != nil {
		return api.JoinTokenResponse{}, fmt.Errorf("create join token: %w", err)
	}
	s.log().Info("join token created", "kind", req.Kind, "fqdn", fqdn, "by", actor, "expires", exp)
	return api.JoinTokenResponse{Token: tok, ExpiresAt: exp}, nil
}

// HandleTokens is POST /api/v1/components/tokens (super admin).
func (s *Service) HandleTokens(w http.ResponseWriter, r *http.Request) {
	var req api.JoinTokenRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxBody), &req); err != nil {
		s.writeErr(w, r, errorf(http.StatusBadRequest, "request.invalid", "%v", err))
		return
	}
	resp, err := s.CreateToken(r.Context(), s.actor(r), req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "component.token", fmt.Sprintf("kind=%s fqdn=%s", req.Kind, req.FQDN))
	writeJSON(w, http.StatusCreated, resp)
}
