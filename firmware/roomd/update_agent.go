package roomd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoa-rooms/stoa/services/api"
)

const (
	// systemTimeout bounds one `stoa-update status`.
	systemTimeout = 10 * time.Second
	// defaultRebootWait bounds the wait for a poll carrying "rebooting" before rebooting
	// anyway (the portal unreachable must not keep an installed update from booting).
	defaultRebootWait = 30 * time.Second
)

// errReportNow cancels a poll in flight so the next one reports a new update state at once
// (a long poll may otherwise hold it for poll_timeout).
var errReportNow = errors.New("update state changed: report now")

// updates is the room's side of portal-offered updates: what it reports in each poll
// (RoomStatus.System, .Update) and the one install it runs at a time. It outlives management
// phases so a refused version stays refused.
type updates struct {
	u          Updater
	log        *slog.Logger
	rebootWait time.Duration

	kick  chan struct{} // cap 1: the management loop should poll now
	bytes atomic.Int64  // bytes of the bundle read so far
	wg    sync.WaitGroup

	mu          sync.Mutex
	off         bool // not on the image: no system, offers ignored
	offLogged   bool // an ignored offer was logged
	lastErr     string
	sys         *api.RoomSystem
	failedTrial string
	cur         *api.RoomUpdate // the install this roomd runs or ran
	busy        bool            // install (or the reboot after it) under way
	refused     string          // failed here: not retried while the portal keeps offering it
	rebootDue   chan struct{}   // the current install's: closed once "rebooting" is on its way
}

func newUpdates(u Updater, log *slog.Logger) *updates {
	return &updates{u: u, log: log, rebootWait: defaultRebootWait, kick: make(chan struct{}, 1)}
}

// refresh reads the system (each poll: the trial ends, a rollback shows, while roomd runs).
func (s *updates) refresh(ctx context.Context) {
	s.mu.Lock()
	off := s.off
	s.mu.Unlock()
	if off {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, systemTimeout)
	defer cancel()
	sys, failed, err := s.u.System(sctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case errors.Is(err, ErrNoSystem):
		s.off, s.sys = true, nil
		s.log.Info("updates disabled", "reason", err.Error())
	case err != nil:
		// Keep the last known system; log a failure once until it changes.
		if err.Error() != s.lastErr {
			s.log.Warn("reading the room's system failed", "err", err)
		}
		s.lastErr = err.Error()
	default:
		s.sys, s.failedTrial, s.lastErr = sys, failed, ""
	}
}

// report is what the next poll carries.
func (s *updates) report() (*api.RoomSystem, *api.RoomUpdate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sys == nil {
		return nil, nil
	}
	sys := *s.sys
	if s.cur != nil {
		u := *s.cur
		if u.State == api.UpdateDownloading {
			u.Bytes = s.bytes.Load()
		}
		return &sys, &u
	}
	if s.failedTrial != "" {
		return &sys, &api.RoomUpdate{Version: s.failedTrial, State: api.UpdateFailed, Error: rollbackError(s.failedTrial, &sys)}
	}
	return &sys, nil
}

// sent is called once a poll carrying u is written to the portal.
func (s *updates) sent(u *api.RoomUpdate) {
	if u == nil || u.State != api.UpdateRebooting {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rebootDue != nil {
		close(s.rebootDue)
		s.rebootDue = nil
	}
}

// drainKick forgets a pending "poll now": the poll being built reports the latest state.
func (s *updates) drainKick() {
	select {
	case <-s.kick:
	default:
	}
}

// interruptible returns ctx canceled with errReportNow when the update state changes.
func (s *updates) interruptible(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-s.kick:
			cancel(errReportNow)
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

func (s *updates) kickNow() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// fetcher GETs a path on the management listener: the body and its length (-1 unknown).
type fetcher func(ctx context.Context, path string) (io.ReadCloser, int64, error)

// offer acts on the portal's offer in a poll answer: start an install, or not.
func (s *updates) offer(ctx context.Context, o *api.UpdateOffer, fetch fetcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o == nil {
		// The portal stopped offering (done, failed, cancelled): an offer of a version that
		// failed here is a new request and is tried again.
		s.refused = ""
		return
	}
	if s.off || s.sys == nil {
		if !s.offLogged {
			s.offLogged = true
			s.log.Info("update offer ignored: the room's system is unknown (not on the appliance image?)", "version", o.Version)
		}
		return
	}
	if s.busy || o.Version == s.sys.Version || o.Version == s.refused || o.Version == s.failedTrial {
		return
	}
	fail := func(msg string) {
		s.cur, s.refused = &api.RoomUpdate{Version: o.Version, State: api.UpdateFailed, Error: msg}, o.Version
		s.log.Warn("update offer refused", "version", o.Version, "err", msg)
		s.kickNow()
	}
	switch {
	case o.Board != s.sys.Board:
		fail(fmt.Sprintf("the update is for board %q, this room is %q", o.Board, s.sys.Board))
		return
	case !strings.HasPrefix(o.Path, updatePathPrefix) || strings.Contains(o.Path, "..") || strings.ContainsAny(o.Path, "?#"):
		fail(fmt.Sprintf("the update's path %q is not under %s", o.Path, updatePathPrefix))
		return
	}
	s.busy = true
	s.bytes.Store(0)
	s.cur = &api.RoomUpdate{Version: o.Version, State: api.UpdateDownloading, Total: o.Size}
	due := make(chan struct{})
	s.rebootDue = due
	s.log.Info("update offered: installing", "version", o.Version, "size", o.Size)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx, *o, fetch, due)
	}()
}

// run downloads and installs one offer, then reboots into it.
func (s *updates) run(ctx context.Context, o api.UpdateOffer, fetch fetcher, rebootDue <-chan struct{}) {
	err := s.install(ctx, o, fetch)
	if err != nil {
		s.finish(o.Version, fmt.Errorf("install %s: %w", o.Version, err))
		return
	}
	s.mu.Lock()
	s.cur = &api.RoomUpdate{Version: o.Version, State: api.UpdateRebooting, Bytes: s.bytes.Load(), Total: o.Size}
	s.mu.Unlock()
	s.log.Info("update installed; rebooting once the portal has been told", "version", o.Version)
	s.kickNow()
	t := time.NewTimer(s.rebootWait)
	defer t.Stop()
	select {
	case <-rebootDue:
	case <-t.C:
		s.log.Warn("the portal was not told about the reboot in time; rebooting anyway", "version", o.Version)
	case <-ctx.Done():
		s.finish(o.Version, fmt.Errorf("reboot into %s: %w", o.Version, ctx.Err()))
		return
	}
	if err := s.u.Reboot(ctx); err != nil {
		s.finish(o.Version, fmt.Errorf("reboot into %s: %w", o.Version, err))
	}
	// Rebooting: stay busy, nothing else is installed before the system goes down.
}

func (s *updates) install(ctx context.Context, o api.UpdateOffer, fetch fetcher) error {
	body, n, err := fetch(ctx, o.Path)
	if err != nil {
		return err
	}
	defer body.Close()
	if n >= 0 && o.Size > 0 && n != o.Size {
		return fmt.Errorf("download: the portal serves %d bytes, the offer says %d", n, o.Size)
	}
	return s.u.Install(ctx, &countingReader{r: body, n: &s.bytes, max: o.Size})
}

// finish records a failed install: reported until another starts, not retried while offered.
func (s *updates) finish(version string, err error) {
	s.log.Warn("update failed", "version", version, "err", err)
	s.mu.Lock()
	s.cur = &api.RoomUpdate{Version: version, State: api.UpdateFailed, Error: err.Error()}
	s.busy, s.refused = false, version
	s.mu.Unlock()
	s.kickNow()
}

// countingReader counts the bundle's bytes for progress reports and stops at the offered size.
type countingReader struct {
	r   io.Reader
	n   *atomic.Int64
	max int64 // 0: no bound
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n.Add(int64(n)) > c.max && c.max > 0 {
		return n, fmt.Errorf("download: more than the offered %d bytes", c.max)
	}
	return n, err
}

// fetchUpdates GETs offered bundles over the management channel as it is now (the room's
// client certificate authenticates it; a later bundle change builds new clients).
func (m *manager) fetchUpdates() fetcher {
	c, base := m.mgmt, m.base
	return func(ctx context.Context, path string) (io.ReadCloser, int64, error) {
		return fetchBundle(ctx, c, base+path)
	}
}

func fetchBundle(ctx context.Context, c *http.Client, url string) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("download: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("download: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		a := answer{Status: resp.StatusCode}
		a.Err, _ = DecodeAPIError(data)
		return nil, 0, fmt.Errorf("download: %s", a)
	}
	return resp.Body, resp.ContentLength, nil
}
