package siteconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Dirs are where Apply reads and writes; on the device: /efi, /data, /run.
type Dirs struct {
	Boot string // boot partition: a stoa-config.json dropped here before boot is imported
	Data string // data partition: config/site.json is the stored configuration
	Run  string // runtime root the rendered files go to
}

// DropName is the file a user drops on the boot partition.
const DropName = "stoa-config.json"

// StoredPath is the configuration's place on the data partition.
const StoredPath = "config/site.json"

// Result says what Apply did.
type Result struct {
	Imported bool   // a dropped file replaced the stored configuration
	Rejected string // a dropped file was invalid: why (the stored configuration stays)
	Site     Site
}

// Apply imports a dropped file (valid: it replaces the stored one and is renamed *.applied;
// invalid: it is renamed *.rejected and nothing stored changes), then renders the stored
// configuration (Default when there is none) into d.Run.
func Apply(d Dirs) (Result, error) {
	var res Result
	drop := filepath.Join(d.Boot, DropName)
	if b, err := os.ReadFile(drop); err == nil {
		s, derr := Decode(bytes.NewReader(b))
		if derr != nil {
			res.Rejected = derr.Error()
			if err := os.Rename(drop, drop+".rejected"); err != nil {
				return res, fmt.Errorf("set aside rejected %s: %w", drop, err)
			}
		} else {
			if err := WriteAtomic(filepath.Join(d.Data, StoredPath), s.Encode(), 0o644); err != nil {
				return res, err
			}
			if err := os.Rename(drop, drop+".applied"); err != nil {
				return res, fmt.Errorf("mark %s applied: %w", drop, err)
			}
			res.Imported = true
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("read %s: %w", drop, err)
	}

	s := Default()
	if b, err := os.ReadFile(filepath.Join(d.Data, StoredPath)); err == nil {
		if s, err = Decode(bytes.NewReader(b)); err != nil {
			return res, fmt.Errorf("stored %s: %w", StoredPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("read stored config: %w", err)
	}
	res.Site = s
	files, err := Render(s)
	if err != nil {
		return res, err
	}
	for _, f := range files {
		if err := WriteAtomic(filepath.Join(d.Run, f.Path), f.Data, fs.FileMode(f.Mode)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// WriteAtomic writes path through a temporary file, fsync and rename.
func WriteAtomic(path string, data []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}
