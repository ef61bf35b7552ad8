package sim

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Serial is the board's serial ports as in-memory lines: firmware opens a port's device end with
// OpenSerial, and the test plays the other side of the cable through SerialPeer. Bytes are
// buffered in both directions, as by a UART's FIFOs and the tty layer.
type Serial struct {
	mu    sync.Mutex
	ports map[string]*port
}

type port struct {
	toDevice, toPeer pipe
	open             bool
	peer             *peerEnd
}

// NewSerial makes the ports named by roles.
func NewSerial(roles []string) *Serial {
	s := &Serial{ports: map[string]*port{}}
	for _, r := range roles {
		p := &port{}
		p.toDevice.init()
		p.toPeer.init()
		p.peer = &peerEnd{p: p}
		s.ports[r] = p
	}
	return s
}

// OpenSerial opens the device end of port name. One opener at a time; bytes the peer sent while
// the port was closed are discarded, as a tty flushes on open.
func (s *Serial) OpenSerial(name string) (io.ReadWriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ports[name]
	if !ok {
		return nil, fmt.Errorf("open sim serial %q: no such port on this board", name)
	}
	if p.open {
		return nil, fmt.Errorf("open sim serial %q: port is busy", name)
	}
	p.open = true
	p.toDevice.flush()
	return &deviceEnd{s: s, p: p}, nil
}

// SerialPeer is the far end of port name's cable (nil for a port the board lacks). It reads what
// firmware writes and writes what firmware reads; closing it hangs up: firmware's reads then
// return io.EOF once drained.
func (s *Serial) SerialPeer(name string) io.ReadWriteCloser {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ports[name]
	if !ok {
		return nil
	}
	return p.peer
}

type deviceEnd struct {
	s *Serial
	p *port

	mu     sync.Mutex
	closed bool
}

func (d *deviceEnd) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

func (d *deviceEnd) Read(b []byte) (int, error) {
	if d.isClosed() {
		return 0, errors.New("read sim serial: port closed")
	}
	return d.p.toDevice.read(b, d.isClosed)
}

func (d *deviceEnd) Write(b []byte) (int, error) {
	if d.isClosed() {
		return 0, errors.New("write sim serial: port closed")
	}
	return d.p.toPeer.write(b)
}

// Close releases the port and wakes a Read blocked on it.
func (d *deviceEnd) Close() error {
	d.mu.Lock()
	was := d.closed
	d.closed = true
	d.mu.Unlock()
	if !was {
		d.s.mu.Lock()
		d.p.open = false
		d.s.mu.Unlock()
		d.p.toDevice.wake()
	}
	return nil
}

type peerEnd struct{ p *port }

func (e *peerEnd) Read(b []byte) (int, error)  { return e.p.toPeer.read(b, nil) }
func (e *peerEnd) Write(b []byte) (int, error) { return e.p.toDevice.write(b) }

// Close hangs up both directions.
func (e *peerEnd) Close() error {
	e.p.toDevice.close()
	e.p.toPeer.close()
	return nil
}

// pipe is a byte queue with a blocking read.
type pipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func (p *pipe) init() { p.cond = sync.NewCond(&p.mu) }

// read blocks until there are bytes, the pipe is closed, or stop (when not nil) reports true.
// stop runs under the pipe's lock, so a wake-up between the check and the wait is never lost;
// it must not take the pipe's lock itself.
func (p *pipe) read(b []byte, stop func() bool) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		if p.closed {
			return 0, io.EOF
		}
		if stop != nil && stop() {
			return 0, errors.New("read sim serial: port closed")
		}
		p.cond.Wait()
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errors.New("write sim serial: hung up")
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *pipe) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = nil
}

func (p *pipe) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *pipe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.cond.Broadcast()
}
