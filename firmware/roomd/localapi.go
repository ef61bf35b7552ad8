package roomd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
)

// maxLocalBody bounds local API request bodies; a portal URL is short.
const maxLocalBody = 4 << 10

// Controller is what the local API drives: the agent.
type Controller interface {
	Status() Status
	Pair(portalURL string) error
	Unpair() error
}

// DeviceAPI is a controller that also runs the room's device API (a *Room): the local API then
// serves POST /v1/command and GET /v1/events (WebSocket) too.
type DeviceAPI interface {
	Hub() *control.Hub
	Dispatcher() *control.Dispatcher
}

// Errors the controller returns that the local API maps to 409.
var (
	ErrAlreadyPaired = errors.New("the room is already paired; unpair it first")
	ErrNotPaired     = errors.New("the room is not paired")
)

// DecodePairRequest strictly decodes a POST /v1/pair body and checks the URL.
func DecodePairRequest(data []byte) (PairRequest, error) {
	var r PairRequest
	if len(data) > maxLocalBody {
		return r, fmt.Errorf("decode pair request: larger than %d bytes", maxLocalBody)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return PairRequest{}, fmt.Errorf("decode pair request: %w", err)
	}
	if dec.More() {
		return PairRequest{}, errors.New("decode pair request: trailing data after the JSON object")
	}
	if r.PortalURL == "" {
		return PairRequest{}, errors.New("decode pair request: portal_url is required")
	}
	if err := CheckPortalURL(r.PortalURL); err != nil {
		return PairRequest{}, fmt.Errorf("decode pair request: portal_url: %w", err)
	}
	return r, nil
}

// LocalHandler serves the local API for c.
func LocalHandler(c Controller, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, c.Status())
	})
	mux.HandleFunc("POST /v1/pair", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxLocalBody+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, LocalError{Error: "read body: " + err.Error()})
			return
		}
		req, err := DecodePairRequest(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, LocalError{Error: err.Error()})
			return
		}
		if err := c.Pair(req.PortalURL); err != nil {
			writeJSON(w, conflictOr500(err), LocalError{Error: err.Error()})
			return
		}
		log.Info("local api: portal entered", "portal_url", req.PortalURL)
		writeJSON(w, http.StatusAccepted, c.Status())
	})
	mux.HandleFunc("POST /v1/unpair", func(w http.ResponseWriter, _ *http.Request) {
		if err := c.Unpair(); err != nil {
			writeJSON(w, conflictOr500(err), LocalError{Error: err.Error()})
			return
		}
		log.Info("local api: unpair requested")
		writeJSON(w, http.StatusAccepted, c.Status())
	})
	if d, ok := c.(DeviceAPI); ok {
		// The socket is 0600: whoever reaches it is root or roomd's user, so no auth hook.
		mux.Handle("POST /v1/command", control.CommandHandler(d.Dispatcher()))
		mux.Handle("GET /v1/events", control.WSHandler(control.WSOptions{Hub: d.Hub(), Dispatcher: d.Dispatcher(), Log: log}))
	}
	return mux
}

func conflictOr500(err error) int {
	if errors.Is(err, ErrAlreadyPaired) || errors.Is(err, ErrNotPaired) {
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ListenLocal opens the local API socket at path, readable and writable by its owner only.
// A stale socket from a previous run is removed; any other file there is an error.
func ListenLocal(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("listen local api: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen local api: remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen local api: %w", err)
	}
	// The socket is created with the umask's mode; tighten it before serving anything. The data
	// directory is 0700, so nobody else could reach it in between either.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen local api: chmod: %w", err)
	}
	return ln, nil
}

// ServeLocal serves the local API on ln until ctx ends.
func ServeLocal(ctx context.Context, ln net.Listener, c Controller, log *slog.Logger) error {
	srv := &http.Server{Handler: LocalHandler(c, log), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve local api: %w", err)
	}
	return nil
}
