package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxLineLength bounds one line of the line protocol (without its end).
const MaxLineLength = 256

// ParseLine splits one protocol line into words: printable ASCII separated by spaces or tabs.
// An empty (or blank) line gives no words and no error.
func ParseLine(line string) ([]string, error) {
	if len(line) > MaxLineLength {
		return nil, fmt.Errorf("line longer than %d characters", MaxLineLength)
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return nil, fmt.Errorf("line has a non-printable character 0x%02x at %d", c, i)
		}
	}
	return strings.Fields(line), nil
}

// LineOptions configure ServeLine.
type LineOptions struct {
	Hub        *Hub
	Dispatcher *Dispatcher
	// Login, when set, must be given ("login <user> <password>") before anything else.
	Login *Credentials
	// FailDelay is the pause after a failed login (default 1 s), which slows guessing.
	FailDelay time.Duration
	// Heartbeat, when set, is called every HeartbeatEvery (default 1 s) while the session's
	// loop runs, so a watchdog can tell it is alive.
	Heartbeat      func()
	HeartbeatEvery time.Duration
	Log            *slog.Logger
}

// ServeLine runs the line protocol on rw until ctx ends or rw fails (the caller closes rw to
// stop a blocked read). Requests are "<command> [args…]" answered "OK <command> [args…]" or
// "ERROR <text>"; "get [path]" answers "path=value" lines; status changes arrive as
// "path=value" lines and other events as "EVENT <type> …". Lines end in CR LF; LF, CR or
// CR LF are accepted.
func ServeLine(ctx context.Context, rw io.ReadWriter, o LineOptions) error {
	if o.Hub == nil || o.Dispatcher == nil {
		return errors.New("serve line protocol: hub and dispatcher are required")
	}
	if o.FailDelay == 0 {
		o.FailDelay = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = time.Second
	}
	var beat <-chan time.Time
	if o.Heartbeat != nil {
		o.Heartbeat()
		t := time.NewTicker(o.HeartbeatEvery)
		defer t.Stop()
		beat = t.C
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &lineSession{o: o, w: rw, authed: o.Login == nil}
	lines := make(chan string)
	rerr := make(chan error, 1)
	go func() { rerr <- readLines(rw, lines, ctx.Done()) }()
	// One loop reads lines and events, so the status lines a command causes are written
	// before its OK (they are in the subscription by the time the handler returns).
	var sub *Subscription
	var events <-chan Event
	unsubscribe := func() {}
	defer func() { unsubscribe() }()
	for {
		switch {
		case s.authed && sub == nil:
			sctx, stop := context.WithCancel(ctx)
			unsubscribe = stop
			sub = o.Hub.Subscribe(sctx)
			events = sub.C()
		case !s.authed && sub != nil: // logged out: no more status to this peer
			unsubscribe()
			sub, events = nil, nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-beat:
			o.Heartbeat()
		case err := <-rerr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("serve line protocol: read: %w", err)
		case e, ok := <-events:
			if !ok {
				// Cut off for being slow (a slow serial line): say so and start again.
				unsubscribe()
				sub, events = nil, nil
				if ctx.Err() == nil {
					if err := s.write("EVENT resync"); err != nil {
						return err
					}
				}
				continue
			}
			if err := s.write(EventLines(e)...); err != nil {
				return err
			}
		case line := <-lines:
			if err := s.handle(ctx, line, sub); err != nil {
				return err
			}
		}
	}
}

// tooLong stands for an over-long line; the reader skips to its end.
const tooLong = "\x00too long"

// readLines sends each line; an over-long line is sent as tooLong once.
func readLines(r io.Reader, out chan<- string, done <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 512)
	var cur []byte
	skipping := false
	lastCR := false
	for {
		b, err := br.ReadByte()
		if err != nil {
			return err
		}
		if b == '\n' && lastCR {
			lastCR = false
			continue
		}
		lastCR = b == '\r'
		if b == '\n' || b == '\r' {
			line := string(cur)
			if skipping {
				line = tooLong
			}
			cur, skipping = cur[:0], false
			select {
			case out <- line:
			case <-done:
				return nil
			}
			continue
		}
		if skipping {
			continue
		}
		if len(cur) >= MaxLineLength {
			skipping = true
			continue
		}
		cur = append(cur, b)
	}
}

type lineSession struct {
	o      LineOptions
	wmu    sync.Mutex
	w      io.Writer
	authed bool
	fails  int
}

func (s *lineSession) write(lines ...string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return fmt.Errorf("serve line protocol: write: %w", err)
	}
	return nil
}

// handle answers one line. Only write failures are returned.
func (s *lineSession) handle(ctx context.Context, line string, sub *Subscription) error {
	if line == tooLong {
		return s.write(fmt.Sprintf("ERROR line longer than %d characters", MaxLineLength))
	}
	words, err := ParseLine(line)
	if err != nil {
		return s.write("ERROR " + err.Error())
	}
	if len(words) == 0 {
		return nil
	}
	switch words[0] {
	case "login":
		return s.login(ctx, words[1:])
	case "logout":
		if s.o.Login == nil {
			return s.write("ERROR no login configured")
		}
		s.authed = false // the serve loop ends the event stream
		return s.write("OK logout")
	}
	if !s.authed {
		return s.write("ERROR login required")
	}
	switch words[0] {
	case "get":
		if len(words) > 2 {
			return s.write("ERROR get: give one dotted path")
		}
		path := ""
		if len(words) == 2 {
			path = words[1]
		}
		leaves, err := s.o.Hub.Status().Get(path)
		if err != nil {
			return s.write("ERROR " + err.Error())
		}
		return s.write(leafLines(leaves)...)
	case "help":
		return s.write("OK help " + strings.Join(append([]string{"get", "login", "logout"}, s.o.Dispatcher.Names()...), " "))
	}
	cmd, err := FromWords(s.o.Dispatcher.Spec, words)
	if err != nil {
		return s.write("ERROR " + err.Error())
	}
	r := s.o.Dispatcher.Dispatch(ctx, cmd)
	if !r.OK {
		return s.write("ERROR " + printable(r.Error))
	}
	var out []string
	if sub != nil {
		out = drain(sub)
	}
	if m, ok := r.Result.(map[string]any); ok {
		out = append(out, leafLines(m)...)
	}
	return s.write(append(out, "OK "+strings.Join(words, " "))...)
}

func (s *lineSession) login(ctx context.Context, args []string) error {
	if s.o.Login == nil {
		return s.write("ERROR no login configured")
	}
	if len(args) != 2 {
		return s.write("ERROR login: give a user and a password")
	}
	ok, err := s.o.Login.Check(args[0], args[1])
	if err != nil {
		s.o.Log.Error("control login: stored credentials unusable", "err", err)
		return s.write("ERROR login unavailable")
	}
	if !ok {
		s.fails++
		s.o.Log.Warn("control login failed", "failures", s.fails)
		// The delay grows with the failures, to at most 30 s per attempt.
		d := min(s.o.FailDelay*time.Duration(s.fails), 30*time.Second)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		return s.write("ERROR login failed")
	}
	s.fails = 0
	s.authed = true // the serve loop subscribes to events from now on
	s.o.Log.Info("control login", "user", args[0])
	return s.write("OK login")
}

// drain renders the events already waiting in sub.
func drain(sub *Subscription) []string {
	var out []string
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				return out
			}
			out = append(out, EventLines(e)...)
		default:
			return out
		}
	}
}

// EventLines renders an event for the line protocol.
func EventLines(e Event) []string {
	switch d := e.Data.(type) {
	case StatusChange:
		return leafLines(d.Changed)
	case ButtonEvent:
		return []string{"EVENT button " + printable(d.Button) + " " + printable(d.Action)}
	case CallEvent:
		l := "EVENT call " + printable(d.State)
		if d.Meeting != "" {
			l += " " + printable(d.Meeting)
		}
		if d.Error != "" {
			l += " " + printable(d.Error)
		}
		return []string{l}
	case nil:
		return []string{"EVENT " + printable(e.Type)}
	default:
		return []string{"EVENT " + printable(e.Type) + " " + FormatValue(d)}
	}
}

func leafLines(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + FormatValue(m[k])
	}
	return out
}
