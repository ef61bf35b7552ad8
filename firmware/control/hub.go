package control

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultBuffer is how many events a subscriber may fall behind before it is cut off.
const DefaultBuffer = 256

// ErrSlowSubscriber ends a subscription whose reader fell a whole buffer behind: the
// publisher never waits, so the reader must fetch the status afresh and subscribe again.
var ErrSlowSubscriber = errors.New("event subscriber fell too far behind")

// HubOptions configure a Hub.
type HubOptions struct {
	Initial Status
	Now     func() time.Time // default time.Now
	Buffer  int              // per subscriber; default DefaultBuffer
}

// Hub holds the status tree and fans events out to subscribers. Safe for concurrent use.
type Hub struct {
	now    func() time.Time
	buffer int

	mu   sync.Mutex
	st   Status
	subs map[*Subscription]struct{}
}

// NewHub returns a hub holding o.Initial.
func NewHub(o HubOptions) *Hub {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	return &Hub{now: o.Now, buffer: o.Buffer, st: o.Initial.Clone(), subs: map[*Subscription]struct{}{}}
}

// Status returns a copy of the status tree.
func (h *Hub) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st.Clone()
}

// Update changes the status tree with f (on a copy, applied atomically) and, when anything
// changed, publishes a "status" event naming every changed leaf. It returns the changes.
func (h *Hub) Update(f func(*Status)) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := h.st.Clone()
	f(&next)
	changed := Diff(h.st, next)
	if len(changed) == 0 {
		return nil
	}
	h.st = next.Clone()
	h.publishLocked(Event{Type: EventStatus, Time: h.now(), Data: StatusChange{Changed: changed}})
	return changed
}

// Publish sends e to every subscriber; a zero Time is set to now. It never blocks.
func (h *Hub) Publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = h.now()
	}
	h.publishLocked(e)
}

func (h *Hub) publishLocked(e Event) {
	for s := range h.subs {
		select {
		case s.ch <- e:
		default:
			// Full: cut the reader off rather than wait for it or lose events silently.
			s.err = ErrSlowSubscriber
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

// Subscribers counts the live subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Subscription receives events published after Subscribe until ctx ends or it falls behind.
type Subscription struct {
	h   *Hub
	ch  chan Event
	err error // guarded by h.mu
}

// Subscribe starts a subscription; it ends (C closes) when ctx ends.
func (h *Hub) Subscribe(ctx context.Context) *Subscription {
	s := &Subscription{h: h, ch: make(chan Event, h.buffer)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[s]; ok {
			delete(h.subs, s)
			s.err = ctx.Err()
			close(s.ch)
		}
	})
	return s
}

// C delivers the events; it is closed when the subscription ends.
func (s *Subscription) C() <-chan Event { return s.ch }

// Err says why the subscription ended (ErrSlowSubscriber or the context's error); nil while live.
func (s *Subscription) Err() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.err
}
