package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoa-rooms/stoa/test/netns"
)

// Multicast is only ever sent inside namespaces these tests create: the test binary re-executes
// itself under `ip netns exec`, and TestMain turns that child into an announcer or a browser.
// Nothing in this file calls Announce or Browse in the host namespace.
const (
	envMode     = "STOA_DISCOVERY_HELPER" // "announce" or "browse"
	envIface    = "STOA_DISCOVERY_IFACE"
	envIP       = "STOA_DISCOVERY_IP"
	envPort     = "STOA_DISCOVERY_PORT"
	envInstance = "STOA_DISCOVERY_INSTANCE"
	envTXT      = "STOA_DISCOVERY_TXT"     // JSON map
	envFor      = "STOA_DISCOVERY_FOR"     // browse: total time
	envWantAny  = "STOA_DISCOVERY_WANTANY" // browse: stop at the first non-empty answer
)

func TestMain(m *testing.M) {
	switch os.Getenv(envMode) {
	case "announce":
		os.Exit(announceHelper())
	case "browse":
		os.Exit(browseHelper())
	}
	os.Exit(m.Run())
}

func announceHelper() int {
	iface, err := net.InterfaceByName(os.Getenv(envIface))
	if err != nil {
		fmt.Fprintln(os.Stderr, "announce helper:", err)
		return 2
	}
	port, _ := strconv.Atoi(os.Getenv(envPort))
	var txt map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(envTXT)), &txt); err != nil {
		fmt.Fprintln(os.Stderr, "announce helper: txt:", err)
		return 2
	}
	// Stop when the parent closes our stdin, to show Announce returns once ctx is done.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err = Announce(ctx, AnnounceOptions{
		Instance:  os.Getenv(envInstance),
		Host:      "portal.stoa.test",
		Port:      port,
		IPs:       []net.IP{net.ParseIP(os.Getenv(envIP))},
		Interface: iface,
		TXT:       txt,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "announce helper:", err)
		return 1
	}
	fmt.Println("stopped")
	return 0
}

func browseHelper() int {
	iface, err := net.InterfaceByName(os.Getenv(envIface))
	if err != nil {
		fmt.Fprintln(os.Stderr, "browse helper:", err)
		return 2
	}
	total, err := time.ParseDuration(os.Getenv(envFor))
	if err != nil {
		fmt.Fprintln(os.Stderr, "browse helper:", err)
		return 2
	}
	// The announcer may still be starting: query again until something answers or time is up.
	end := time.Now().Add(total)
	var found []Portal
	for time.Now().Before(end) {
		round := min(700*time.Millisecond, time.Until(end))
		ctx, cancel := context.WithTimeout(context.Background(), round)
		found, err = Browse(ctx, iface)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "browse helper:", err)
			return 1
		}
		if len(found) > 0 && os.Getenv(envWantAny) == "1" {
			break
		}
	}
	json.NewEncoder(os.Stdout).Encode(found)
	return 0
}

func TestAnnounceBrowseInNamespaces(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		instance string
		txt      map[string]string
		port     int
		wantAny  bool
		wantURL  string
	}{
		{"url from TXT", "Stoa portal", map[string]string{"url": "https://portal.example:443", "v": "1"}, 8443, true, "https://portal.example:443"},
		{"no url TXT: host and port", "stoa-lab", map[string]string{"v": "1"}, 9443, true, "https://portal.stoa.test:9443"},
		{"other protocol version ignored", "future", map[string]string{"url": "https://portal.example", "v": "2"}, 443, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own namespaces
			p := netns.NewPair(t)
			txt, _ := json.Marshal(tc.txt)
			ann := p.Exec(t, p.NS1, []string{envMode + "=announce", envIface + "=" + p.Veth1, envIP + "=" + p.IP1.String(),
				envPort + "=" + strconv.Itoa(tc.port), envInstance + "=" + tc.instance, envTXT + "=" + string(txt)}, exe)
			stdin, err := ann.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var annOut, annErr strings.Builder
			ann.Stdout, ann.Stderr = &annOut, &annErr
			if err := ann.Start(); err != nil {
				t.Fatal(err)
			}
			browseFor := "6s"
			if !tc.wantAny {
				browseFor = "1500ms"
			}
			br := p.Exec(t, p.NS2, []string{envMode + "=browse", envIface + "=" + p.Veth2, envFor + "=" + browseFor,
				envWantAny + "=" + map[bool]string{true: "1", false: "0"}[tc.wantAny]}, exe)
			var brErr strings.Builder
			br.Stderr = &brErr
			start := time.Now()
			out, err := br.Output()
			took := time.Since(start)
			if err != nil {
				t.Fatalf("browser: %v: %s", err, brErr.String())
			}
			stdin.Close()
			if err := ann.Wait(); err != nil || strings.TrimSpace(annOut.String()) != "stopped" {
				t.Fatalf("announcer did not stop cleanly on ctx done: %v, out %q, err %s", err, annOut.String(), annErr.String())
			}
			var got []Portal
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("browser output %q: %v", out, err)
			}
			if !tc.wantAny {
				if len(got) != 0 {
					t.Fatalf("browser found %+v, want nothing", got)
				}
				return
			}
			t.Logf("found in %v (including process start): %+v", took.Round(time.Millisecond), got)
			if len(got) != 1 {
				t.Fatalf("browser found %d portals, want 1: %+v", len(got), got)
			}
			g := got[0]
			if g.Instance != tc.instance || g.URL != tc.wantURL || g.Port != tc.port ||
				!slices.ContainsFunc(g.Addrs, func(ip net.IP) bool { return ip.Equal(p.IP1) }) {
				t.Fatalf("got %+v, want instance %q url %q port %d addr %s", g, tc.instance, tc.wantURL, tc.port, p.IP1)
			}
		})
	}
}
