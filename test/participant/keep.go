package participant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/services/api/rtcclient"
)

// JoinFunc asks the portal for a fresh admission (POST /api/v1/meetings/{id}/join) and returns
// the client options for it. Every call is a new participant ID and token.
type JoinFunc func(ctx context.Context) (rtcclient.Options, error)

// KeepOptions configure Keep. Client in Options is ignored: join provides it.
type KeepOptions struct {
	Options
	// Backoff is the first delay between failed rejoin attempts, doubling up to MaxBackoff
	// (defaults 100 ms and 1 s): a dead router is replaced within seconds, so waiting long
	// only adds to the outage.
	Backoff, MaxBackoff time.Duration
}

// Kept is a participant that rejoins through the portal whenever its session ends (signaling
// dropped, router gone, ICE failed), the way the browser client does. Its report merges every
// session's, so counters keep growing across rejoins.
type Kept struct {
	opts   KeepOptions
	join   JoinFunc
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	cur      *Participant
	past     []Report // final reports of ended sessions
	ids      []string // every participant ID this one had, oldest first
	rejoined []time.Time
	lastErr  error
}

// Keep joins once (failing if that fails) and then keeps the participant in the meeting until
// Close, rejoining with backoff after every drop.
func Keep(ctx context.Context, join JoinFunc, opts KeepOptions) (*Kept, error) {
	if opts.Backoff <= 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	k := &Kept{opts: opts, join: join, log: opts.Log, done: make(chan struct{})}
	p, err := k.joinOnce(ctx)
	if err != nil {
		return nil, fmt.Errorf("keep participant: %w", err)
	}
	k.setCurrent(p)
	loopCtx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	go k.loop(loopCtx)
	return k, nil
}

func (k *Kept) joinOnce(ctx context.Context) (*Participant, error) {
	copts, err := k.join(ctx)
	if err != nil {
		return nil, fmt.Errorf("join through the portal: %w", err)
	}
	o := k.opts.Options
	o.Client = copts
	return Join(ctx, o)
}

func (k *Kept) setCurrent(p *Participant) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cur = p
	k.ids = append(k.ids, p.ID())
}

// loop waits for the session to end and rejoins until ctx ends.
func (k *Kept) loop(ctx context.Context) {
	defer close(k.done)
	for {
		k.mu.Lock()
		p := k.cur
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-p.Client().Done():
		}
		k.log.Info("participant session ended; rejoining", "participant", p.ID(), "err", p.Client().Err())
		_ = p.Close()
		k.mu.Lock()
		k.past = append(k.past, p.Report())
		k.mu.Unlock()
		delay := k.opts.Backoff
		for {
			attemptCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			np, err := k.joinOnce(attemptCtx)
			cancel()
			if err == nil {
				k.setCurrent(np)
				k.mu.Lock()
				k.rejoined = append(k.rejoined, k.opts.Now())
				k.mu.Unlock()
				k.log.Info("participant rejoined", "participant", np.ID(), "was", p.ID())
				break
			}
			k.mu.Lock()
			k.lastErr = err
			k.mu.Unlock()
			k.log.Debug("participant rejoin failed", "err", err, "retry_in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, k.opts.MaxBackoff)
		}
	}
}

// ID is the current session's participant ID.
func (k *Kept) ID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur.ID()
}

// IDs are every participant ID this participant had, oldest first.
func (k *Kept) IDs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.ids)
}

// Current is the running session (it may end at any moment).
func (k *Kept) Current() *Participant {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur
}

// Rejoins are the times of successful rejoins; LastError the latest failed attempt's error.
func (k *Kept) Rejoins() []time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.rejoined)
}

// LastError is the latest failed rejoin attempt's error, nil if none failed.
func (k *Kept) LastError() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lastErr
}

// Report merges every session's report, by remote participant ID (remotes that rejoined appear
// under each of their IDs, with the same Name). ID is the current session's.
func (k *Kept) Report() Report {
	k.mu.Lock()
	past := slices.Clone(k.past)
	cur := k.cur
	k.mu.Unlock()
	out := Report{ID: cur.ID(), Remote: map[string]RemoteReport{}}
	for _, r := range append(past, cur.Report()) {
		for id, rr := range r.Remote {
			out.Remote[id] = mergeRemote(out.Remote[id], rr)
		}
	}
	return out
}

// mergeRemote adds b's counters to a (a may be the zero value).
func mergeRemote(a, b RemoteReport) RemoteReport {
	if a.Widths == nil {
		a.Widths = map[int]int{}
	}
	a.Frames = append(a.Frames, b.Frames[:min(len(b.Frames), max(0, maxKeptFrames-len(a.Frames)))]...)
	a.Decoded += b.Decoded
	a.Undecodable += b.Undecodable
	a.Skipped += b.Skipped
	a.Backwards += b.Backwards
	a.Repeats += b.Repeats
	a.AudioPackets += b.AudioPackets
	for w, n := range b.Widths {
		a.Widths[w] += n
	}
	a.First, a.FirstFrame = earliest(a.First, b.First), earliest(a.FirstFrame, b.FirstFrame)
	a.Last, a.LastFrame = latest(a.Last, b.Last), latest(a.LastFrame, b.LastFrame)
	if a.Name == "" {
		a.Name = b.Name
	}
	return a
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ByName sums the report's remotes per display name: one entry per person however often they
// rejoined. FirstFrame/LastFrame span all their sessions.
func (r Report) ByName() map[string]RemoteReport {
	out := map[string]RemoteReport{}
	for _, rr := range r.Remote {
		out[rr.Name] = mergeRemote(out[rr.Name], rr)
	}
	return out
}

// ResumedSince returns, per remote display name, when the first frame decoded at or after t
// arrived in a session (of ours) with a remote session (of theirs) that delivered nothing
// before t: when media from them resumed after an outage starting at t.
func (k *Kept) ResumedSince(t time.Time) map[string]time.Time {
	k.mu.Lock()
	sessions := append(slices.Clone(k.past), k.cur.Report())
	k.mu.Unlock()
	out := map[string]time.Time{}
	for _, r := range sessions {
		for _, rr := range r.Remote {
			if rr.FirstFrame.IsZero() || rr.FirstFrame.Before(t) {
				continue
			}
			out[rr.Name] = earliest(out[rr.Name], rr.FirstFrame)
		}
	}
	return out
}

// Close stops rejoining and leaves.
func (k *Kept) Close() error {
	if k.cancel == nil {
		return errors.New("keep participant: not started")
	}
	k.cancel()
	<-k.done
	k.mu.Lock()
	p := k.cur
	k.mu.Unlock()
	return p.Close()
}
