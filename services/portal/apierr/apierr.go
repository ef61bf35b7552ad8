// Package apierr is how the portal's API handlers answer: a refusal is an *Error carrying its
// HTTP status and the stable api.Error code, and one JSON writer serves every package.
package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
)

// Error is a refusal with its HTTP status and stable code; Msg is for people.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// HTTPStatus is the status the refusal answers with.
func (e *Error) HTTPStatus() int { return e.Status }

// ErrorCode is the refusal's stable api.Error code (licence.full, router.unavailable, ...).
func (e *Error) ErrorCode() string { return e.Code }

// New makes a refusal.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// WriteJSON answers v as JSON with status; API answers are never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Write answers err: an *Error with its own status and code, anything else as a 500 whose
// details go to log only (what names the failing area in that log line).
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	var e *Error
	if errors.As(err, &e) {
		WriteJSON(w, e.Status, api.Error{Code: e.Code, Message: e.Msg})
		return
	}
	log.Error(what+" request failed", "path", r.URL.Path, "err", err)
	WriteJSON(w, http.StatusInternalServerError, api.Error{Code: "internal", Message: "internal error; see the portal log"})
}
