package updates

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/stoa-rooms/stoa/rootfs/update"
	"github.com/stoa-rooms/stoa/services/portal/store"
)

// HandleUpload is POST /api/v1/updates: the raw bundle as the body. The body goes to a
// temporary file in the bundle folder while InspectBundle reads it through; only a bundle that
// passes is kept (file and row), and a refusal leaves neither.
func (s *Service) HandleUpload(w http.ResponseWriter, r *http.Request) {
	max := s.o.MaxBytes
	if r.ContentLength > max {
		s.writeErr(w, r, tooLarge(max))
		return
	}
	// The listener's read timeout is sized for API calls, not for half a gigabyte.
	size := r.ContentLength
	if size < 0 {
		size = max
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(s.o.Now().Add(TransferDeadline(size))); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.o.Log.Warn("extend upload read deadline", "err", err)
	}
	b, err := s.receive(w, r, max)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	s.audit(r, "update.upload", fmt.Sprintf("board=%s version=%s size=%d sha256=%s", b.Board, b.Version, b.Size, b.SHA256))
	s.o.Log.Info("update bundle uploaded", "board", b.Board, "version", b.Version, "size", b.Size)
	writeJSON(w, http.StatusCreated, API(b))
}

func tooLarge(max int64) error {
	return errorf(http.StatusRequestEntityTooLarge, "update.too_large", "the bundle is larger than the portal's limit of %d bytes (portal.max_update_bytes)", max)
}

// receive streams the body into a temporary file, checks it, and keeps it.
func (s *Service) receive(w http.ResponseWriter, r *http.Request, max int64) (store.UpdateBundle, error) {
	dir := filepath.Join(s.o.DataDir, DirName)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return store.UpdateBundle{}, fmt.Errorf("create update folder: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return store.UpdateBundle{}, fmt.Errorf("create upload file: %w", err)
	}
	// The temporary name always goes: a kept bundle is linked to its final name first.
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	body := &countReader{r: http.MaxBytesReader(w, r.Body, max)}
	sum := sha256.New()
	out := bufio.NewWriterSize(tmp, 1<<20)
	in, err := update.InspectBundle(io.TeeReader(body, io.MultiWriter(out, sum)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return store.UpdateBundle{}, tooLarge(max)
		}
		if body.err != nil && !errors.Is(body.err, io.EOF) {
			// The client went away or the body broke: not the bundle's fault.
			return store.UpdateBundle{}, errorf(http.StatusBadRequest, "update.upload", "the upload did not arrive whole: %v", body.err)
		}
		return store.UpdateBundle{}, errorf(http.StatusBadRequest, "update.invalid", "bundle refused: %v", err)
	}
	if err := out.Flush(); err != nil {
		return store.UpdateBundle{}, fmt.Errorf("write upload file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return store.UpdateBundle{}, fmt.Errorf("sync upload file: %w", err)
	}
	if err := tmp.Chmod(0o640); err != nil {
		return store.UpdateBundle{}, fmt.Errorf("upload file mode: %w", err)
	}
	m := in.Manifest
	b := store.UpdateBundle{
		Board: m.Board, Version: m.Version, Size: body.n, SHA256: hex.EncodeToString(sum.Sum(nil)),
		Manifest: in.Raw, Signature: in.Signature, UploadedAt: s.o.Now().UTC(), UploadedBy: s.actor(r),
	}
	ctx := r.Context()
	if err := s.o.Store.CreateUpdateBundle(ctx, b); errors.Is(err, store.ErrConflict) {
		return store.UpdateBundle{}, duplicate(b)
	} else if err != nil {
		return store.UpdateBundle{}, err
	}
	// Link, not rename: an existing file is never replaced (the row above is the arbiter, but
	// "<board>-<version>" of two different pairs can spell the same name).
	final := Path(s.o.DataDir, b.Board, b.Version)
	if err := os.Link(tmp.Name(), final); err != nil {
		if derr := s.o.Store.DeleteUpdateBundle(ctx, b.Board, b.Version); derr != nil {
			s.o.Log.Error("undo update bundle row", "board", b.Board, "version", b.Version, "err", derr)
		}
		if errors.Is(err, fs.ErrExist) {
			return store.UpdateBundle{}, duplicate(b)
		}
		return store.UpdateBundle{}, fmt.Errorf("keep update bundle: %w", err)
	}
	syncDir(dir)
	return b, nil
}

func duplicate(b store.UpdateBundle) error {
	return errorf(http.StatusConflict, "update.exists", "a bundle of version %s for board %s is already stored; delete it first", b.Version, b.Board)
}

func (s *Service) actor(r *http.Request) string {
	if s.o.Actor != nil {
		return s.o.Actor(r)
	}
	return ""
}

// countReader counts what was read and remembers the body's own error.
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// syncDir makes the new name durable; a failure only risks the name after a crash.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
