// Package updatetest holds test fixtures for the A/B updater: a room's system laid out in
// files for the stoa-update CLI to act on, and real signed bundles for it. Tests only.
package updatetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoa-rooms/stoa/rootfs/update"
)

const (
	// Board is the board the fake systems and bundles name.
	Board = "qemu-x86_64"
	// MachineID is the fake systems' /etc/machine-id.
	MachineID = "5e0c1d2f3a4b5c6d7e8f90a1b2c3d4e5"
)

// System is a room's A/B system in files: ESP directory, kernel command line, release file,
// update key, machine ID, and plain 1 MiB files standing in for the root partitions.
type System struct {
	Dir  string
	Key  ed25519.PrivateKey // the update key the system trusts (its public half in key.pub)
	Args []string           // the stoa-update flags pointing at it
}

// NewSystem lays a system out in a temporary directory: running version under cmdline, and
// a loader entry per entries item ("stoa-a.conf": "1-u1" is entry file → sequence-version).
func NewSystem(t testing.TB, cmdline, version string, entries map[string]string) *System {
	t.Helper()
	d := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"slots/root-a": make([]byte, 1<<20), "slots/root-b": make([]byte, 1<<20),
		"cmdline": []byte(cmdline + "\n"), "release": []byte("BOARD=" + Board + "\nVERSION=" + version + "\n"),
		"key.pub":    []byte(update.EncodePublicKey(key.Public().(ed25519.PublicKey))),
		"machine-id": []byte(MachineID + "\n"),
	}
	for name, v := range entries {
		seq, ver, _ := strings.Cut(v, "-")
		files["esp/loader/entries/"+name] = []byte("title x\nversion " + seq + "-" + ver + "\n")
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(d, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &System{Dir: d, Key: key, Args: []string{"--esp", filepath.Join(d, "esp"), "--cmdline", filepath.Join(d, "cmdline"),
		"--release", filepath.Join(d, "release"), "--pubkey", filepath.Join(d, "key.pub"), "--machine-id", filepath.Join(d, "machine-id"), "--slots", filepath.Join(d, "slots")}}
}

// Entries lists the loader entry files, comma-separated in name order.
func (s *System) Entries(t testing.TB) string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(s.Dir, "esp/loader/entries"))
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, de := range des {
		n = append(n, de.Name())
	}
	return strings.Join(n, ",")
}

// Bundle is a real bundle for Board signed with key: root as the root image, and a kernel
// and initrd whose contents name the version ("kernel u2").
func Bundle(t testing.TB, key ed25519.PrivateKey, version string, root []byte) []byte {
	t.Helper()
	d := t.TempDir()
	paths := map[string]string{}
	for name, data := range map[string][]byte{update.MemberRoot: root, update.MemberKernel: []byte("kernel " + version), update.MemberInitrd: []byte("initrd " + version)} {
		paths[name] = filepath.Join(d, name)
		if err := os.WriteFile(paths[name], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := update.WriteBundle(&buf, key, Board, version, "ro", paths); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
