package router

import (
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

// speakerEvery is how often a meeting re-evaluates its active speaker.
const speakerEvery = 300 * time.Millisecond

// room is one meeting on this router.
type room struct {
	sfu *SFU
	id  string

	mu    sync.Mutex
	parts map[string]*participant
	pubs  map[*publication]struct{}

	speakerMu   sync.Mutex
	speaker     *speakerDetector
	lastSpeakAt time.Time
}

func newRoom(s *SFU, id string) *room {
	return &room{sfu: s, id: id, parts: map[string]*participant{}, pubs: map[*publication]struct{}{}, speaker: newSpeakerDetector()}
}

func (r *room) members() []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*participant, 0, len(r.parts))
	for _, p := range r.parts {
		out = append(out, p)
	}
	return out
}

func (r *room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts) == 0
}

// add admits p. It returns the participant p replaces (same ID: a reconnect), the others
// already there, and the publications p should subscribe to.
func (r *room) add(p *participant) (replaced *participant, others []*participant, pubs []*publication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	replaced = r.parts[p.id]
	r.parts[p.id] = p
	for _, o := range r.parts {
		if o != p && o != replaced {
			others = append(others, o)
		}
	}
	for pub := range r.pubs {
		if pub.owner != p && pub.owner != replaced {
			pubs = append(pubs, pub)
		}
	}
	return replaced, others, pubs
}

// remove takes p out (if it is still the member under its ID) and returns who remains and
// p's publications.
func (r *room) remove(p *participant) (others []*participant, pubs []*publication, was bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts[p.id] == p {
		delete(r.parts, p.id)
		was = true
	}
	for pub := range r.pubs {
		if pub.owner == p {
			delete(r.pubs, pub)
			pubs = append(pubs, pub)
		}
	}
	for _, o := range r.parts {
		if o != p {
			others = append(others, o)
		}
	}
	return others, pubs, was
}

// publish registers pub and returns the participants who should receive it.
func (r *room) publish(pub *publication) []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts[pub.owner.id] != pub.owner {
		return nil // the owner already left
	}
	r.pubs[pub] = struct{}{}
	var out []*participant
	for _, o := range r.parts {
		if o != pub.owner {
			out = append(out, o)
		}
	}
	return out
}

// unpublish removes pub and returns the participants still in the room.
func (r *room) unpublish(pub *publication) []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pubs, pub)
	var out []*participant
	for _, o := range r.parts {
		if o != pub.owner {
			out = append(out, o)
		}
	}
	return out
}

func (r *room) hasPublication(pub *publication) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pubs[pub]
	return ok
}

// snapshot describes every participant except skip.
func (r *room) snapshot(skip *participant) []api.SigParticipant {
	r.mu.Lock()
	parts := make([]*participant, 0, len(r.parts))
	for _, p := range r.parts {
		if p != skip {
			parts = append(parts, p)
		}
	}
	r.mu.Unlock()
	out := make([]api.SigParticipant, 0, len(parts))
	for _, p := range parts {
		out = append(out, p.info())
	}
	return out
}

// broadcast sends a message to everyone but skip.
func (r *room) broadcast(skip *participant, typ string, data any) {
	for _, p := range r.members() {
		if p != skip {
			p.send(typ, data)
		}
	}
}

// observeLevel feeds an audio level and announces a new active speaker.
func (r *room) observeLevel(participant string, level uint8, now time.Time) {
	r.speakerMu.Lock()
	r.speaker.observe(participant, level, now)
	if now.Sub(r.lastSpeakAt) < speakerEvery {
		r.speakerMu.Unlock()
		return
	}
	r.lastSpeakAt = now
	id, changed := r.speaker.evaluate(now)
	r.speakerMu.Unlock()
	if changed {
		r.broadcast(nil, api.SigTypeActiveSpeaker, api.SigActiveSpeaker{ParticipantID: id})
	}
}

func (r *room) forgetSpeaker(participant string) {
	r.speakerMu.Lock()
	defer r.speakerMu.Unlock()
	r.speaker.forget(participant)
}

func (r *room) activeSpeaker() string {
	r.speakerMu.Lock()
	defer r.speakerMu.Unlock()
	return r.speaker.current
}
