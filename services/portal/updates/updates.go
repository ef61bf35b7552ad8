// Package updates is Super Admin → Updates: the A/B update bundles (rootfs/update format) the
// portal offers to rooms. An upload is streamed to a temporary file in the data directory while
// its structure and every payload digest are checked against its manifest (the signature is
// checked later, per room, against the update key that room trusts); a good bundle is kept as
// <data>/updates/<board>-<version>.bundle with its manifest and signature in the store.
package updates

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/apierr"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// DirName is the folder of the data directory that holds the bundle files.
const DirName = "updates"

// Options configure a Service.
type Options struct {
	Store   store.Store
	DataDir string
	// MaxBytes bounds an upload; config.DefaultMaxUpdateBytes when 0.
	MaxBytes int64
	Now      func() time.Time
	Log      *slog.Logger
	// Audit records an admin's action on request r (auth.Manager.Audit).
	Audit func(r *http.Request, action, detail string)
	// Actor names the signed-in user of r.
	Actor func(r *http.Request) string
}

// Service serves the update bundle API.
type Service struct{ o Options }

// New makes the service; the bundle folder is created on the first upload.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.DataDir == "" || o.MaxBytes <= 0 {
		return nil, errors.New("updates: store, data dir and a maximum size are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{o: o}, nil
}

// nameRE is what rootfs/update accepts for a board or version: it cannot climb out of the
// bundle folder.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$`)

// ValidName reports whether s can be a board name or a version.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Path is where the bundle of board and version is kept under dataDir.
func Path(dataDir, board, version string) string {
	return filepath.Join(dataDir, DirName, board+"-"+version+".bundle")
}

// TransferDeadline is how long moving size bytes may take: generous for a room on a slow
// link (the listeners' own timeouts are sized for API calls, not half a gigabyte).
func TransferDeadline(size int64) time.Duration {
	const floor = 100 << 10 // bytes per second
	return 10*time.Minute + time.Duration(size/floor)*time.Second
}

// API is the answer form of a stored bundle.
func API(b store.UpdateBundle) api.UpdateBundle {
	return api.UpdateBundle{Board: b.Board, Version: b.Version, Size: b.Size, SHA256: b.SHA256, UploadedAt: b.UploadedAt, UploadedBy: b.UploadedBy}
}

func errorf(status int, code, format string, args ...any) *apierr.Error {
	return apierr.New(status, code, format, args...)
}

func (s *Service) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	apierr.Write(w, r, s.o.Log, "updates", err)
}

func (s *Service) audit(r *http.Request, action, detail string) {
	if s.o.Audit != nil {
		s.o.Audit(r, action, detail)
	}
}

// HandleList is GET /api/v1/updates.
func (s *Service) HandleList(w http.ResponseWriter, r *http.Request) {
	bs, err := s.o.Store.ListUpdateBundles(r.Context())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	out := make([]api.UpdateBundle, 0, len(bs))
	for _, b := range bs {
		out = append(out, API(b))
	}
	apierr.WriteJSON(w, http.StatusOK, out)
}

// HandleDelete is DELETE /api/v1/updates/{board}/{version}: refused while a room is offered it.
func (s *Service) HandleDelete(w http.ResponseWriter, r *http.Request) {
	board, version := r.PathValue("board"), r.PathValue("version")
	if !ValidName(board) || !ValidName(version) {
		s.writeErr(w, r, errorf(http.StatusNotFound, "update.unknown", "no update bundle %q for board %q", version, board))
		return
	}
	err := s.o.Store.DeleteUpdateBundle(r.Context(), board, version)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.writeErr(w, r, errorf(http.StatusNotFound, "update.unknown", "no update bundle %s for board %s", version, board))
		return
	case errors.Is(err, store.ErrConflict):
		s.writeErr(w, r, errorf(http.StatusConflict, "update.in_use", "bundle %s for %s is being offered to a room; cancel that update first", version, board))
		return
	case err != nil:
		s.writeErr(w, r, err)
		return
	}
	if err := removeFile(Path(s.o.DataDir, board, version)); err != nil {
		s.o.Log.Error("remove update bundle file", "board", board, "version", version, "err", err)
	}
	s.audit(r, "update.delete", fmt.Sprintf("board=%s version=%s", board, version))
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }
