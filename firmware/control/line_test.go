package control

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"strings"
	"testing"
	"time"
)

// lineRig serves the line protocol on the slave end of a pty with a recording dispatcher
// whose mic handler really changes the hub's status.
type lineRig struct {
	hub  *Hub
	in   io.Writer
	out  *bufio.Reader
	done chan error
}

func newLineRig(t *testing.T, login *Credentials) *lineRig {
	t.Helper()
	master, slave := openPTY(t)
	hub := NewHub(HubOptions{Initial: Status{Audio: AudioStatus{Volume: 50}}})
	d := NewDispatcher()
	specs := Specs()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.Register(CmdMic, specs[CmdMic], func(_ context.Context, a Args) (any, error) {
		hub.Update(func(s *Status) {
			switch a["action"] {
			case "mute":
				s.Audio.MicMuted = true
			case "unmute":
				s.Audio.MicMuted = false
			default:
				s.Audio.MicMuted = !s.Audio.MicMuted
			}
		})
		return nil, nil
	}))
	must(d.Register(CmdVolume, specs[CmdVolume], func(_ context.Context, a Args) (any, error) {
		n, err := a.Int("level")
		if err != nil {
			return nil, err
		}
		hub.Update(func(s *Status) { s.Audio.Volume = n })
		return nil, nil
	}))
	must(d.Register(CmdStatus, specs[CmdStatus], func(_ context.Context, a Args) (any, error) {
		return hub.Status().Get(a["path"])
	}))
	ctx, cancel := context.WithCancel(context.Background())
	r := &lineRig{hub: hub, in: master, out: bufio.NewReader(master), done: make(chan error, 1)}
	go func() {
		r.done <- ServeLine(ctx, slave, LineOptions{Hub: hub, Dispatcher: d, Login: login, FailDelay: time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		slave.Close()
		if err := <-r.done; err != nil && !strings.Contains(err.Error(), "closed") {
			t.Errorf("ServeLine: %v", err)
		}
	})
	return r
}

// send writes line and reads the answer lines until one starting with "OK" or "ERROR", or
// until want lines came (for get).
func (r *lineRig) send(t *testing.T, line string, want int) []string {
	t.Helper()
	if _, err := io.WriteString(r.in, line+"\r\n"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		l := r.readLine(t)
		got = append(got, l)
		if strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "ERROR") || len(got) == want {
			return got
		}
	}
}

func (r *lineRig) readLine(t *testing.T) string {
	t.Helper()
	type res struct {
		s   string
		err error
	}
	c := make(chan res, 1)
	go func() { s, err := r.out.ReadString('\n'); c <- res{s, err} }()
	select {
	case x := <-c:
		if x.err != nil {
			t.Fatalf("read: %v", x.err)
		}
		if !strings.HasSuffix(x.s, "\r\n") {
			t.Fatalf("line %q does not end in CR LF", x.s)
		}
		return strings.TrimSuffix(x.s, "\r\n")
	case <-time.After(5 * time.Second):
		t.Fatal("no line from the room within 5 s")
		return ""
	}
}

func TestLineProtocolOverPTY(t *testing.T) {
	r := newLineRig(t, nil)
	steps := []struct {
		send string
		want []string
	}{
		// Unsolicited status lines come first: the event is published before the reply.
		{"mic mute", []string{"audio.mic_muted=true", "OK mic mute"}},
		{"get audio.mic_muted", []string{"audio.mic_muted=true"}},
		{"volume 30", []string{"audio.volume=30", "OK volume 30"}},
		{"get audio", []string{"audio.mic_muted=true", "audio.volume=30"}},
		{"status audio.volume", []string{"audio.volume=30", "OK status audio.volume"}},
		{"mic   toggle", []string{"audio.mic_muted=false", "OK mic toggle"}},
		// Garbage gets ERROR and changes nothing.
		{"volume 200", []string{`ERROR volume: argument level: "200" is not valid (up, down, 0..100)`}},
		{"mic", []string{"ERROR mic: argument action is required (mute, unmute, toggle)"}},
		{"frobnicate 3", []string{`ERROR unknown command "frobnicate"`}},
		{"mic mute\x01", []string{"ERROR line has a non-printable character 0x01 at 8"}},
		{strings.Repeat("x", 300), []string{"ERROR line longer than 256 characters"}},
		{"get audio.nothing", []string{`ERROR get status: no status path "audio.nothing"`}},
		{"get audio.volume", []string{"audio.volume=30"}},
		{"get audio.mic_muted", []string{"audio.mic_muted=false"}},
		{"login a b", []string{"ERROR no login configured"}},
	}
	for _, s := range steps {
		t.Run(strings.ToValidUTF8(s.send[:min(len(s.send), 20)], "?"), func(t *testing.T) {
			got := r.send(t, s.send, len(s.want))
			if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
				t.Fatalf("sent %q, got %q, want %q", s.send, got, s.want)
			}
		})
	}
	if st := r.hub.Status(); st.Audio.Volume != 30 || st.Audio.MicMuted {
		t.Fatalf("status after garbage: %+v", st.Audio)
	}
	t.Run("unsolicited event", func(t *testing.T) {
		r.hub.Publish(Event{Type: EventButton, Data: ButtonEvent{Button: "mute_button", Action: "pressed"}})
		if l := r.readLine(t); l != "EVENT button mute_button pressed" {
			t.Fatalf("got %q", l)
		}
		r.hub.Publish(Event{Type: EventCall, Data: CallEvent{State: CallInCall, Meeting: "weekly"}})
		if l := r.readLine(t); l != "EVENT call in_call weekly" {
			t.Fatalf("got %q", l)
		}
	})
}

func TestLineProtocolLogin(t *testing.T) {
	hash, err := HashPassword("s3cret pass", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := newLineRig(t, &Credentials{User: "crestron", PasswordHash: hash})
	steps := []struct{ send, want string }{
		{"mic mute", "ERROR login required"},
		{"get audio.mic_muted", "ERROR login required"},
		{"login crestron wrong", "ERROR login failed"},
		{"login admin s3cret", "ERROR login failed"},
		{"login crestron", "ERROR login: give a user and a password"},
		{"logout", "OK logout"},
	}
	for _, s := range steps {
		if got := r.send(t, s.send, 1); len(got) != 1 || got[0] != s.want {
			t.Fatalf("sent %q, got %q, want %q", s.send, got, s.want)
		}
	}
	if r.hub.Status().Audio.MicMuted {
		t.Fatal("a command before login changed the status")
	}
	// An event before login is not sent; the first line after login is its OK.
	r.hub.Publish(Event{Type: EventButton, Data: ButtonEvent{Button: "mute_button", Action: "pressed"}})
	// The password here has no space: the line protocol splits on spaces.
	hash2, _ := HashPassword("s3cret", rand.Reader)
	r2 := newLineRig(t, &Credentials{User: "crestron", PasswordHash: hash2})
	if got := r2.send(t, "login crestron s3cret", 1); got[0] != "OK login" {
		t.Fatalf("login: %q", got)
	}
	if got := r2.send(t, "mic mute", 2); strings.Join(got, "|") != "audio.mic_muted=true|OK mic mute" {
		t.Fatalf("after login: %q", got)
	}
	if got := r2.send(t, "logout", 1); got[0] != "OK logout" {
		t.Fatalf("logout: %q", got)
	}
	if got := r2.send(t, "mic unmute", 1); got[0] != "ERROR login required" {
		t.Fatalf("after logout: %q", got)
	}
}
