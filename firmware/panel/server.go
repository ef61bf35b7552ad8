package panel

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
)

// CookieName carries a panel's token. The __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so no other host can set or read it.
const CookieName = "__Host-stoa-panel"

// cookieLife: panels stay paired until revoked; the browser keeps the cookie this long.
const cookieLife = 400 * 24 * time.Hour

// LocalPanelID names the panel on the device itself (loopback), which needs no token.
const LocalPanelID = "local"

//go:embed web
var webFS embed.FS

// ServerOptions configure a Server. Hub, Dispatcher and Store are required.
type ServerOptions struct {
	Hub        *control.Hub
	Dispatcher *control.Dispatcher
	Store      *Store
	// IsLocal says whether r comes from the device itself (the kiosk); default: the remote
	// address is 127.0.0.1 or ::1. Tests inject it.
	IsLocal func(r *http.Request) bool
	Log     *slog.Logger
}

// Server is the panel's HTTP handler: the web app, pairing, and the device API WebSocket.
type Server struct {
	o   ServerOptions
	mux *http.ServeMux
	ws  http.Handler

	mu    sync.Mutex
	conns map[string]map[*int]context.CancelFunc // panel ID → open WebSockets
}

// NewServer builds the handler.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Hub == nil || o.Dispatcher == nil || o.Store == nil {
		return nil, errors.New("new panel server: hub, dispatcher and store are required")
	}
	if o.IsLocal == nil {
		o.IsLocal = IsLoopback
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, mux: http.NewServeMux(), conns: map[string]map[*int]context.CancelFunc{}}
	// Auth already ran in handleWS; the handler's own check stays nil.
	s.ws = control.WSHandler(control.WSOptions{Hub: o.Hub, Dispatcher: o.Dispatcher, Log: o.Log})
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(static)
	s.mux.Handle("GET /", files)
	s.mux.HandleFunc("GET /api/session", s.handleSession)
	s.mux.HandleFunc("POST /api/pair/start", s.handlePairStart)
	s.mux.HandleFunc("POST /api/pair", s.handlePair)
	s.mux.HandleFunc("GET /api/ws", s.handleWS)
	return s, nil
}

// ServeHTTP sets the security headers and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		writeErr(w, http.StatusForbidden, "origin", "cross-origin request refused")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// sameOrigin: a state change must come from the panel's own page (Origin, when the browser
// sends it, names this host); SameSite=Strict on the cookie is the other half.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	return o == "https://"+r.Host
}

// IsLoopback is the default local check: only 127.0.0.1 and ::1 are the device itself (not
// all of 127/8, so tests can play a LAN panel from 127.0.0.2).
func IsLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// authenticate returns the panel making r: the local one, or the holder of a valid token
// (cookie or bearer).
func (s *Server) authenticate(r *http.Request) (Panel, error) {
	if s.o.IsLocal(r) {
		return Panel{ID: LocalPanelID, Name: "This room"}, nil
	}
	tok := ""
	if c, err := r.Cookie(CookieName); err == nil {
		tok = c.Value
	}
	if a, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = strings.TrimSpace(a)
	}
	if tok == "" {
		return Panel{}, errors.New("this panel is not paired with the room")
	}
	return s.o.Store.Check(tok)
}

// Session is GET /api/session: whether this panel may control the room, and pairing state.
type Session struct {
	Paired      bool      `json:"paired"`
	Local       bool      `json:"local"`
	PanelID     string    `json:"panel_id,omitempty"`
	Name        string    `json:"name,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	Error       string    `json:"error,omitempty"`
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	var out Session
	p, err := s.authenticate(r)
	if err == nil {
		out = Session{Paired: true, Local: p.ID == LocalPanelID, PanelID: p.ID, Name: p.Name}
	} else {
		out.Error = err.Error()
	}
	var le *LockedError
	if errors.As(s.o.Store.Locked(), &le) {
		out.LockedUntil = le.Until
	}
	writeJSON(w, http.StatusOK, out)
}

// PairStarted answers POST /api/pair/start: the room now shows a PIN valid until ExpiresAt.
type PairStarted struct {
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) handlePairStart(w http.ResponseWriter, r *http.Request) {
	until, err := s.o.Store.StartPairing()
	if err != nil {
		s.pairErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, PairStarted{ExpiresAt: until})
}

func (s *Server) handlePair(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxPairRequest+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "request", "read pair request: "+err.Error())
		return
	}
	req, err := DecodePairRequest(data)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "request", err.Error())
		return
	}
	tok, p, err := s.o.Store.Pair(req.PIN, req.Name)
	if err != nil {
		s.o.Log.Warn("panel pairing refused", "remote", r.RemoteAddr, "err", err)
		s.pairErr(w, err)
		return
	}
	s.o.Log.Info("panel paired", "panel", p.ID, "name", p.Name, "remote", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: tok, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(cookieLife / time.Second)})
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) pairErr(w http.ResponseWriter, err error) {
	var le *LockedError
	switch {
	case errors.As(err, &le):
		writeJSON(w, http.StatusTooManyRequests, apiError{Code: "locked", Message: "Too many wrong PINs. Pairing is locked until " +
			le.Until.Local().Format("15:04") + "; wait, then ask for a new PIN.", LockedUntil: le.Until})
	case errors.Is(err, ErrWrongPIN):
		writeErr(w, http.StatusForbidden, "wrong_pin", err.Error())
	case errors.Is(err, ErrNoPIN):
		writeErr(w, http.StatusConflict, "no_pin", "The PIN expired or was not requested; ask for a new one.")
	case errors.Is(err, ErrBadPINForm):
		writeErr(w, http.StatusBadRequest, "request", err.Error())
	default:
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, "unpaired", err.Error())
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	key := new(int)
	s.mu.Lock()
	if s.conns[p.ID] == nil {
		s.conns[p.ID] = map[*int]context.CancelFunc{}
	}
	s.conns[p.ID][key] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns[p.ID], key)
		if len(s.conns[p.ID]) == 0 {
			delete(s.conns, p.ID)
		}
		s.mu.Unlock()
	}()
	s.ws.ServeHTTP(w, r.WithContext(ctx))
}

// Revoke forgets panel id and closes its open WebSockets.
func (s *Server) Revoke(id string) error {
	if _, err := s.o.Store.Revoke(id); err != nil {
		return err
	}
	s.mu.Lock()
	for _, cancel := range s.conns[id] {
		cancel()
	}
	s.mu.Unlock()
	s.o.Log.Info("panel revoked", "panel", id)
	return nil
}

// OpenConns counts the open WebSockets of panel id.
func (s *Server) OpenConns(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns[id])
}

type apiError struct {
	Code        string    `json:"code"`
	Message     string    `json:"message"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
