package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// room is a fake-free stand-in for a device: an ESP directory, files as root slots, a
// kernel command line and release file, the public key.
type room struct {
	sys   System
	slots map[string]string
	key   ed25519.PrivateKey
}

func newRoom(t *testing.T, slot, version string) *room {
	t.Helper()
	d := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	r := &room{key: key, slots: map[string]string{"a": filepath.Join(d, "root-a"), "b": filepath.Join(d, "root-b")}}
	for _, p := range r.slots {
		if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	esp := filepath.Join(d, "esp")
	os.MkdirAll(filepath.Join(esp, "loader/entries"), 0o755)
	os.WriteFile(filepath.Join(esp, "loader/entries/stoa-a.conf"), []byte(EntryText("a", 1, "v1", "uuid-a", "ro")), 0o644)
	os.WriteFile(filepath.Join(d, "cmdline"), []byte("root=PARTUUID=x stoa.slot="+slot+" ro\n"), 0o644)
	os.WriteFile(filepath.Join(d, "release"), []byte("BOARD=qemu-x86_64\nVERSION="+version+"\n"), 0o644)
	os.WriteFile(filepath.Join(d, "key.pub"), []byte(EncodePublicKey(key.Public().(ed25519.PublicKey))), 0o644)
	r.sys = System{ESP: esp, Cmdline: filepath.Join(d, "cmdline"), Release: filepath.Join(d, "release"),
		PubKey: filepath.Join(d, "key.pub"), Tries: 3,
		Slot: func(s string) (string, string, error) { return r.slots[s], "uuid-" + s, nil }}
	return r
}

// bundle makes a bundle for version with the given root image content, signed by key.
func makeBundle(t *testing.T, key ed25519.PrivateKey, board, version string, rootImg []byte) []byte {
	t.Helper()
	d := t.TempDir()
	paths := map[string]string{}
	for name, data := range map[string][]byte{MemberRoot: rootImg, MemberKernel: []byte("kernel " + version), MemberInitrd: []byte("initrd " + version)} {
		paths[name] = filepath.Join(d, name)
		os.WriteFile(paths[name], data, 0o644)
	}
	var buf bytes.Buffer
	if _, err := WriteBundle(&buf, key, board, version, "ro console=ttyS0", paths); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (r *room) entryNames(t *testing.T) []string {
	es, err := ReadEntries(r.sys.ESP)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range es {
		n = append(n, e.File.String())
	}
	return n
}

// TestInstall writes slot B from a good bundle and refuses bad ones without touching the boot
// loader's entries of the running slot.
func TestInstall(t *testing.T) {
	rootImg := bytes.Repeat([]byte("ext4"), 1000)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name    string
		bundle  func(r *room) []byte
		err     string
		entries []string
	}{
		{"good", func(r *room) []byte { return makeBundle(t, r.key, "qemu-x86_64", "v2", rootImg) }, "", []string{"stoa-a.conf", "stoa-b+3.conf"}},
		{"other key", func(r *room) []byte { return makeBundle(t, otherKey, "qemu-x86_64", "v2", rootImg) }, "bad signature", []string{"stoa-a.conf"}},
		{"other board", func(r *room) []byte { return makeBundle(t, r.key, "pc", "v2", rootImg) }, "for board", []string{"stoa-a.conf"}},
		{"running version", func(r *room) []byte { return makeBundle(t, r.key, "qemu-x86_64", "v1", rootImg) }, "already runs", []string{"stoa-a.conf"}},
		{"too large for slot", func(r *room) []byte { return makeBundle(t, r.key, "qemu-x86_64", "v2", make([]byte, 2<<20)) }, "does not fit", []string{"stoa-a.conf"}},
		{"payload tampered", func(r *room) []byte {
			b := makeBundle(t, r.key, "qemu-x86_64", "v2", rootImg)
			i := bytes.Index(b, []byte("ext4ext4"))
			b[i] = 'X'
			return b
		}, "does not match the signed manifest", []string{"stoa-a.conf"}},
		{"manifest tampered", func(r *room) []byte {
			return bytes.Replace(makeBundle(t, r.key, "qemu-x86_64", "v2", rootImg), []byte(`"v2"`), []byte(`"v9"`), 1)
		}, "bad signature", []string{"stoa-a.conf"}},
		{"truncated", func(r *room) []byte { return makeBundle(t, r.key, "qemu-x86_64", "v2", rootImg)[:3000] }, "install", []string{"stoa-a.conf"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoom(t, "a", "v1")
			res, err := r.sys.Install(bytes.NewReader(tc.bundle(r)))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Install = %+v, %v; want error containing %q", res, err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("Install: %v", err)
			}
			if got := strings.Join(r.entryNames(t), ","); got != strings.Join(tc.entries, ",") {
				t.Errorf("entries %s, want %v", got, tc.entries)
			}
			if tc.err != "" {
				return
			}
			got, _ := os.ReadFile(r.slots["b"])
			if !bytes.Equal(got[:len(rootImg)], rootImg) {
				t.Errorf("slot b does not hold the root image")
			}
			if k, _ := os.ReadFile(filepath.Join(r.sys.ESP, "stoa-b/vmlinuz")); string(k) != "kernel v2" {
				t.Errorf("stoa-b/vmlinuz = %q", k)
			}
			e, _ := os.ReadFile(filepath.Join(r.sys.ESP, "loader/entries", res.Entry))
			for _, want := range []string{"version 2-v2\n", "sort-key stoa\n", "linux /stoa-b/vmlinuz\n", "options root=PARTUUID=uuid-b stoa.slot=b ro console=ttyS0\n"} {
				if !strings.Contains(string(e), want) {
					t.Errorf("entry lacks %q:\n%s", want, e)
				}
			}
		})
	}
}

// TestInstallTrials walks the A/B cycle on the boot loader's entries: a pending install is
// not rewritten, a version whose trial failed is refused, and a new one replaces the old
// slot's entry with a higher sequence.
func TestInstallTrials(t *testing.T) {
	tests := []struct {
		name     string
		slot     string
		existing map[string]string // entry file → version line
		version  string
		err      string
		pending  bool
		entries  string
	}{
		{"pending trial not rewritten", "a", map[string]string{"stoa-b+3.conf": "2-v2"}, "v2", "", true, "stoa-a.conf,stoa-b+3.conf"},
		{"failed trial refused", "a", map[string]string{"stoa-b+0-3.conf": "2-v2"}, "v2", "failed its trial boot", false, "stoa-a.conf,stoa-b+0-3.conf"},
		{"newer replaces failed", "a", map[string]string{"stoa-b+0-3.conf": "2-v2"}, "v3", "", false, "stoa-a.conf,stoa-b+3.conf"},
		{"running slot on trial", "b", map[string]string{"stoa-b+2-1.conf": "2-v2"}, "v3", "on trial", false, "stoa-a.conf,stoa-b+2-1.conf"},
		{"from b into a", "b", map[string]string{"stoa-b.conf": "2-v2"}, "v3", "", false, "stoa-a+3.conf,stoa-b.conf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			running := "v1"
			if tc.slot == "b" {
				running = "v2"
			}
			r := newRoom(t, tc.slot, running)
			for name, v := range tc.existing {
				seq, ver, _ := strings.Cut(v, "-")
				os.WriteFile(filepath.Join(r.sys.ESP, "loader/entries", name), []byte("title x\nversion "+seq+"-"+ver+"\n"), 0o644)
			}
			res, err := r.sys.Install(bytes.NewReader(makeBundle(t, r.key, "qemu-x86_64", tc.version, []byte("root"))))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Install = %+v, %v; want error containing %q", res, err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("Install: %v", err)
			}
			if res.Pending != tc.pending {
				t.Errorf("pending %v, want %v", res.Pending, tc.pending)
			}
			if got := strings.Join(r.entryNames(t), ","); got != tc.entries {
				t.Errorf("entries %s, want %s", got, tc.entries)
			}
			if tc.err == "" && !tc.pending {
				es, _ := ReadEntries(r.sys.ESP)
				for _, e := range es {
					if e.File.String() == res.Entry && e.Seq != 3 {
						t.Errorf("new entry sequence %d, want 3 (after the existing 2)", e.Seq)
					}
				}
			}
		})
	}
}

func TestParseEntryName(t *testing.T) {
	tests := []struct {
		in      string
		want    EntryName
		bad     bool
		wantErr bool
	}{
		{"stoa-a.conf", EntryName{Slot: "a"}, false, false},
		{"stoa-b+3.conf", EntryName{Slot: "b", Counting: true, Left: 3}, false, false},
		{"stoa-b+2-1.conf", EntryName{Slot: "b", Counting: true, Left: 2, Done: 1}, false, false},
		{"stoa-a+0-1.conf", EntryName{Slot: "a", Counting: true, Left: 0, Done: 1}, true, false},
		{"stoa-c.conf", EntryName{}, false, true},
		{"debian.conf", EntryName{}, false, true},
		{"stoa-a+.conf", EntryName{}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEntryName(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				return
			}
			if got != tc.want || got.Bad() != tc.bad || got.String() != tc.in {
				t.Errorf("got %+v (bad %v, %s)", got, got.Bad(), got)
			}
		})
	}
}

// TestHealth serves roomd's status on a real unix socket.
func TestHealth(t *testing.T) {
	tests := []struct {
		name   string
		active bool
		status string
		err    string
	}{
		{"unpaired and ready", true, `{"state":"unpaired","code":"1234","online":false}`, ""},
		{"paired online", true, `{"state":"paired","online":true}`, ""},
		{"paired offline", true, `{"state":"paired","online":false}`, "management channel is down"},
		{"not ready", false, `{"state":"paired","online":true}`, "READY"},
		{"garbage", true, `not json`, "roomd status"},
		{"no socket", true, "", "local API"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "roomd.sock")
			if tc.status != "" {
				ln, err := net.Listen("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/v1/status" {
						http.NotFound(w, r)
						return
					}
					io.WriteString(w, tc.status)
				})}
				go srv.Serve(ln)
				t.Cleanup(func() { srv.Close() })
			}
			h := Health{Socket: sock, Poll: 10 * time.Millisecond, Active: func(context.Context) (bool, error) { return tc.active, nil }}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := h.Wait(ctx)
			if tc.err == "" && err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "not healthy")) {
				t.Fatalf("Wait = %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

func TestKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k", "update-signing.key")
	k1, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(p)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reloaded key differs: %v", err)
	}
	pub, err := ParsePublicKey([]byte(EncodePublicKey(k1.Public().(ed25519.PublicKey))))
	if err != nil || !pub.Equal(k1.Public()) {
		t.Fatalf("public key round trip: %v", err)
	}
	os.WriteFile(p, []byte("zz\n"), 0o600)
	if _, err := LoadOrCreateKey(p); err == nil {
		t.Errorf("a corrupt key file was accepted")
	}
}

func TestTrialState(t *testing.T) {
	entry := func(name string, seq int, ver string) Entry {
		n, err := ParseEntryName(name)
		if err != nil {
			t.Fatal(err)
		}
		return Entry{File: n, Seq: seq, Ver: ver}
	}
	for _, tc := range []struct {
		name            string
		st              State
		trial           bool
		failed, pending string
	}{
		{"fresh", State{Slot: "a", Version: "u1", Entries: []Entry{entry("stoa-a.conf", 1, "u1")}}, false, "", ""},
		{"installed", State{Slot: "a", Version: "u1", Entries: []Entry{entry("stoa-a.conf", 1, "u1"), entry("stoa-b+1.conf", 2, "u2")}}, false, "", "u2"},
		{"last try running", State{Slot: "b", Version: "u2", Entries: []Entry{entry("stoa-a.conf", 1, "u1"), entry("stoa-b+0-1.conf", 2, "u2")}}, true, "", ""},
		{"trial counting", State{Slot: "b", Version: "u2", Entries: []Entry{entry("stoa-a.conf", 1, "u1"), entry("stoa-b+2-1.conf", 2, "u2")}}, true, "", ""},
		{"rolled back", State{Slot: "b", Version: "u2", Entries: []Entry{entry("stoa-a+0-1.conf", 3, "u3"), entry("stoa-b.conf", 2, "u2")}}, false, "u3", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.OnTrial(); got != tc.trial {
				t.Errorf("OnTrial = %v, want %v", got, tc.trial)
			}
			if got, _ := tc.st.FailedTrial(); got != tc.failed {
				t.Errorf("FailedTrial = %q, want %q", got, tc.failed)
			}
			if got, _ := tc.st.Pending(); got != tc.pending {
				t.Errorf("Pending = %q, want %q", got, tc.pending)
			}
		})
	}
}
