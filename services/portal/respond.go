package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/certs"
	"github.com/stoa-rooms/stoa/services/portal/apierr"
)

// maxJSONBody bounds every JSON request body the portal reads.
const maxJSONBody = 64 << 10

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}

// writeCertError answers a certificate problem: a *certs.Error keeps its own code and message
// (422: the upload was understood and refused), anything else is a server error.
func writeCertError(w http.ResponseWriter, err error) {
	var ce *certs.Error
	if errors.As(err, &ce) {
		writeError(w, http.StatusUnprocessableEntity, ce.Code, ce.Msg)
		return
	}
	writeError(w, http.StatusInternalServerError, "internal", err.Error())
}

// decodeJSON strictly decodes one JSON object from r's body into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
}
