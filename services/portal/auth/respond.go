package auth

import (
	"encoding/json"
	"net/http"

	"github.com/stoa-rooms/stoa/services/api"
)

// writeJSON answers with v as JSON. no-store keeps tokens and account data out of caches.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing left to tell it
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}
