package hil

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// dialSerial connects to one of the guest's serial ports (a QEMU unix socket chardev,
// server=on,wait=off): the socket appears once QEMU has started, so it is polled.
func dialSerial(ctx context.Context, path string) (net.Conn, error) {
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial serial %s: %w (%w)", path, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// controlLine is the room-control system's end of the guest's ttyS2 (the line protocol of
// firmware/control): everything the room writes is kept in a console, commands go out as
// CR LF lines. Reading can be held, as a controller that stops reading would: the guest's
// UART then stops draining once QEMU's socket buffer is full.
type controlLine struct {
	conn net.Conn
	out  *console

	mu     sync.Mutex
	held   bool
	resume *sync.Cond
}

func newControlLine(conn net.Conn) *controlLine {
	l := &controlLine{conn: conn, out: &console{}}
	l.resume = sync.NewCond(&l.mu)
	go l.read()
	return l
}

func (l *controlLine) read() {
	buf := make([]byte, 4096)
	for {
		l.mu.Lock()
		for l.held {
			l.resume.Wait()
		}
		l.mu.Unlock()
		n, err := l.conn.Read(buf)
		l.out.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

// hold stops (true) or resumes (false) reading the room's output.
func (l *controlLine) hold(on bool) {
	l.mu.Lock()
	l.held = on
	l.mu.Unlock()
	l.resume.Broadcast()
}

// send writes one command line.
func (l *controlLine) send(line string) error {
	if err := l.conn.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return fmt.Errorf("control line: %w", err)
	}
	if _, err := l.conn.Write([]byte(line + "\r\n")); err != nil {
		return fmt.Errorf("control line: send %q: %w", line, err)
	}
	return nil
}

func (l *controlLine) Close() error {
	l.hold(false)
	return l.conn.Close()
}
