package qemu

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

func TestRelay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the relay half-closes
		c.Write(bytes.ToUpper(b))
	}()
	var out bytes.Buffer
	if err := relay(ln.Addr().String(), strings.NewReader("hello portal"), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "HELLO PORTAL" {
		t.Fatalf("relayed %q", out.String())
	}
	if err := relay("127.0.0.1:1", strings.NewReader(""), io.Discard); err == nil {
		t.Fatal("relay to a closed port succeeded")
	}
}

func TestArgs(t *testing.T) {
	args, vm := Args(Options{Dir: "/tmp/x", MemoryMB: 1024, CPUs: 2, Relay: "/bin/relay,x",
		Forwards: []Forward{{Guest: GuestPortal + ":443", Host: "127.0.0.1:8443"}}}, "/tmp/x/disk.qcow2", "/tmp/x/vars.fd")
	joined := strings.Join(args, " ")
	for _, want := range []string{
		"-accel tcg", "-device i6300esb", "-device qemu-xhci,id=xhci", "-action watchdog=reset", "-nodefaults",
		"user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:443-cmd:env STOA_QEMU_RELAY=127.0.0.1:8443 /bin/relay,,x",
		"unix:" + vm.QMPSocket + ",server=on,wait=off", "path=" + vm.VISCASocket, "path=" + vm.ControlSocket,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("args lack %q:\n%s", want, joined)
		}
	}
}
