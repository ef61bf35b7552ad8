package netns

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Helper modes, selected by env when the test binary re-executes itself inside a namespace.
func TestMain(m *testing.M) {
	switch os.Getenv("NETNS_TEST_HELPER") {
	case "listen":
		l, err := net.Listen("tcp", os.Getenv("NETNS_TEST_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("ready")
		c, err := l.Accept()
		if err != nil {
			os.Exit(2)
		}
		io.WriteString(c, "hello from "+c.LocalAddr().String()+"\n")
		c.Close()
		os.Exit(0)
	case "dial":
		c, err := net.Dial("tcp", os.Getenv("NETNS_TEST_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		io.Copy(os.Stdout, c)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The pair is isolated and connected: NS1 reaches NS2's address over the veth, the host
// namespace has neither interface, and both namespaces vanish after cleanup.
func TestPair(t *testing.T) {
	var p *Pair
	t.Run("setup", func(t *testing.T) {
		p = NewPair(t)
		addr := net.JoinHostPort(p.IP2.String(), "7001")
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		srv := p.Exec(t, p.NS2, []string{"NETNS_TEST_HELPER=listen", "NETNS_TEST_ADDR=" + addr}, exe)
		stdout, err := srv.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer srv.Wait()
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("listener in %s: %q, %v", p.NS2, line, err)
		}
		out, err := p.Exec(t, p.NS1, []string{"NETNS_TEST_HELPER=dial", "NETNS_TEST_ADDR=" + addr}, exe).CombinedOutput()
		if err != nil || string(out) != "hello from "+addr+"\n" {
			t.Fatalf("dial %s from %s: %v: %q", addr, p.NS1, err, out)
		}
		host, err := exec.Command("ip", "-o", "link").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		for _, dev := range []string{p.Veth1, p.Veth2} {
			if strings.Contains(string(host), dev) {
				t.Errorf("veth %s is visible in the host namespace", dev)
			}
		}
		route, err := p.Exec(t, p.NS2, nil, "ip", "route", "get", "224.0.0.251").CombinedOutput()
		if err != nil || !strings.Contains(string(route), p.Veth2) {
			t.Errorf("multicast route in %s does not use %s: %v: %s", p.NS2, p.Veth2, err, route)
		}
	})
	list, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(list), p.NS1) || strings.Contains(string(list), p.NS2) {
		t.Fatalf("namespaces survived cleanup: %s", list)
	}
}
