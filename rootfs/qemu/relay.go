package qemu

import (
	"fmt"
	"io"
	"net"
	"os"
)

// RelayEnv names the environment variable that turns a program calling MaybeRelay into a
// one-connection TCP relay. QEMU's guestfwd=...-cmd: spawns the relay for every guest
// connection with the connection on stdin/stdout (a guestfwd to a tcp: chardev would carry
// one connection for the VM's life).
const RelayEnv = "STOA_QEMU_RELAY"

// MaybeRelay relays stdin/stdout to the TCP address in $STOA_QEMU_RELAY and exits, when set.
// Call it first thing in main (or TestMain) of a program used as Options.Relay.
func MaybeRelay() {
	addr := os.Getenv(RelayEnv)
	if addr == "" {
		return
	}
	if err := relay(addr, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "qemu relay:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func relay(addr string, in io.Reader, out io.Writer) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	go func() {
		_, _ = io.Copy(c, in)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, err = io.Copy(out, c)
	return err
}
