package portal

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/provisioning/bundle"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
	"github.com/stoa-rooms/stoa/rootfs/update"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/services/portal/updates"
)

// makeUpdateBundle writes a real bundle (rootfs/update.WriteBundle) with tiny payload files.
func makeUpdateBundle(t *testing.T, key ed25519.PrivateKey, board, version string) []byte {
	t.Helper()
	d := t.TempDir()
	paths := map[string]string{}
	for name, data := range map[string]string{update.MemberRoot: "root filesystem of " + version, update.MemberKernel: "kernel " + version, update.MemberInitrd: "initrd " + version} {
		paths[name] = filepath.Join(d, name)
		if err := os.WriteFile(paths[name], []byte(strings.Repeat(data+"\n", 50)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := update.WriteBundle(&buf, key, board, version, "ro console=ttyS0", paths); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rebundle rewrites a bundle's tar with change applied to its members.
func rebundle(t *testing.T, b []byte, change func(names []string, data map[string][]byte) []string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	data := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		data[h.Name] = c
	}
	names = change(names, data)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(data[n])), Format: tar.FormatPAX})
		tw.Write(data[n])
	}
	tw.Close()
	return out.Bytes()
}

func (p *testPortal) uploadBundle(t *testing.T, b []byte) (int, api.Error, api.UpdateBundle) {
	t.Helper()
	var ub api.UpdateBundle
	code, body, err := p.sess.Do("POST", "/api/v1/updates", b, "application/octet-stream", &ub)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	var e api.Error
	if code >= 300 {
		json.Unmarshal(body, &e)
	}
	return code, e, ub
}

func (p *testPortal) bundles(t *testing.T) []api.UpdateBundle {
	t.Helper()
	var bs []api.UpdateBundle
	if code, body, err := p.sess.Do("GET", "/api/v1/updates", nil, "", &bs); err != nil || code != 200 {
		t.Fatalf("list updates: %d %s %v", code, body, err)
	}
	return bs
}

// updateFiles lists the bundle folder (temporary uploads included).
func (p *testPortal) updateFiles(t *testing.T) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(p.dir, updates.DirName))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestUpdateBundles: Super Admin → Updates over the real API: a real bundle is stored (file and
// row, byte for byte) and listed; each kind of bad bundle is refused with a message naming
// the defect and leaves neither file nor row; duplicates and oversized uploads are refused;
// delete removes both.
func TestUpdateBundles(t *testing.T) {
	p := startPortalWith(t, portalOptions{noHTTP: true, maxUpdateBytes: 64 << 10})
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	good := makeUpdateBundle(t, key, "qemu-x86_64", "u2")

	t.Run("upload and list", func(t *testing.T) {
		code, e, ub := p.uploadBundle(t, good)
		if code != http.StatusCreated {
			t.Fatalf("upload: %d %+v", code, e)
		}
		sum := sha256.Sum256(good)
		if ub.Board != "qemu-x86_64" || ub.Version != "u2" || ub.Size != int64(len(good)) || ub.SHA256 != hex.EncodeToString(sum[:]) || ub.UploadedBy != "admin" {
			t.Fatalf("stored %+v", ub)
		}
		if bs := p.bundles(t); len(bs) != 1 || bs[0].SHA256 != ub.SHA256 {
			t.Fatalf("list %+v", bs)
		}
		path := updates.Path(p.dir, "qemu-x86_64", "u2")
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, good) {
			t.Fatalf("stored file differs from the upload (%v)", err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
			t.Errorf("bundle file mode %v, want 0640", st.Mode().Perm())
		}
		if files := p.updateFiles(t); !slices.Equal(files, []string{"qemu-x86_64-u2.bundle"}) {
			t.Errorf("bundle folder holds %v", files)
		}
	})

	bad := []struct {
		name, want string
		b          []byte
	}{
		{"garbled tar", "manifest.json", bytes.Repeat([]byte("garbage!"), 300)},
		{"bad manifest", "manifest: version", rebundle(t, makeUpdateBundle(t, key, "pc", "u3"), func(n []string, d map[string][]byte) []string {
			d[update.MemberManifest] = bytes.Replace(d[update.MemberManifest], []byte(`"u3"`), []byte(`"../u3"`), 1)
			return n
		})},
		{"digest mismatch", "vmlinuz: payload does not match", rebundle(t, makeUpdateBundle(t, key, "pc", "u3"), func(n []string, d map[string][]byte) []string {
			d[update.MemberKernel][0] ^= 1
			return n
		})},
		{"truncated", "truncated", makeUpdateBundle(t, key, "pc", "u3")[:1800]},
		{"extra member", `extra member "evil"`, rebundle(t, makeUpdateBundle(t, key, "pc", "u3"), func(n []string, d map[string][]byte) []string {
			d["evil"] = []byte("x")
			return append(n, "evil")
		})},
	}
	for _, tc := range bad {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			code, e, _ := p.uploadBundle(t, tc.b)
			if code != http.StatusBadRequest || e.Code != "update.invalid" || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("upload: %d %+v, want 400 update.invalid naming %q", code, e, tc.want)
			}
			if bs := p.bundles(t); len(bs) != 1 {
				t.Errorf("refused bundle listed: %+v", bs)
			}
			if files := p.updateFiles(t); !slices.Equal(files, []string{"qemu-x86_64-u2.bundle"}) {
				t.Errorf("refused bundle left files: %v", files)
			}
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		other := makeUpdateBundle(t, key, "qemu-x86_64", "u2") // same board and version, built again
		if code, e, _ := p.uploadBundle(t, other); code != http.StatusConflict || e.Code != "update.exists" {
			t.Fatalf("duplicate: %d %+v", code, e)
		}
		if files := p.updateFiles(t); len(files) != 1 {
			t.Errorf("duplicate left files: %v", files)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := append(append([]byte{}, good...), make([]byte, 64<<10)...)
		if code, e, _ := p.uploadBundle(t, big); code != http.StatusRequestEntityTooLarge || e.Code != "update.too_large" {
			t.Fatalf("oversized upload: %d %+v", code, e)
		}
		if files := p.updateFiles(t); len(files) != 1 {
			t.Errorf("oversized upload left files: %v", files)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if code, body, _ := p.sess.Do("DELETE", "/api/v1/updates/qemu-x86_64/u2", nil, "", nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", code, body)
		}
		if bs := p.bundles(t); len(bs) != 0 {
			t.Errorf("deleted bundle listed: %+v", bs)
		}
		if files := p.updateFiles(t); len(files) != 0 {
			t.Errorf("deleted bundle's file left: %v", files)
		}
		if code, _, _ := p.sess.Do("DELETE", "/api/v1/updates/qemu-x86_64/u2", nil, "", nil); code != http.StatusNotFound {
			t.Errorf("delete again: %d, want 404", code)
		}
	})
	t.Run("audited", func(t *testing.T) {
		rp := &roomsPortal{testPortal: p}
		if len(rp.audits(t, "update.upload", "admin")) != 1 || len(rp.audits(t, "update.delete", "admin")) != 1 {
			t.Error("upload and delete are not each audited once")
		}
	})
}

// roomGet fetches a management path with the room's client certificate.
func roomGet(t *testing.T, c *http.Client, g pairing.Grant, path string) (int, []byte, api.Error) {
	t.Helper()
	resp, err := c.Get(g.MgmtURL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e api.Error
	if resp.StatusCode != 200 {
		json.Unmarshal(b, &e)
	}
	return resp.StatusCode, b, e
}

func (p *roomsPortal) startUpdate(t *testing.T, id, version string) (int, api.Error, api.Room) {
	t.Helper()
	var room api.Room
	code, body, err := p.sess.Do("POST", "/api/v1/rooms/"+id+"/update", api.StartUpdateRequest{Version: version}, "", &room)
	if err != nil {
		t.Fatal(err)
	}
	var e api.Error
	if code != 200 {
		json.Unmarshal(body, &e)
	}
	return code, e, room
}

// TestRoomUpdate: the whole portal side of an update for one paired room, with the room played
// over its real mTLS management channel.
func TestRoomUpdate(t *testing.T) {
	p := startRoomsPortal(t)
	g, rkey := pairRoom(t, p, "Boardroom")
	mc := p.mgmtClient(t, g, rkey)
	g2, rkey2 := pairRoom(t, p, "Lobby")
	mc2 := p.mgmtClient(t, g2, rkey2)

	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	bundles := map[string][]byte{
		"u2":      makeUpdateBundle(t, key, "qemu-x86_64", "u2"),
		"u5":      makeUpdateBundle(t, key, "qemu-x86_64", "u5"),
		"rpi":     makeUpdateBundle(t, key, "rpi4", "u3"),
		"foreign": makeUpdateBundle(t, otherKey, "qemu-x86_64", "u4"),
	}
	for name, b := range bundles {
		if code, e, _ := p.uploadBundle(t, b); code != http.StatusCreated {
			t.Fatalf("upload %s: %d %+v", name, code, e)
		}
	}
	sys := &api.RoomSystem{Board: "qemu-x86_64", Slot: "a", Version: "u1", UpdateKey: hex.EncodeToString(pub)}
	// report polls as the room (bundle version 0: the portal answers at once).
	report := func(t *testing.T, c *http.Client, g pairing.Grant, sys *api.RoomSystem, up *api.RoomUpdate) api.RoomCommand {
		t.Helper()
		code, cmd, e, err := poll(c, g, api.RoomStatus{Firmware: "0.1.0", System: sys, Update: up})
		if err != nil || code != 200 {
			t.Fatalf("poll: %d %+v %v", code, e, err)
		}
		return cmd
	}
	roomUpdate := func(t *testing.T) *api.RoomUpdate {
		t.Helper()
		r, _ := p.room(t, g.RoomID)
		return r.Update
	}

	t.Run("refused without a system", func(t *testing.T) {
		report(t, mc, g, nil, nil)
		if code, e, _ := p.startUpdate(t, g.RoomID, "u2"); code != http.StatusConflict || e.Code != "room.no_system" {
			t.Fatalf("start: %d %+v", code, e)
		}
		if roomUpdate(t) != nil {
			t.Fatal("refused update stored")
		}
	})
	report(t, mc, g, sys, nil)
	t.Run("room shows its system", func(t *testing.T) {
		r, _ := p.room(t, g.RoomID)
		if r.System == nil || *r.System != *sys {
			t.Fatalf("room system %+v, want %+v", r.System, sys)
		}
	})
	for _, tc := range []struct{ name, version, code string }{
		{"other board", "u3", "update.board"},
		{"running version", "u1", "update.running"},
		{"signed by another key", "u4", "update.key"},
		{"no such bundle", "u9", "update.unknown"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			code, e, _ := p.startUpdate(t, g.RoomID, tc.version)
			if code < 400 || e.Code != tc.code {
				t.Fatalf("start %s: %d %+v, want %s", tc.version, code, e, tc.code)
			}
			if tc.code == "update.key" && !strings.Contains(e.Message, "not signed by the update key this room trusts") {
				t.Errorf("message %q", e.Message)
			}
			if roomUpdate(t) != nil {
				t.Fatal("refused update stored")
			}
			if cmd := report(t, mc, g, sys, nil); cmd.Update != nil {
				t.Fatalf("refused update offered: %+v", cmd.Update)
			}
		})
	}

	sum := sha256.Sum256(bundles["u2"])
	t.Run("accepted: the waiting poll gets the offer", func(t *testing.T) {
		// The room long-polls with its bundle current: starting the update wakes it (or, had
		// the start come first, the poll's own answer carries the offer).
		b, err := bundle.Verify(g.Bundle, g.BundleKey)
		if err != nil {
			t.Fatal(err)
		}
		polled := make(chan api.RoomCommand, 1)
		go func() {
			_, cmd, _, _ := poll(mc, g, api.RoomStatus{Firmware: "0.1.0", BundleVersion: b.Version, System: sys})
			polled <- cmd
		}()
		started := time.Now()
		code, e, room := p.startUpdate(t, g.RoomID, "u2")
		if code != 200 || room.Update == nil || room.Update.State != api.UpdateOffered || room.Update.Version != "u2" {
			t.Fatalf("start: %d %+v %+v", code, e, room.Update)
		}
		cmd := <-polled
		t.Logf("offer reached the long-polling room %v after the start", time.Since(started).Round(time.Millisecond))
		if len(cmd.Bundle) != 0 {
			t.Errorf("the answer carries a trust bundle the room already has")
		}
		want := api.UpdateOffer{Version: "u2", Board: "qemu-x86_64", Size: int64(len(bundles["u2"])), SHA256: hex.EncodeToString(sum[:]), Path: "/api/v1/room/update/u2"}
		if cmd.Update == nil || *cmd.Update != want {
			t.Fatalf("poll answer offer %+v, want %+v", cmd.Update, want)
		}
		if len(p.audits(t, "room.update.start", "admin")) != 1 {
			t.Error("start not audited")
		}
	})
	t.Run("download serves exactly the bundle to that room only", func(t *testing.T) {
		code, body, e := roomGet(t, mc, g, "/api/v1/room/update/u2")
		if code != 200 || !bytes.Equal(body, bundles["u2"]) {
			t.Fatalf("download: %d %+v (%d bytes, want %d)", code, e, len(body), len(bundles["u2"]))
		}
		for _, tc := range []struct {
			name string
			c    *http.Client
			g    pairing.Grant
			path string
		}{
			{"other version", mc, g, "/api/v1/room/update/u5"},
			{"foreign version", mc, g, "/api/v1/room/update/u4"},
			{"other room", mc2, g2, "/api/v1/room/update/u2"},
		} {
			if code, _, e := roomGet(t, tc.c, tc.g, tc.path); code != 404 || e.Code != "room.no_update" {
				t.Errorf("%s: %d %+v, want 404 room.no_update", tc.name, code, e)
			}
		}
		if code, _, _ := p.sess.Do("DELETE", "/api/v1/updates/qemu-x86_64/u2", nil, "", nil); code != http.StatusConflict {
			t.Errorf("delete of an offered bundle: %d, want 409", code)
		}
	})
	t.Run("progress", func(t *testing.T) {
		cmd := report(t, mc, g, sys, &api.RoomUpdate{Version: "u2", State: api.UpdateDownloading, Bytes: 1000, Total: int64(len(bundles["u2"]))})
		if cmd.Update == nil || cmd.Update.Version != "u2" {
			t.Fatalf("offer gone while downloading: %+v", cmd.Update)
		}
		if u := roomUpdate(t); u == nil || u.State != api.UpdateDownloading || u.Bytes != 1000 || u.Total != int64(len(bundles["u2"])) {
			t.Fatalf("room update %+v", u)
		}
		report(t, mc, g, sys, &api.RoomUpdate{Version: "u2", State: api.UpdateRebooting})
		if u := roomUpdate(t); u == nil || u.State != api.UpdateRebooting {
			t.Fatalf("room update %+v", u)
		}
	})
	t.Run("done once the room runs it", func(t *testing.T) {
		sys.Version, sys.Slot, sys.OnTrial = "u2", "b", true
		cmd := report(t, mc, g, sys, nil)
		if cmd.Update != nil {
			t.Fatalf("offer still made to a room running u2: %+v", cmd.Update)
		}
		if u := roomUpdate(t); u == nil || u.State != api.UpdateDone {
			t.Fatalf("room update %+v", u)
		}
		if code, _, _ := roomGet(t, mc, g, "/api/v1/room/update/u2"); code != 404 {
			t.Errorf("download after done: %d, want 404", code)
		}
		if len(p.audits(t, "room.update.done", "room:"+g.RoomID)) != 1 {
			t.Error("done not audited")
		}
	})
	t.Run("failed with the room's reason", func(t *testing.T) {
		if code, e, _ := p.startUpdate(t, g.RoomID, "u5"); code != 200 {
			t.Fatalf("start u5: %d %+v", code, e)
		}
		reason := "u5 did not become healthy on its trial boot; rolled back to u2 (slot b)"
		cmd := report(t, mc, g, sys, &api.RoomUpdate{Version: "u5", State: api.UpdateFailed, Error: reason})
		if cmd.Update != nil {
			t.Fatalf("offer still made after failure: %+v", cmd.Update)
		}
		if u := roomUpdate(t); u == nil || u.State != api.UpdateFailed || u.Error != reason {
			t.Fatalf("room update %+v", u)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		if code, e, _ := p.startUpdate(t, g.RoomID, "u5"); code != 200 {
			t.Fatalf("start u5 again: %d %+v", code, e)
		}
		if cmd := report(t, mc, g, sys, nil); cmd.Update == nil {
			t.Fatal("no offer after restart")
		}
		code, e, room := p.startUpdate(t, g.RoomID, "")
		if code != 200 || room.Update != nil {
			t.Fatalf("cancel: %d %+v %+v", code, e, room.Update)
		}
		if cmd := report(t, mc, g, sys, nil); cmd.Update != nil {
			t.Fatalf("offer after cancel: %+v", cmd.Update)
		}
		if code, _, _ := roomGet(t, mc, g, "/api/v1/room/update/u5"); code != 404 {
			t.Errorf("download after cancel: %d", code)
		}
	})
	t.Run("bad reports refused", func(t *testing.T) {
		for _, st := range []api.RoomStatus{
			{System: &api.RoomSystem{Board: "../x", Slot: "a", Version: "u1"}},
			{System: &api.RoomSystem{Board: "pc", Slot: "c", Version: "u1"}},
			{Update: &api.RoomUpdate{Version: "u2", State: "exploded"}},
			{Update: &api.RoomUpdate{Version: "u2", State: api.UpdateDownloading, Bytes: 5, Total: 4}},
		} {
			if code, _, _, _ := poll(mc, g, st); code != http.StatusBadRequest {
				t.Errorf("poll %+v %+v: %d, want 400", st.System, st.Update, code)
			}
		}
	})
}
