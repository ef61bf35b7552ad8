package bundle

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// File names inside Store.Dir.
const (
	CurrentFile  = "bundle.json"
	PreviousFile = "bundle.prev.json"
	tempPrefix   = "bundle.tmp-"
)

var (
	// ErrNoBundle: neither the current nor the previous bundle is present and valid (the room is
	// not paired, or its data was lost).
	ErrNoBundle = errors.New("bundle: no valid bundle stored")
	// ErrVersionConflict: a bundle with the stored version but different content. The portal
	// never reuses a version, so this is refused rather than silently replacing trust.
	ErrVersionConflict = errors.New("bundle: same version with different content")
)

// Source says which file Load used.
type Source int

const (
	SourceNone     Source = iota // nothing valid stored
	SourceCurrent                // Dir/bundle.json
	SourcePrevious               // Dir/bundle.prev.json: the current one was missing or corrupt
)

func (s Source) String() string {
	switch s {
	case SourceCurrent:
		return CurrentFile
	case SourcePrevious:
		return PreviousFile
	}
	return "none"
}

// Store keeps the room's bundle in Dir: bundle.json (current) and bundle.prev.json (the one
// before). Every bundle read back is verified against Pub again, so a file changed on disk is
// treated as corrupt. Save never leaves the directory without a valid bundle, even when the
// process is killed at any point (see Save).
type Store struct {
	Dir string
	Pub ed25519.PublicKey

	mu sync.Mutex
	// hook, when set (tests only), is called at every step boundary of Save so a crash test
	// can stop the process exactly there.
	hook func(step string)
}

// Load returns the current bundle, or the previous one when the current is missing or corrupt.
// ErrNoBundle when neither is valid.
func (s *Store) Load() (Bundle, error) {
	b, _, err := s.LoadSource()
	return b, err
}

// LoadSource is Load that also reports which file it used.
func (s *Store) LoadSource() (Bundle, Source, error) {
	b, _, src, err := s.load()
	return b, src, err
}

func (s *Store) load() (Bundle, []byte, Source, error) {
	cur, curPayload, curErr := s.readFile(CurrentFile)
	if curErr == nil {
		return cur, curPayload, SourceCurrent, nil
	}
	prev, prevPayload, prevErr := s.readFile(PreviousFile)
	if prevErr == nil {
		return prev, prevPayload, SourcePrevious, nil
	}
	if errors.Is(curErr, fs.ErrNotExist) && errors.Is(prevErr, fs.ErrNotExist) {
		return Bundle{}, nil, SourceNone, fmt.Errorf("bundle: load %s: %w", s.Dir, ErrNoBundle)
	}
	return Bundle{}, nil, SourceNone, fmt.Errorf("bundle: load %s: %w (current: %v; previous: %v)", s.Dir, ErrNoBundle, curErr, prevErr)
}

func (s *Store) readFile(name string) (Bundle, []byte, error) {
	p := filepath.Join(s.Dir, name)
	data, err := readLimited(p)
	if err != nil {
		return Bundle{}, nil, err
	}
	b, payload, err := verify(data, s.Pub)
	if err != nil {
		return Bundle{}, nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, payload, nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxEnvelopeSize+1)) // verify refuses anything longer
}

// Save verifies env and stores it as the current bundle, keeping the one it replaces as the
// previous. A bundle older than the stored one is refused with ErrOlderVersion; the same version
// with the same signed payload is a no-op success (the portal re-pushes); anything refused leaves
// the stored files untouched.
//
// Crash safety, step by step (SIGKILL or power cut at any point leaves a valid bundle):
//  1. write a temp file in Dir (0600) and fsync it — current is untouched;
//  2. rename current → previous, only when current is valid (a corrupt current must not
//     overwrite a good previous) — between 2 and 3 current is missing and Load uses previous;
//  3. rename temp → current (atomic on POSIX);
//  4. fsync Dir so both renames are durable.
func (s *Store) Save(env []byte) (Bundle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	b, payload, err := verify(env, s.Pub)
	if err != nil {
		return Bundle{}, fmt.Errorf("bundle: save: %w", err)
	}
	cur, curPayload, src, err := s.load()
	switch {
	case errors.Is(err, ErrNoBundle):
		// First bundle, or nothing valid is left: anything verified is better than nothing.
	case err != nil:
		return Bundle{}, fmt.Errorf("bundle: save: %w", err)
	case b.Version < cur.Version:
		return Bundle{}, fmt.Errorf("bundle: save: version %d is below the stored %d: %w", b.Version, cur.Version, ErrOlderVersion)
	case b.Version == cur.Version && bytes.Equal(payload, curPayload):
		return b, nil
	case b.Version == cur.Version:
		return Bundle{}, fmt.Errorf("bundle: save: version %d: %w", b.Version, ErrVersionConflict)
	}

	s.removeStaleTemps()
	s.step("start")
	tmp, err := s.writeTemp(env)
	if err != nil {
		return Bundle{}, fmt.Errorf("bundle: save: %w", err)
	}
	defer os.Remove(tmp) // no-op once renamed
	s.step("temp-synced")
	curPath := filepath.Join(s.Dir, CurrentFile)
	if src == SourceCurrent {
		if err := os.Rename(curPath, filepath.Join(s.Dir, PreviousFile)); err != nil {
			return Bundle{}, fmt.Errorf("bundle: save: keep previous: %w", err)
		}
		s.step("current-moved")
	}
	if err := os.Rename(tmp, curPath); err != nil {
		return Bundle{}, fmt.Errorf("bundle: save: rename into place: %w", err)
	}
	s.step("renamed")
	if err := syncDir(s.Dir); err != nil {
		return Bundle{}, fmt.Errorf("bundle: save: %w", err)
	}
	s.step("dir-synced")
	return b, nil
}

func (s *Store) step(name string) {
	if s.hook != nil {
		s.hook(name)
	}
}

func (s *Store) writeTemp(env []byte) (string, error) {
	f, err := os.CreateTemp(s.Dir, tempPrefix+"*") // CreateTemp makes the file 0600
	if err != nil {
		return "", fmt.Errorf("create temp: %w", err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("chmod temp: %w", err))
	}
	s.step("temp-created")
	if _, err := f.Write(env); err != nil {
		return fail(fmt.Errorf("write temp: %w", err))
	}
	s.step("temp-written")
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("fsync temp: %w", err))
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("close temp: %w", err)
	}
	return name, nil
}

// removeStaleTemps deletes temp files a killed Save left behind; they are never read.
func (s *Store) removeStaleTemps() {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			os.Remove(filepath.Join(s.Dir, e.Name()))
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir: %w", err)
	}
	return nil
}
