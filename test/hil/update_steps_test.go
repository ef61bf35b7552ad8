package hil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/image"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/stoatest"
)

// updateSteps are HIL step 6 on the paired room, through the portal as an admin would do it:
// Super Admin → Updates uploads two signed bundles, Admin → Rooms starts each update. u2 is
// good: the room downloads it over its management channel, writes slot B, reboots into it on
// trial and systemd-bless-boot marks it good once roomd is READY and online again. u3's roomd
// never sends READY: its trial boot fails the health check, the room reboots, systemd-boot finds
// A's tries used up and boots B again, and the room reports the failed update to the portal.
func updateSteps(bundles *hilBundles) []hilStep {
	return []hilStep{
		{"update bundles built and uploaded to the portal", bundles.upload},
		{"good update from the portal: installed, rebooted into, marked good", bundles.stepGood},
		{"bad update from the portal: trial boot fails, room rolls back", bundles.stepBad},
	}
}

// hilBundles carries what the update steps share.
type hilBundles struct {
	cfg   image.Config // the booted image's build configuration (Version "hil")
	sizes map[string]int64
}

var (
	reReport = func(slot, version, entries string) *regexp.Regexp {
		return regexp.MustCompile(`stoa-update: slot=` + slot + ` version=` + version + ` board=qemu-x86_64 entries=` + regexp.QuoteMeta(entries))
	}
	reHealthy   = regexp.MustCompile(`stoa-update: healthy after`)
	reUnhealthy = regexp.MustCompile(`stoa-update: UNHEALTHY after`)
)

// upload builds bundle u2 (the same roomd as the image) and u3 (a roomd that never sends
// READY), signed with the key the image trusts, and uploads both through the portal API.
func (b *hilBundles) upload(ctx context.Context, t *testing.T, r *hilRig) {
	work := t.TempDir()
	badRoomd := filepath.Join(work, "roomd-never-ready")
	if err := os.WriteFile(badRoomd, []byte("#!/bin/sh\n# Never sends READY: the update's trial boot must fail.\nexec sleep infinity\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.sizes = map[string]int64{}
	for _, v := range []struct{ version, roomd string }{{"u2", b.cfg.Roomd}, {"u3", badRoomd}} {
		c := b.cfg
		c.Version, c.Roomd = v.version, v.roomd
		c.OutDir = filepath.Join(work, "out")
		t0 := time.Now()
		res, err := image.BuildBundle(ctx, c)
		if err != nil {
			t.Fatalf("build bundle %s: %v", v.version, err)
		}
		t.Logf("FIGURE update bundle %s: %d MiB (root image %d MiB), built in %s", v.version, res.Bytes>>20, res.RootBytes>>20, time.Since(t0).Round(time.Second))
		t0 = time.Now()
		var got api.UpdateBundle
		if err := uploadBundle(ctx, r.sess, res.Bundle, &got); err != nil {
			t.Fatalf("upload bundle %s: %v", v.version, err)
		}
		if got.Board != "qemu-x86_64" || got.Version != v.version || got.Size != res.Bytes {
			t.Fatalf("portal stored %+v, want board qemu-x86_64 version %s size %d", got, v.version, res.Bytes)
		}
		t.Logf("FIGURE upload %s to the portal: %s", v.version, time.Since(t0).Round(100*time.Millisecond))
		b.sizes[v.version] = res.Bytes
		os.Remove(res.Bundle)
	}
	var list []api.UpdateBundle
	if c, body, err := r.sess.Do(http.MethodGet, "/api/v1/updates", nil, "", &list); err != nil || c != http.StatusOK {
		t.Fatalf("GET /api/v1/updates: %d %v %s", c, err, body)
	}
	if len(list) != 2 {
		t.Fatalf("portal lists %d bundles, want u2 and u3: %+v", len(list), list)
	}
	room := roomState(t, r)
	if room.System == nil || room.System.Slot != "a" || room.System.Version != "hil" || room.System.Board != "qemu-x86_64" {
		t.Fatalf("room reports system %+v, want board qemu-x86_64 slot a version hil", room.System)
	}
}

// uploadBundle streams the bundle file to POST /api/v1/updates (never whole in memory).
func uploadBundle(ctx context.Context, s *stoatest.Session, path string, out *api.UpdateBundle) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Base+"/api/v1/updates", f)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-CSRF-Token", s.CSRF)
	req.Header.Set("Origin", s.Base)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// startUpdate is Admin → Rooms → Update….
func startUpdate(t *testing.T, r *hilRig, version string) {
	t.Helper()
	if c, body, err := r.sess.Do(http.MethodPost, "/api/v1/rooms/"+r.room.ID+"/update", api.StartUpdateRequest{Version: version}, "", nil); err != nil || c >= 300 {
		t.Fatalf("start update %s: %d %v %s", version, c, err, body)
	}
}

// watchProgress polls the portal's view of the room's update until it reaches state, logging
// each new state and the largest download progress seen; it fails on an unexpected failure.
func watchProgress(ctx context.Context, t *testing.T, r *hilRig, version, state string, within time.Duration) api.Room {
	t.Helper()
	seen := ""
	var maxBytes, total int64
	deadline := time.Now().Add(within)
	for {
		room := roomState(t, r)
		if u := room.Update; u != nil && u.Version == version {
			if u.State != seen {
				t.Logf("portal: room update %s: %s %s", version, u.State, u.Error)
				seen = u.State
			}
			if u.State == api.UpdateDownloading && u.Bytes > maxBytes {
				maxBytes, total = u.Bytes, u.Total
			}
			if u.State == state {
				if maxBytes > 0 {
					t.Logf("portal saw download progress up to %d of %d MiB", maxBytes>>20, total>>20)
				}
				return room
			}
			if u.State == api.UpdateFailed {
				t.Fatalf("update %s failed: %s", version, u.Error)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("update %s: not %s within %s; room %+v update %+v", version, state, within, room.System, room.Update)
		}
		time.Sleep(time.Second)
	}
}

func (b *hilBundles) stepGood(ctx context.Context, t *testing.T, r *hilRig) {
	off := len(r.con.String())
	t0 := time.Now()
	startUpdate(t, r, "u2")
	watchProgress(ctx, t, r, "u2", api.UpdateRebooting, 8*time.Minute)
	t.Logf("FIGURE good update: started to installed (%d MiB over the management channel) in %s", b.sizes["u2"]>>20, time.Since(t0).Round(time.Second))
	wait := func(name string, re *regexp.Regexp) {
		t.Helper()
		m, o, err := r.con.wait(ctx, re, off)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		off = o
		t.Logf("%s after %s: %s", name, time.Since(t0).Round(time.Second), m[0])
	}
	boot := off
	wait("u2 healthy on trial", reHealthy)
	r.sameMachineID(ctx, t, boot, "u2's trial boot")
	wait("u2 marked good", reReport("b", "u2", "stoa-a.conf(1-hil),stoa-b.conf(2-u2)"))
	// The room's first poll on u2 may still say "on trial" (it can come before
	// systemd-bless-boot); the next one reports the slot marked good.
	room := waitRoom(ctx, t, r, "back online on u2, marked good", 3*time.Minute, func(x api.Room) bool {
		return x.Online && x.System != nil && x.System.Version == "u2" && !x.System.OnTrial
	})
	if s := room.System; s.Slot != "b" {
		t.Errorf("portal: room system %+v, want slot b", *s)
	}
	if u := room.Update; u == nil || u.Version != "u2" || u.State != api.UpdateDone {
		t.Errorf("portal: room update %+v, want u2 done", u)
	}
	t.Logf("FIGURE good update: started to marked good and online in %s", time.Since(t0).Round(time.Second))
}

func (b *hilBundles) stepBad(ctx context.Context, t *testing.T, r *hilRig) {
	off := len(r.con.String())
	t0 := time.Now()
	startUpdate(t, r, "u3")
	watchProgress(ctx, t, r, "u3", api.UpdateRebooting, 8*time.Minute)
	wait := func(name string, re *regexp.Regexp) {
		t.Helper()
		m, o, err := r.con.wait(ctx, re, off)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		off = o
		t.Logf("%s after %s: %s", name, time.Since(t0).Round(time.Second), m[0])
	}
	wait("u3 unhealthy on trial", reUnhealthy)
	rolledBack := off
	wait("rolled back to B", reReport("b", "u2", "stoa-a+0-1.conf(3-u3),stoa-b.conf(2-u2)"))
	r.sameMachineID(ctx, t, rolledBack, "the boot back on B")
	room := waitRoom(ctx, t, r, "back online on u2 with u3 failed", 3*time.Minute, func(x api.Room) bool {
		return x.Online && x.Update != nil && x.Update.Version == "u3" && x.Update.State == api.UpdateFailed
	})
	if s := room.System; s == nil || s.Slot != "b" || s.Version != "u2" {
		t.Errorf("portal: room system %+v, want slot b version u2", s)
	}
	if !strings.Contains(room.Update.Error, "rolled back") {
		t.Errorf("portal: failed update's error %q does not say the room rolled back", room.Update.Error)
	}
	t.Logf("portal: %s", room.Update.Error)
	t.Logf("FIGURE bad update: started to rolled back and online in %s", time.Since(t0).Round(time.Second))
}
