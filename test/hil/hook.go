package hil

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
)

// hookGuestPort is where the qemu image's stoa-testhook.service dials the host (on
// qemu.GuestPortal, i.e. portal.stoa.test in the guest).
const hookGuestPort = "7999"

// testHook is the host end of the guest's test hook: the guest connects out (through a QEMU
// forward), and the test writes commands ("kill-roomd") down the latest connection.
type testHook struct {
	ln    net.Listener
	mu    sync.Mutex
	conn  net.Conn
	ready chan struct{} // closed at the first connection
	lines chan string   // the guest's answers
}

// listenHook opens the host listener the guest's hook is forwarded to.
func listenHook() (*testHook, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the guest's test hook: %w", err)
	}
	h := &testHook{ln: ln, ready: make(chan struct{}), lines: make(chan string, 16)}
	go h.accept()
	return h, nil
}

func (h *testHook) accept() {
	for first := true; ; first = false {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.conn != nil {
			h.conn.Close()
		}
		h.conn = c
		h.mu.Unlock()
		if first {
			close(h.ready)
		}
		go func() {
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				select {
				case h.lines <- strings.TrimSpace(sc.Text()):
				default:
				}
			}
		}()
	}
}

// do sends cmd to the guest and waits for its answer line.
func (h *testHook) do(ctx context.Context, cmd string) (string, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return "", fmt.Errorf("test hook: the guest never connected: %w", ctx.Err())
	}
	h.mu.Lock()
	c := h.conn
	h.mu.Unlock()
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return "", fmt.Errorf("test hook: send %q: %w", cmd, err)
	}
	select {
	case l := <-h.lines:
		return l, nil
	case <-ctx.Done():
		return "", fmt.Errorf("test hook: no answer to %q: %w", cmd, ctx.Err())
	}
}

func (h *testHook) Close() error { return h.ln.Close() }
