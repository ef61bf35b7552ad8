package hil

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/rootfs/image"
	"github.com/stoa-rooms/stoa/rootfs/qemu"
	"github.com/stoa-rooms/stoa/services/api"
	"github.com/stoa-rooms/stoa/test/stoatest"
	"github.com/stoa-rooms/stoa/test/vm/vmkit"
)

// portalName is the portal's name inside the guest; the image's site configuration maps it
// to qemu.GuestPortal, which QEMU forwards to the test's portal on the host.
const portalName = "portal.stoa.test"

var (
	reReady  = regexp.MustCompile(`stoa: roomd READY`)
	reDiag   = regexp.MustCompile(`stoa-diag: watchdog=(\S*) runtime_watchdog=(\S*) root=(\S*) data_bytes=(\d*) journal=(\S*) machine_id=(\S*)`)
	rePinned = regexp.MustCompile(`stoa-update: machine ID pinned in 1 boot entries`)
	reCode   = regexp.MustCompile(`Pairing code: ([0-9][0-9 -]*[0-9])`)
)

// TestMain lets QEMU run this test binary as the per-connection relay of the guest's
// forwards (qemu.MaybeRelay).
func TestMain(m *testing.M) {
	qemu.MaybeRelay()
	os.Exit(m.Run())
}

// TestImageBoots builds the qemu-x86_64 image (the Debian base comes from the cache after the
// first build), boots it under TCG with user networking restricted to the test's portal,
// waits for roomd to be READY, reads the pairing QR code from the screen and the code from
// the console, pairs the room through the portal API and sees it come online.
func TestImageBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("boots the appliance image in QEMU (minutes)")
	}
	// A cold cache runs mmdebstrap first; the update steps reboot the guest three times.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()

	// The portal is portal.stoa.test, as the room knows it; the server's own components reach
	// it on loopback through a private /etc/hosts (mount namespace; the machine's file stays).
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost "+portalName+"\n::1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The guest reaches the proxy's TURN over TCP through a forward, by the portal's name:
	// proxy.turn_host makes every TURN URL name it, on a port chosen here so QEMU can forward it.
	turnTCP := freeTCPAddr(t)
	srvCfg := filepath.Join(t.TempDir(), "stoa-server.json")
	if err := os.WriteFile(srvCfg, []byte(`{"proxy": {"turn_host": "`+portalName+`"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	st := stoatest.Start(t, stoatest.Options{Args: []string{"--fqdn", portalName, "--config", srvCfg, "--turn-tcp-addr", turnTCP}, Wrap: []string{
		"unshare", "--mount", "--propagation", "private", "--", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, hosts}})

	cacheDir := image.DefaultCacheDir()
	t0 := time.Now()
	imgCfg := image.Config{
		Board: "qemu-x86_64", Version: "hil", RepoRoot: stoatest.RepoRoot(),
		OutDir: filepath.Join(cacheDir, "hil"), CacheDir: cacheDir,
		SiteConfig: filepath.Join("testdata", "stoa-config.json"),
		Roomd:      os.Getenv("STOA_HIL_ROOMD"), // a prebuilt roomd for a quick loop
		Quick:      true, Out: logWriter{t},
	}
	res, err := image.Run(ctx, imgCfg)
	if err != nil {
		t.Fatalf("build image: %v", err)
	}
	t.Logf("FIGURE image build: %s; image %d MiB raw, root content %d MiB", time.Since(t0).Round(time.Second), res.ImageBytes>>20, res.RootBytes>>20)

	con := &console{}
	vmDir, err := os.MkdirTemp("", "stoa-hil-") // short: unix socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(vmDir) })
	hook, err := listenHook()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hook.Close() })
	boot := time.Now()
	vm, err := qemu.Start(ctx, qemu.Options{
		Image: res.Image, Dir: vmDir, Console: con,
		Forwards: append(qemu.PortalForwards(st.PortalHost, st.InternalAddr, turnTCP),
			qemu.Forward{Guest: qemu.GuestPortal + ":" + hookGuestPort, Host: hook.ln.Addr().String()}),
	})
	if err != nil {
		t.Fatal(err)
	}
	cam, ctl := attachDevices(ctx, t, vm)
	t.Cleanup(func() {
		vm.Stop()
		if t.Failed() {
			t.Logf("guest console (head):\n%s", con.Head(40000))
			t.Logf("guest console (tail):\n%s", con.Tail(8000))
		}
	})

	codeM, _, err := con.wait(ctx, reCode, 0)
	if err != nil {
		t.Fatalf("no pairing code on the console: %v", err)
	}
	if _, _, err := con.wait(ctx, reReady, 0); err != nil {
		t.Fatalf("roomd never READY: %v", err)
	}
	ready := time.Since(boot)
	t.Logf("FIGURE boot to roomd READY: %s (TCG, 2 vCPUs)", ready.Round(100*time.Millisecond))
	code := strings.NewReplacer(" ", "", "-", "").Replace(codeM[1])

	// The image as it runs: hardware watchdog armed, root read-only, data grown to the disk,
	// journal on the data partition.
	diag, _, err := con.wait(ctx, reDiag, 0)
	if err != nil {
		t.Fatalf("no image facts on the console: %v", err)
	}
	t.Logf("image facts: %s", diag[0])
	if diag[1] != "i6300ESB_timer" || diag[2] != "30s" {
		t.Errorf("hardware watchdog: driver %q timeout %q, want i6300ESB_timer 30s", diag[1], diag[2])
	}
	// The first boot's (transient) machine ID is written into slot A's command line: the
	// update steps see it survive reboots into other slots.
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(diag[6]) {
		t.Errorf("machine ID %q", diag[6])
	}
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
	if _, _, err := con.wait(pctx, rePinned, 0); err != nil {
		t.Errorf("first boot: machine ID not pinned: %v", err)
	}
	pcancel()
	if diag[3] != "ro" {
		t.Errorf("root mounted %q, want ro", diag[3])
	}
	// The 4 GiB overlay disk leaves 4 GiB - image size for the data partition to grow into.
	if n, _ := strconv.ParseInt(diag[4], 10, 64); n < (4<<30-res.ImageBytes)*9/10 {
		t.Errorf("data file system %s bytes: not grown to the 4 GiB disk", diag[4])
	}

	// The screen shows the pairing QR code: read it back through QMP screendump.
	q, err := vmkit.DialQMP(ctx, vm.QMPSocket)
	if err != nil {
		t.Fatalf("QMP: %v", err)
	}
	defer q.Close()
	shot := filepath.Join(t.TempDir(), "screen.png")
	var qr string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := q.Screendump(ctx, shot); err != nil {
			t.Fatalf("screendump: %v", err)
		}
		if qr, err = readQR(shot); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		keep := filepath.Join(os.TempDir(), "stoa-hil-screen.png")
		if b, rerr := os.ReadFile(shot); rerr == nil {
			os.WriteFile(keep, b, 0o644)
		}
		t.Errorf("pairing QR code not readable on the screen (kept %s): %v", keep, err)
	} else if want := "https://" + portalName + "/rooms.html"; qr != want {
		t.Errorf("QR code says %q, want the pairing page %q", qr, want)
	} else {
		t.Logf("screen: pairing QR code read from the screendump: %s", qr)
	}

	// Pair through the portal API and see the room come online over the management channel.
	// A restarted roomd shows a new code: always pair with the latest one on the console.
	sess := st.Login(t)
	var paired api.Room
	for deadline := time.Now().Add(90 * time.Second); ; {
		if all := reCode.FindAllStringSubmatch(con.String(), -1); len(all) > 0 {
			code = strings.NewReplacer(" ", "", "-", "").Replace(all[len(all)-1][1])
		}
		c, body, err := sess.Do(http.MethodPost, "/api/v1/rooms/pair", api.PairRequest{Code: code, Name: "HIL Room"}, "", &paired)
		if err == nil && c < 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pair with code %s: %d %v %s", code, c, err, body)
		}
		t.Logf("pair with code %s: %d %s; retrying", code, c, body)
		time.Sleep(2 * time.Second)
	}
	pairedAt := time.Now()
	for {
		var rooms []api.Room
		if c, body, err := sess.Do(http.MethodGet, "/api/v1/rooms", nil, "", &rooms); err != nil || c != http.StatusOK {
			t.Fatalf("GET /api/v1/rooms: %d %v %s", c, err, body)
		}
		online := false
		for _, r := range rooms {
			online = online || (r.ID == paired.ID && r.Online)
		}
		if online {
			break
		}
		if time.Since(pairedAt) > 60*time.Second {
			t.Fatalf("room %s not online within 60 s of pairing; rooms %+v", paired.ID, rooms)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("FIGURE room online %s after the pair call", time.Since(pairedAt).Round(100*time.Millisecond))

	// The steps after pairing share this boot (steps_test.go), the update steps last: they
	// reboot the guest (update_steps_test.go).
	rig := &hilRig{st: st, sess: sess, vm: vm, con: con, ctl: ctl, cam: cam, q: q, room: paired, hook: hook, machineID: diag[6]}
	if os.Getenv("STOA_HIL_ONLY") != "update" { // a developer's loop on the update steps; CI runs all
		runSteps(ctx, t, rig, roomSteps())
	}
	runSteps(ctx, t, rig, updateSteps(&hilBundles{cfg: imgCfg}))
}

// freeTCPAddr is a loopback address with a port the kernel just had free: the server binds it
// (QEMU's forwards are fixed when it starts, so the port must be known before).
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logWriter sends the image tool's progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
