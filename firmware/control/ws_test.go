package control

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWSHandlerStatusEventsCommandsAndAuth(t *testing.T) {
	r := newLineRigHub(t)
	srv := httptest.NewServer(WSHandler(WSOptions{Hub: r.hub, Dispatcher: r.d, Auth: func(req *http.Request) error {
		if req.Header.Get("Authorization") != "Bearer panel-token" {
			return errors.New("no panel token")
		}
		return nil
	}}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("refused without token", func(t *testing.T) {
		if _, err := DialWS(ctx, url, nil); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("dial without token: %v", err)
		}
	})
	hc := &http.Client{Transport: headerRT{"Authorization", "Bearer panel-token"}}
	c, err := DialWS(ctx, url, hc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Next(ctx)
	if err != nil || m.Status == nil || m.Status.Audio.Volume != 50 {
		t.Fatalf("first message %+v, %v; want the status", m, err)
	}
	steps := []struct {
		cmd     Command
		wantErr string
		check   func(Status) bool
	}{
		{Command{ID: "1", Name: "mic", Args: map[string]string{"action": "mute"}}, "", func(s Status) bool { return s.Audio.MicMuted }},
		{Command{ID: "2", Name: "volume", Args: map[string]string{"level": "loud"}}, `"loud" is not valid`, nil},
		{Command{ID: "3", Name: "nope"}, `unknown command "nope"`, nil},
	}
	for _, s := range steps {
		if err := c.Send(ctx, s.cmd); err != nil {
			t.Fatal(err)
		}
		var reply *Reply
		var ev *Event
		for reply == nil {
			m, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Event != nil {
				ev = m.Event
			}
			reply = m.Reply
		}
		if reply.ID != s.cmd.ID || (s.wantErr == "") != reply.OK || !strings.Contains(reply.Error, s.wantErr) {
			t.Fatalf("%+v: reply %+v", s.cmd, reply)
		}
		if s.check != nil {
			if ev == nil {
				m, err := c.Next(ctx)
				if err != nil || m.Event == nil {
					t.Fatalf("no status event after %+v: %+v %v", s.cmd, m, err)
				}
				ev = m.Event
			}
			if ev.Type != EventStatus || !s.check(r.hub.Status()) {
				t.Fatalf("event %+v, status %+v", ev, r.hub.Status())
			}
		}
	}
	r.hub.Publish(Event{Type: EventButton, Data: ButtonEvent{Button: "mute_button", Action: "long_press"}})
	m, err = c.Next(ctx)
	if err != nil || m.Event == nil || m.Event.Type != EventButton {
		t.Fatalf("button event: %+v %v", m, err)
	}
}

type headerRT struct{ k, v string }

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.k, h.v)
	return http.DefaultTransport.RoundTrip(r)
}

type hubRig struct {
	hub *Hub
	d   *Dispatcher
}

// newLineRigHub is the line rig's hub and dispatcher without a pty.
func newLineRigHub(t *testing.T) hubRig {
	hub := NewHub(HubOptions{Initial: Status{Audio: AudioStatus{Volume: 50}}})
	d := NewDispatcher()
	specs := Specs()
	if err := d.Register(CmdMic, specs[CmdMic], func(_ context.Context, a Args) (any, error) {
		hub.Update(func(s *Status) { s.Audio.MicMuted = a["action"] == "mute" })
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.Register(CmdVolume, specs[CmdVolume], func(context.Context, Args) (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	return hubRig{hub, d}
}
