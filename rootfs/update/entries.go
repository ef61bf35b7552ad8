package update

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Slots are "a" and "b"; their loader entries are loader/entries/stoa-<slot>[+LEFT[-DONE]].conf
// on the ESP, their kernels stoa-<slot>/vmlinuz and stoa-<slot>/initrd.img.
var reEntryName = regexp.MustCompile(`^stoa-([ab])(?:\+(\d{1,4})(?:-(\d{1,4}))?)?\.conf$`)

// EntryName is a parsed loader entry file name with its boot counter.
type EntryName struct {
	Slot       string
	Counting   bool // has a +LEFT[-DONE] counter: not yet marked good
	Left, Done int
}

// ParseEntryName parses a stoa loader entry file name.
func ParseEntryName(name string) (EntryName, error) {
	m := reEntryName.FindStringSubmatch(name)
	if m == nil {
		return EntryName{}, fmt.Errorf("loader entry %q: not stoa-<a|b>[+LEFT[-DONE]].conf", name)
	}
	e := EntryName{Slot: m[1]}
	if m[2] != "" {
		e.Counting = true
		e.Left, _ = strconv.Atoi(m[2])
		if m[3] != "" {
			e.Done, _ = strconv.Atoi(m[3])
		}
	}
	return e, nil
}

// Bad says systemd-boot has used up the entry's tries: it sorts it last and boots another.
func (e EntryName) Bad() bool { return e.Counting && e.Left == 0 }

func (e EntryName) String() string {
	switch {
	case !e.Counting:
		return fmt.Sprintf("stoa-%s.conf", e.Slot)
	case e.Done == 0:
		return fmt.Sprintf("stoa-%s+%d.conf", e.Slot, e.Left)
	default:
		return fmt.Sprintf("stoa-%s+%d-%d.conf", e.Slot, e.Left, e.Done)
	}
}

// Entry is a loader entry on the ESP.
type Entry struct {
	File EntryName
	Seq  int    // install sequence: the entry's version line is "<seq>-<image version>"
	Ver  string // image version
}

// EntryText is a Boot Loader Specification type #1 entry for slot. All entries share a
// sort-key, so systemd-boot orders them by version, newest first: the version line starts
// with the install sequence number, so the latest install boots first and a bad (tries used
// up) entry sorts last, leaving the previous slot to boot.
func EntryText(slot string, seq int, version, partUUID, cmdline string) string {
	return fmt.Sprintf("title Stoa room %s (slot %s)\nsort-key stoa\nversion %d-%s\nlinux /stoa-%s/vmlinuz\ninitrd /stoa-%s/initrd.img\noptions root=PARTUUID=%s stoa.slot=%s %s\n",
		version, strings.ToUpper(slot), seq, version, slot, slot, partUUID, slot, cmdline)
}

// ReadEntries lists the stoa entries in esp's loader/entries, sorted by name.
func ReadEntries(esp string) ([]Entry, error) {
	dir := filepath.Join(esp, "loader/entries")
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read loader entries: %w", err)
	}
	var out []Entry
	for _, de := range des {
		n, err := ParseEntryName(de.Name())
		if err != nil {
			continue // not ours
		}
		seq, ver, err := readEntryVersion(filepath.Join(dir, de.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{File: n, Seq: seq, Ver: ver})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File.String() < out[j].File.String() })
	return out, nil
}

// readEntryVersion reads the "version <seq>-<image version>" line.
func readEntryVersion(path string) (int, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("read loader entry: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(s.Text()), " ")
		if k != "version" {
			continue
		}
		seqS, ver, ok := strings.Cut(strings.TrimSpace(v), "-")
		seq, err := strconv.Atoi(seqS)
		if !ok || err != nil || seq < 0 {
			return 0, "", fmt.Errorf("loader entry %s: version %q is not <seq>-<version>", path, v)
		}
		return seq, ver, nil
	}
	if err := s.Err(); err != nil {
		return 0, "", fmt.Errorf("read loader entry %s: %w", path, err)
	}
	return 0, "", fmt.Errorf("loader entry %s: no version line", path)
}
