// Package netns gives tests a private two-host network: two Linux network namespaces joined by
// a veth pair, so tests that send multicast (mDNS) or bind fixed ports never touch the machine's
// real network. Needs root and iproute2; a test that cannot get them fails rather than skips.
package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Pair is two namespaces NS1 and NS2 joined by veth Veth1 (in NS1, address IP1/24) and Veth2
// (in NS2, address IP2/24). Both have lo up and a 224.0.0.0/4 route on the veth, so multicast
// goes over the pair and nowhere else.
type Pair struct {
	NS1, NS2     string
	IP1, IP2     net.IP
	Veth1, Veth2 string
}

// NewPair creates the namespaces and the link; t.Cleanup deletes them (deleting a namespace
// deletes its veth end, and with it the pair).
func NewPair(t testing.TB) *Pair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("netns: creating network namespaces needs root (run the tests as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("netns: the `ip` command (iproute2) is missing: install iproute2 (apt-get install iproute2)")
	}
	var sfx [3]byte
	if _, err := rand.Read(sfx[:]); err != nil {
		t.Fatal(err)
	}
	s := hex.EncodeToString(sfx[:])
	x, err := rand.Int(rand.Reader, big.NewInt(250))
	if err != nil {
		t.Fatal(err)
	}
	third := byte(x.Int64() + 2)
	p := &Pair{
		NS1: "stoa-a-" + s, NS2: "stoa-b-" + s,
		// Interface names are limited to 15 bytes.
		Veth1: "sva" + s, Veth2: "svb" + s,
		IP1: net.IPv4(10, 231, third, 1).To4(), IP2: net.IPv4(10, 231, third, 2).To4(),
	}
	for _, ns := range []string{p.NS1, p.NS2} {
		run(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("netns: delete %s: %v: %s", ns, err, out)
			}
		})
	}
	// Created inside NS1 with its peer placed straight into NS2: the link never exists in the
	// host namespace.
	run(t, "-n", p.NS1, "link", "add", p.Veth1, "type", "veth", "peer", "name", p.Veth2, "netns", p.NS2)
	for _, side := range []struct {
		ns, dev string
		ip      net.IP
	}{{p.NS1, p.Veth1, p.IP1}, {p.NS2, p.Veth2, p.IP2}} {
		run(t, "-n", side.ns, "link", "set", "lo", "up")
		run(t, "-n", side.ns, "addr", "add", side.ip.String()+"/24", "dev", side.dev)
		run(t, "-n", side.ns, "link", "set", side.dev, "up")
		run(t, "-n", side.ns, "route", "add", "224.0.0.0/4", "dev", side.dev)
	}
	// The veth carrier comes up once both ends are up; wait for it instead of sleeping.
	deadline := time.Now().Add(5 * time.Second)
	for _, side := range [][2]string{{p.NS1, p.Veth1}, {p.NS2, p.Veth2}} {
		for {
			out, _ := exec.Command("ip", "-n", side[0], "-o", "link", "show", side[1]).CombinedOutput()
			if strings.Contains(string(out), "LOWER_UP") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("netns: %s in %s did not come up: %s", side[1], side[0], out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return p
}

// Exec returns (not started) a command that runs args inside namespace ns with env added to
// this process's environment. The process is killed when the test ends if still running.
func (p *Pair) Exec(t testing.TB, ns string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	if ns != p.NS1 && ns != p.NS2 {
		t.Fatalf("netns: Exec in %q, which is not one of this pair's namespaces (%s, %s)", ns, p.NS1, p.NS2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	if os.Getenv("GORACE") == "" {
		// Race-enabled test binaries re-executed as helpers otherwise sleep 1 s at exit.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("netns: ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// String names the pair for test logs.
func (p *Pair) String() string {
	return fmt.Sprintf("%s(%s %s) <-> %s(%s %s)", p.NS1, p.Veth1, p.IP1, p.NS2, p.Veth2, p.IP2)
}
