package control

import (
	"context"
	"errors"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }

func TestHubUpdatePublishesChangedLeaves(t *testing.T) {
	tests := []struct {
		name string
		f    func(*Status)
		want map[string]any
	}{
		{"mic", func(s *Status) { s.Audio.MicMuted = true }, map[string]any{"audio.mic_muted": true}},
		{"volume", func(s *Status) { s.Audio.Volume = 70 }, map[string]any{"audio.volume": float64(70)}},
		{"participant joins", func(s *Status) {
			s.Call.Participants = []Participant{{ID: "p1", Name: "Ann"}}
		}, map[string]any{"call.participants": nil, "call.participants.0.id": "p1", "call.participants.0.name": "Ann",
			"call.participants.0.mic_muted": false, "call.participants.0.camera_muted": false, "call.participants.0.speaking": false}},
		{"nothing", func(s *Status) { s.Audio.Volume = 50 }, nil},
	}
	h := NewHub(HubOptions{Initial: Status{Audio: AudioStatus{Volume: 50}}, Now: fixedNow})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.Update(func(s *Status) { *s = Status{Audio: AudioStatus{Volume: 50}} }) // reset
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sub := h.Subscribe(ctx)
			got := h.Update(tc.f)
			if len(got) != len(tc.want) {
				t.Fatalf("changed %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if g, ok := got[k]; !ok || !equalLeaf(g, v) {
					t.Fatalf("changed[%s] = %v (%v), want %v; all %v", k, g, ok, v, got)
				}
			}
			select {
			case e := <-sub.C():
				if tc.want == nil {
					t.Fatalf("event %+v for no change", e)
				}
				if e.Type != EventStatus || !e.Time.Equal(fixedNow()) || len(e.Data.(StatusChange).Changed) != len(tc.want) {
					t.Fatalf("event %+v", e)
				}
			default:
				if tc.want != nil {
					t.Fatal("no status event")
				}
			}
		})
	}
}

func TestHubSlowSubscriberIsCutOffNotWaitedFor(t *testing.T) {
	h := NewHub(HubOptions{Buffer: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := h.Subscribe(ctx)
	fast := h.Subscribe(ctx)
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range fast.C() {
			got++
			if got == 100 {
				return
			}
		}
	}()
	for i := range 100 {
		h.Publish(Event{Type: "tick", Data: i}) // would deadlock if it waited for slow
		for fast.Err() == nil && len(fast.ch) == cap(fast.ch) {
			time.Sleep(time.Millisecond)
		}
	}
	<-done
	if got != 100 {
		t.Fatalf("fast subscriber got %d events", got)
	}
	n := 0
	for range slow.C() {
		n++
	}
	if n != 4 || !errors.Is(slow.Err(), ErrSlowSubscriber) {
		t.Fatalf("slow subscriber: %d buffered events, err %v; want 4 and ErrSlowSubscriber", n, slow.Err())
	}
	if h.Subscribers() != 1 {
		t.Fatalf("subscribers = %d, want 1", h.Subscribers())
	}
	cancel()
	for h.Subscribers() != 0 {
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(fast.Err(), context.Canceled) {
		t.Fatalf("fast err = %v after cancel", fast.Err())
	}
}

func TestStatusGet(t *testing.T) {
	s := Status{Audio: AudioStatus{MicMuted: true, Volume: 30}, Call: CallStatus{State: CallIdle}}
	tests := []struct {
		path    string
		want    map[string]any
		wantErr string
	}{
		{"audio.mic_muted", map[string]any{"audio.mic_muted": true}, ""},
		{"audio", map[string]any{"audio.mic_muted": true, "audio.volume": float64(30)}, ""},
		{"call.participants", map[string]any{"call.participants": []any{}}, ""},
		{"audio.mic", nil, `no status path "audio.mic"`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := s.Get(tc.path)
			if tc.wantErr != "" {
				if err == nil || err.Error() != "get status: "+tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			for k, v := range tc.want {
				if !equalLeaf(got[k], v) {
					t.Fatalf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
