package bundle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// snapshot is every file in dir with its bytes, so a refused Save can be shown to change nothing.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func names(m map[string][]byte) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func TestStoreSaveLoad(t *testing.T) {
	f := newFixture(t)
	s := &Store{Dir: t.TempDir(), Pub: f.pub}
	if _, err := s.Load(); !errors.Is(err, ErrNoBundle) {
		t.Fatalf("Load of an empty store: %v, want ErrNoBundle", err)
	}
	env1 := f.sign(t, f.bundle(1))
	if b, err := s.Save(env1); err != nil || b.Version != 1 {
		t.Fatalf("Save v1: %v, %v", b.Version, err)
	}
	env2 := f.sign(t, f.bundle(2))
	if _, err := s.Save(env2); err != nil {
		t.Fatalf("Save v2: %v", err)
	}
	b, src, err := s.LoadSource()
	if err != nil || b.Version != 2 || src != SourceCurrent {
		t.Fatalf("LoadSource = v%d from %v, %v; want v2 from current", b.Version, src, err)
	}
	files := snapshot(t, s.Dir)
	if got := names(files); len(got) != 2 || got[0] != CurrentFile || got[1] != PreviousFile {
		t.Fatalf("files = %v, want only %s and %s", got, CurrentFile, PreviousFile)
	}
	if !bytes.Equal(files[CurrentFile], env2) || !bytes.Equal(files[PreviousFile], env1) {
		t.Fatal("current/previous do not hold v2/v1 byte for byte")
	}
	for _, n := range []string{CurrentFile, PreviousFile} {
		fi, err := os.Stat(filepath.Join(s.Dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", n, fi.Mode().Perm())
		}
	}
}

func TestStoreRefusalsChangeNothing(t *testing.T) {
	f := newFixture(t)
	stored := f.bundle(5)
	conflicting := f.bundle(5)
	conflicting.MgmtURL = "https://other.example:8444"
	cases := refusedEnvelopes(t, f)
	cases = append(cases, []struct {
		name string
		env  []byte
		want error
	}{
		{"lower version", f.sign(t, f.bundle(4)), ErrOlderVersion},
		{"much lower version", f.sign(t, f.bundle(1)), ErrOlderVersion},
		{"same version, different content", f.sign(t, conflicting), ErrVersionConflict},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir(), Pub: f.pub}
			for _, v := range []uint64{4, 5} {
				b := f.bundle(v)
				if v == 5 {
					b = stored
				}
				if _, err := s.Save(f.sign(t, b)); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, s.Dir)
			if _, err := s.Save(tc.env); !errors.Is(err, tc.want) {
				t.Fatalf("Save error = %v, want %v", err, tc.want)
			}
			if after := snapshot(t, s.Dir); !sameFiles(before, after) {
				t.Fatalf("refused Save changed the store: files %v → %v", names(before), names(after))
			}
			if b, err := s.Load(); err != nil || b.Version != 5 {
				t.Fatalf("Load after refusal: v%d, %v", b.Version, err)
			}
		})
	}
}

func TestStoreIdempotentRepush(t *testing.T) {
	f := newFixture(t)
	s := &Store{Dir: t.TempDir(), Pub: f.pub}
	env1 := f.sign(t, f.bundle(1))
	env2 := f.sign(t, f.bundle(2))
	for _, e := range [][]byte{env1, env2} {
		if _, err := s.Save(e); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, s.Dir)
	for i := 0; i < 3; i++ {
		b, err := s.Save(env2)
		if err != nil || b.Version != 2 {
			t.Fatalf("re-push %d: v%d, %v", i, b.Version, err)
		}
	}
	// The previous bundle is still v1: a re-push must not rotate v2 into bundle.prev.json.
	if after := snapshot(t, s.Dir); !sameFiles(before, after) {
		t.Fatal("idempotent re-push changed the files")
	}
}

func TestStoreFallback(t *testing.T) {
	f := newFixture(t)
	env1 := f.sign(t, f.bundle(1))
	env2 := f.sign(t, f.bundle(2))
	tests := []struct {
		name    string
		current []byte // nil: file absent
		prev    []byte
		want    uint64
		src     Source
		wantErr error
	}{
		{"current valid", env2, env1, 2, SourceCurrent, nil},
		{"current missing", nil, env1, 1, SourcePrevious, nil},
		{"current garbage", []byte("garbage"), env1, 1, SourcePrevious, nil},
		{"current truncated", env2[:40], env1, 1, SourcePrevious, nil},
		{"current empty", []byte{}, env1, 1, SourcePrevious, nil},
		{"current signed by another key", func() []byte { g := newFixture(t); return g.sign(t, g.bundle(9)) }(), env1, 1, SourcePrevious, nil},
		{"both missing", nil, nil, 0, SourceNone, ErrNoBundle},
		{"both corrupt", []byte("x"), []byte("y"), 0, SourceNone, ErrNoBundle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir(), Pub: f.pub}
			write := func(name string, data []byte) {
				if data != nil {
					if err := os.WriteFile(filepath.Join(s.Dir, name), data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			write(CurrentFile, tc.current)
			write(PreviousFile, tc.prev)
			b, src, err := s.LoadSource()
			if !errors.Is(err, tc.wantErr) || b.Version != tc.want || src != tc.src {
				t.Fatalf("LoadSource = v%d from %v, %v; want v%d from %v, %v", b.Version, src, err, tc.want, tc.src, tc.wantErr)
			}
		})
	}
}

// A corrupt current must not be rotated over a good previous: after saving v3 on top of
// (garbage current, v1 previous) the previous is still v1, so a crash later still has a bundle.
func TestStoreSaveOverCorruptCurrentKeepsPrevious(t *testing.T) {
	f := newFixture(t)
	s := &Store{Dir: t.TempDir(), Pub: f.pub}
	env1 := f.sign(t, f.bundle(1))
	os.WriteFile(filepath.Join(s.Dir, PreviousFile), env1, 0o600)
	os.WriteFile(filepath.Join(s.Dir, CurrentFile), []byte("garbage"), 0o600)
	// Same payload as the effective (previous) bundle: a no-op success.
	if _, err := s.Save(f.sign(t, f.bundle(1))); err != nil {
		t.Fatalf("re-saving the previous version over a corrupt current: %v", err)
	}
	env3 := f.sign(t, f.bundle(3))
	if _, err := s.Save(env3); err != nil {
		t.Fatal(err)
	}
	files := snapshot(t, s.Dir)
	if !bytes.Equal(files[PreviousFile], env1) || !bytes.Equal(files[CurrentFile], env3) {
		t.Fatalf("after save over corrupt current: previous=%.20q current=%.20q", files[PreviousFile], files[CurrentFile])
	}
}

func TestStoreRemovesStaleTemps(t *testing.T) {
	f := newFixture(t)
	s := &Store{Dir: t.TempDir(), Pub: f.pub}
	stale := filepath.Join(s.Dir, tempPrefix+"123")
	os.WriteFile(stale, []byte("half written"), 0o600)
	if _, err := s.Save(f.sign(t, f.bundle(1))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file still there: %v", err)
	}
}
