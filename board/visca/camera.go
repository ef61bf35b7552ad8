package visca

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
)

// Options configure a Camera.
type Options struct {
	Addr int // camera address 1–7 (default 1)
	// Timeout bounds the wait for an ACK (or an inquiry's answer); default 1 s.
	Timeout time.Duration
	// CompletionTimeout bounds the wait for completion after the ACK (a preset recall moves the
	// head first); default 20 s.
	CompletionTimeout time.Duration
	Log               *slog.Logger
}

// Camera is a VISCA camera on a serial line; it implements board.PTZ. Commands are sent one at a
// time: each waits for its ACK and completion (or error) before the next goes out.
type Camera struct {
	rw  io.ReadWriter
	o   Options
	log *slog.Logger

	mu      sync.Mutex // one command in flight
	replies chan Reply
	done    chan struct{} // closed when the reader stops
	readErr error         // set before done closes
}

var _ board.PTZ = (*Camera)(nil)

// New starts reading replies from rw and returns the camera. Close stops it (closing rw when it
// is an io.Closer).
func New(rw io.ReadWriter, o Options) *Camera {
	if o.Addr < 1 || o.Addr > 7 {
		o.Addr = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.CompletionTimeout <= 0 {
		o.CompletionTimeout = 20 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Camera{rw: rw, o: o, log: log.With("visca_addr", o.Addr), replies: make(chan Reply, 16), done: make(chan struct{})}
	go c.read()
	return c
}

// Close closes the underlying port when it is an io.Closer; the reader stops on its error.
func (c *Camera) Close() error {
	if cl, ok := c.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

func (c *Camera) read() {
	defer close(c.done)
	var f framer
	buf := make([]byte, 256)
	for {
		n, err := c.rw.Read(buf)
		for _, b := range buf[:n] {
			p, ok := f.feed(b)
			if f.skipped > 0 {
				c.log.Warn("visca: skipped garbage", "bytes", f.skipped)
				f.skipped = 0
			}
			if !ok {
				continue
			}
			r, perr := ParseReply(p)
			switch {
			case perr != nil:
				c.log.Warn("visca: bad reply", "err", perr)
				continue
			case r.From != c.o.Addr:
				c.log.Debug("visca: reply from another address", "from", r.From, "kind", r.Kind.String())
				continue
			}
			select {
			case c.replies <- r:
			default: // nobody waits for this many replies: stale, drop
				c.log.Warn("visca: dropped unexpected reply", "kind", r.Kind.String())
			}
		}
		if err != nil {
			c.readErr = err
			return
		}
	}
}

// drain throws away replies left over from a command that timed out.
func (c *Camera) drain() {
	for {
		select {
		case r := <-c.replies:
			c.log.Debug("visca: stale reply", "kind", r.Kind.String(), "socket", r.Socket)
		default:
			return
		}
	}
}

// wait returns the next reply, or an error when ctx ends, the timer fires or the reader stopped.
func (c *Camera) wait(ctx context.Context, t *time.Timer, what string, d time.Duration) (Reply, error) {
	select {
	case r := <-c.replies:
		return r, nil
	case <-t.C:
		return Reply{}, fmt.Errorf("no %s within %v: %w", what, d, ErrTimeout)
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	case <-c.done:
		return Reply{}, fmt.Errorf("port closed while waiting for %s: %w", what, c.readErr)
	}
}

// exec sends cmd and waits for ACK then completion (a command) or the answer (an inquiry).
// It returns the completion's data.
func (c *Camera) exec(ctx context.Context, cmd Command) (data []byte, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("visca %s: %w", cmd, err)
			c.log.Warn("visca command failed", "cmd", cmd.String(), "err", err)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drain()
	select {
	case <-c.done:
		return nil, fmt.Errorf("port closed: %w", c.readErr)
	default:
	}
	start := time.Now()
	if _, err := c.rw.Write(cmd.Raw); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	t := time.NewTimer(c.o.Timeout)
	defer t.Stop()
	socket := -1
	for {
		what, d := "ACK", c.o.Timeout
		if cmd.Inquiry {
			what = "answer"
		} else if socket >= 0 {
			what, d = "completion", c.o.CompletionTimeout
		}
		r, err := c.wait(ctx, t, what, d)
		if err != nil {
			return nil, err
		}
		switch {
		case r.Kind == ReplyError:
			// Errors of the socket in use, or socket 0 (syntax, buffer full) before the ACK.
			if socket < 0 || r.Socket == socket {
				return nil, r.Err()
			}
		case r.Kind == ReplyAck && !cmd.Inquiry && socket < 0:
			socket = r.Socket
			t.Reset(c.o.CompletionTimeout)
		case r.Kind == ReplyCompletion && cmd.Inquiry && r.Socket == 0:
			c.log.Debug("visca inquiry", "cmd", cmd.String(), "took", time.Since(start))
			return r.Data, nil
		case r.Kind == ReplyCompletion && !cmd.Inquiry && socket >= 0 && r.Socket == socket:
			c.log.Debug("visca command", "cmd", cmd.String(), "took", time.Since(start))
			return r.Data, nil
		}
		c.log.Debug("visca: ignored reply", "cmd", cmd.String(), "kind", r.Kind.String(), "socket", r.Socket)
	}
}

func (c *Camera) run(ctx context.Context, cmd Command, err error) error {
	if err != nil {
		return fmt.Errorf("visca %s: %w", cmd.Name, err)
	}
	_, err = c.exec(ctx, cmd)
	return err
}

// PanTilt drives the head (board.PTZ).
func (c *Camera) PanTilt(ctx context.Context, panSpeed, tiltSpeed int) error {
	cmd, err := cmdDrive(c.o.Addr, panSpeed, tiltSpeed)
	if err != nil {
		return fmt.Errorf("visca pantilt.drive: %w", err)
	}
	return c.run(ctx, cmd, nil)
}

// Zoom drives the zoom: positive tele, negative wide, 0 stop; |speed| up to 8.
func (c *Camera) Zoom(ctx context.Context, speed int) error {
	cmd, err := cmdZoom(c.o.Addr, speed)
	if err != nil {
		return fmt.Errorf("visca zoom: %w", err)
	}
	return c.run(ctx, cmd, nil)
}

// Goto moves pan/tilt (at full speed) and then zoom to pos.
func (c *Camera) Goto(ctx context.Context, pos board.Position) error {
	pt, err := cmdAbsolute(c.o.Addr, pos.Pan, pos.Tilt)
	if err != nil {
		return fmt.Errorf("visca pantilt.absolute: %w", err)
	}
	z, err := cmdZoomDirect(c.o.Addr, pos.Zoom)
	if err != nil {
		return fmt.Errorf("visca zoom.direct: %w", err)
	}
	if err := c.run(ctx, pt, nil); err != nil {
		return err
	}
	return c.run(ctx, z, nil)
}

// Position asks for the pan/tilt and zoom positions.
func (c *Camera) Position(ctx context.Context) (board.Position, error) {
	cmd := inqPanTilt(c.o.Addr)
	d, err := c.exec(ctx, cmd)
	if err != nil {
		return board.Position{}, err
	}
	pan, ok1 := fromNibbles16(d[:min(4, len(d))])
	var tilt uint16
	ok2 := len(d) == 8
	if ok2 {
		tilt, ok2 = fromNibbles16(d[4:])
	}
	if !ok1 || !ok2 {
		return board.Position{}, fmt.Errorf("visca %s: answer % x is not 8 nibbles", cmd, d)
	}
	cmd = inqZoom(c.o.Addr)
	d, err = c.exec(ctx, cmd)
	if err != nil {
		return board.Position{}, err
	}
	z, ok := fromNibbles16(d)
	if !ok {
		return board.Position{}, fmt.Errorf("visca %s: answer % x is not 4 nibbles", cmd, d)
	}
	return board.Position{Pan: int(int16(pan)), Tilt: int(int16(tilt)), Zoom: int(z)}, nil
}

// PresetStore stores the current position as preset n (0–127; Sony cameras take 0–15).
func (c *Camera) PresetStore(ctx context.Context, n int) error {
	cmd, err := cmdMemory(c.o.Addr, 0x01, n)
	return c.run(ctx, cmd, err)
}

// PresetRecall moves to preset n.
func (c *Camera) PresetRecall(ctx context.Context, n int) error {
	cmd, err := cmdMemory(c.o.Addr, 0x02, n)
	return c.run(ctx, cmd, err)
}

// PresetReset clears preset n.
func (c *Camera) PresetReset(ctx context.Context, n int) error {
	cmd, err := cmdMemory(c.o.Addr, 0x00, n)
	return c.run(ctx, cmd, err)
}

// Power switches the camera on or to standby.
func (c *Camera) Power(ctx context.Context, on bool) error {
	return c.run(ctx, cmdPower(c.o.Addr, on), nil)
}

// PowerState asks whether the camera is on.
func (c *Camera) PowerState(ctx context.Context) (bool, error) {
	cmd := inqPower(c.o.Addr)
	d, err := c.exec(ctx, cmd)
	if err != nil {
		return false, err
	}
	if len(d) != 1 || (d[0] != 0x02 && d[0] != 0x03) {
		return false, fmt.Errorf("visca %s: answer % x is neither 02 nor 03", cmd, d)
	}
	return d[0] == 0x02, nil
}

// Home moves pan/tilt to the home position.
func (c *Camera) Home(ctx context.Context) error {
	return c.run(ctx, build(c.o.Addr, "pantilt.home", "", 0x01, 0x06, 0x04), nil)
}
