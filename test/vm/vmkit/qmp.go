package vmkit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"
)

// QMP is a client of QEMU's machine protocol on a unix socket: one command at a time, events
// passed to OnEvent (if set) as they arrive between replies.
type QMP struct {
	mu      sync.Mutex
	conn    net.Conn
	r       *bufio.Reader
	OnEvent func(name string, data json.RawMessage)
}

// DialQMP connects to a QMP socket, retrying until QEMU has created it or ctx ends, and
// negotiates capabilities.
func DialQMP(ctx context.Context, socket string) (*QMP, error) {
	var conn net.Conn
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", socket)
		if err == nil {
			conn = c
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp dial %s: %w (last error: %v)", socket, ctx.Err(), err)
		case <-timeAfter(50):
		}
	}
	q := &QMP{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	q.deadline(ctx)
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	line, err := q.r.ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &greeting) != nil || greeting.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("qmp greeting: %q: %v", line, err)
	}
	if _, err := q.Execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *QMP) deadline(ctx context.Context) {
	if d, ok := ctx.Deadline(); ok {
		_ = q.conn.SetDeadline(d)
	} else {
		_ = q.conn.SetDeadline(time.Time{})
	}
}

// QMPError is an error reply from QEMU.
type QMPError struct {
	Command, Class, Desc string
}

func (e *QMPError) Error() string { return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc) }

// Execute runs one command and returns its "return" value.
func (q *QMP) Execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deadline(ctx)
	msg := map[string]any{"execute": command}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", command, err)
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: send: %w", command, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("qmp %s: read: %w", command, err)
		}
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(line, &reply); err != nil {
			return nil, fmt.Errorf("qmp %s: bad reply %q: %w", command, line, err)
		}
		switch {
		case reply.Event != "":
			if q.OnEvent != nil {
				q.OnEvent(reply.Event, reply.Data)
			}
		case reply.Error != nil:
			return nil, &QMPError{Command: command, Class: reply.Error.Class, Desc: reply.Error.Desc}
		case reply.Return != nil:
			return reply.Return, nil
		}
	}
}

// Screendump writes the primary display to file as PNG (QEMU >= 7.1 knows the png format).
func (q *QMP) Screendump(ctx context.Context, file string) error {
	_, err := q.Execute(ctx, "screendump", map[string]any{"filename": file, "format": "png"})
	return err
}

// InputEvent is one event of input-send-event (see QEMU's qapi/ui.json InputEvent).
type InputEvent struct {
	Type string         `json:"type"` // "key", "btn", "abs", "rel"
	Data map[string]any `json:"data"`
}

// Key is a key press or release by QEMU key code name ("ret", "a", "esc", ...).
func Key(qcode string, down bool) InputEvent {
	return InputEvent{Type: "key", Data: map[string]any{"down": down, "key": map[string]any{"type": "qcode", "data": qcode}}}
}

// Abs moves an absolute axis ("x" or "y", 0..32767), as a tablet or touch screen does (the
// machine needs such a device, e.g. -device usb-tablet).
func Abs(axis string, value int) InputEvent {
	return InputEvent{Type: "abs", Data: map[string]any{"axis": axis, "value": value}}
}

// Rel moves a relative axis ("x" or "y") by delta, as a mouse does.
func Rel(axis string, delta int) InputEvent {
	return InputEvent{Type: "rel", Data: map[string]any{"axis": axis, "value": delta}}
}

// Button presses or releases a pointer button ("left", "right", "middle").
func Button(button string, down bool) InputEvent {
	return InputEvent{Type: "btn", Data: map[string]any{"down": down, "button": button}}
}

// InputSendEvent injects input events (device "" = QEMU's default for each event type).
func (q *QMP) InputSendEvent(ctx context.Context, device string, events ...InputEvent) error {
	args := map[string]any{"events": events}
	if device != "" {
		args["device"] = device
	}
	_, err := q.Execute(ctx, "input-send-event", args)
	return err
}

// Quit stops QEMU at once (no guest shutdown).
func (q *QMP) Quit(ctx context.Context) error {
	_, err := q.Execute(ctx, "quit", nil)
	return err
}

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }
