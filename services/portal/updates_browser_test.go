package portal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/browser"
)

// TestBrowserUpdates drives Super Admin → Updates and Admin → Rooms in Debian's Chromium
// against a real portal, the room played over its mTLS management channel: the upload stores
// the bundle (the progress bar ends at 100), the Rooms page shows the room's board, slot and
// version, "Update…" offers the bundle for the room's board, the room's next poll carries the
// offer, and the room's reported download progress appears as a percentage.
func TestBrowserUpdates(t *testing.T) {
	p := startRoomsPortal(t)
	g, rkey := pairRoom(t, p, "Board Room")
	mc := p.mgmtClient(t, g, rkey)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	file := filepath.Join(t.TempDir(), "stoa-qemu-x86_64-u2.bundle")
	b := makeUpdateBundle(t, key, "qemu-x86_64", "u2")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sys := &api.RoomSystem{Board: "qemu-x86_64", Slot: "a", Version: "u1", UpdateKey: hex.EncodeToString(pub)}
	report := func(up *api.RoomUpdate) api.RoomCommand {
		t.Helper()
		code, cmd, e, err := poll(mc, g, api.RoomStatus{Firmware: "0.1.0", System: sys, Update: up})
		if err != nil || code != 200 {
			t.Fatalf("poll: %d %+v %v", code, e, err)
		}
		return cmd
	}
	report(nil)

	ctx := browser.New(t, browser.IgnoreCertificateErrors())
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %v (console: %v)", err, browser.Console(ctx))
		}
	}
	waitJS := func(expr, what string) {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(pctx, chromedp.Poll[bool](expr)); err != nil {
			t.Fatalf("waiting for %s: %v (console: %v)", what, err, browser.Console(ctx))
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}

	do(
		chromedp.Navigate(p.base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), p.BootstrapPassword()),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#app-header")),
		chromedp.Click(chromedp.CSS(`a[href="updates.html"]`)),
		chromedp.WaitVisible(chromedp.CSS("#upload-file")),
		chromedp.WaitVisible(chromedp.CSS("#updates-empty")),
	)

	t.Run("upload with progress", func(t *testing.T) {
		do(
			chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{file}),
			chromedp.Click(chromedp.CSS("#upload-submit")),
		)
		waitJS(`document.querySelector('#updates-body tr[data-version="u2"]') !== null`, "the bundle's row")
		if got := text(`#updates-body tr[data-version="u2"] .bundle-board`); got != "qemu-x86_64" {
			t.Errorf("board cell %q", got)
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("upload-progress").value`))
		if err != nil || v != 100 {
			t.Errorf("progress bar at %d (%v), want 100", v, err)
		}
		if bs := p.bundles(t); len(bs) != 1 || bs[0].Size != int64(len(b)) {
			t.Fatalf("portal holds %+v", bs)
		}
	})

	t.Run("bad upload shows the server's message", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.bundle")
		os.WriteFile(bad, []byte(strings.Repeat("garbage!", 200)), 0o644)
		do(
			chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{bad}),
			chromedp.Click(chromedp.CSS("#upload-submit")),
		)
		waitJS(`!document.getElementById("upload-error").hidden`, "the upload error")
		if msg := text("#upload-error"); !strings.Contains(msg, "bundle refused") {
			t.Errorf("#upload-error %q", msg)
		}
	})

	row := `#rooms-body tr[data-room-id="` + g.RoomID + `"]`
	t.Run("rooms page shows the system and starts the update", func(t *testing.T) {
		do(
			chromedp.Click(chromedp.CSS(`a[href="rooms.html"]`)),
			chromedp.WaitVisible(chromedp.CSS(row)),
		)
		for sel, want := range map[string]string{".room-board": "qemu-x86_64", ".room-slot": "A", ".room-version": "u1", ".room-update": "—"} {
			if got := text(row + " " + sel); got != want {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		do(
			chromedp.Click(chromedp.CSS(row+` button[data-action="update"]`)),
			chromedp.WaitVisible(chromedp.CSS("#update-section")),
		)
		waitJS(`document.querySelector('#update-version option[value="u2"]') !== null`, "u2 among the versions")
		do(chromedp.Click(chromedp.CSS("#update-start")))
		waitJS(`document.querySelector(`+strconv.Quote(row+" .room-update")+`)?.dataset.state === "offered"`, "the room's update offered")
		cmd := report(nil)
		if cmd.Update == nil || cmd.Update.Version != "u2" {
			t.Fatalf("the room's poll carries no offer of u2: %+v", cmd.Update)
		}
	})

	t.Run("the room's progress shows", func(t *testing.T) {
		report(&api.RoomUpdate{Version: "u2", State: api.UpdateDownloading, Bytes: int64(len(b)) / 2, Total: int64(len(b))})
		do(chromedp.Click(chromedp.CSS("#rooms-refresh")))
		waitJS(`(document.querySelector(`+strconv.Quote(row+" .room-update")+`)?.textContent || "").includes("downloading 50%")`, "downloading 50%")
		sys.Version, sys.Slot = "u2", "b"
		report(nil)
		do(chromedp.Click(chromedp.CSS("#rooms-refresh")))
		waitJS(`document.querySelector(`+strconv.Quote(row+" .room-update")+`)?.dataset.state === "done"`, "the update done")
		if got := text(row + " .room-slot"); got != "B" {
			t.Errorf("slot after the update %q, want B", got)
		}
	})
	// The refused upload logs its 400 in the console; nothing else may fail in the page.
	for _, m := range browser.Console(ctx) {
		if m.Type == chromedp.ConsoleException || (m.Type == "error" && !strings.Contains(m.Text, "400")) {
			t.Errorf("console: %s %s", m.Type, m.Text)
		}
	}
}
