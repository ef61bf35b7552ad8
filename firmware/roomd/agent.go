package roomd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/provisioning/pairing"
)

// ScreenShower shows the room's idle and pairing screens (firmware/screen renders them on
// the board's display).
type ScreenShower interface {
	Show(s board.Screen) error
}

// Options configure an Agent. Config and Display are required.
type Options struct {
	Config  Config
	Display ScreenShower
	Log     *slog.Logger
	Now     func() time.Time // default time.Now
	Rand    io.Reader        // default crypto/rand
	// OnCode is called with every new pairing code ("1234 5678 9012"), e.g. to print it, as
	// the status takes the code (under its lock: it must not call back into the agent).
	OnCode func(code string)
	// Browse finds a portal URL on the LAN (DNS-SD); default provisioning/discovery. Used only
	// when Config.Discover is set and no portal URL is configured or entered.
	Browse func(ctx context.Context) (string, error)
	// Room describes the device to the portal.
	Room pairing.RoomInfo
	// OnStatus is called with the new status after every change, in order (the room mirrors
	// it into its status tree). It must not call back into the agent.
	OnStatus func(Status)
	// Updater installs portal-offered updates (update.go); default the image's stoa-update
	// CLI at Config.UpdateCommand.
	Updater Updater
}

// Agent is the room's state machine: unpaired → pairing → paired, and back on unpair.
type Agent struct {
	o       Options
	started time.Time

	notifyMu    sync.Mutex // orders OnStatus calls
	mu          sync.Mutex
	st          Status
	manualURL   string             // entered through the local API
	unpairAsked bool               // the local API asked to unpair
	cancelPhase context.CancelFunc // restarts the current phase
	mgmt        mgmtSlot           // the management channel while paired (JoinMeeting)
	panels      panelSlot          // the touch panels reported in polls (panel_hook.go)
	upd         *updates           // portal-offered updates (update_agent.go)
}

// NewAgent checks o and returns an agent; Run starts it.
func NewAgent(o Options) (*Agent, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Display == nil {
		return nil, errors.New("new agent: no display")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Browse == nil {
		o.Browse = browseDNSSD
	}
	if o.Room.Firmware == "" {
		o.Room.Firmware = o.Config.Firmware
	}
	if o.Updater == nil {
		o.Updater = &CLIUpdater{Command: o.Config.UpdateCommand, Log: o.Log}
	}
	return &Agent{o: o, started: o.Now(), st: Status{State: StateUnpaired}, upd: newUpdates(o.Updater, o.Log)}, nil
}

// Run drives the agent until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	bo := NewBackoff()
	for ctx.Err() == nil {
		phase, cancel := context.WithCancel(ctx)
		a.mu.Lock()
		a.cancelPhase = cancel
		a.mu.Unlock()
		err := a.step(phase)
		cancel()
		if ctx.Err() != nil {
			break
		}
		if err == nil || errors.Is(err, context.Canceled) {
			bo.Reset()
			continue
		}
		a.o.Log.Error("room agent", "err", err)
		a.setError(err)
		if !sleepCtx(ctx, bo.Next()) {
			break
		}
	}
	return nil
}

// step runs one phase: managed when an identity is stored, else find a portal and pair.
func (a *Agent) step(ctx context.Context) error {
	dir := a.o.Config.DataDir
	id, err := loadIdentity(dir)
	switch {
	case errors.Is(err, errNotPaired):
		return a.unpaired(ctx)
	case err != nil:
		// A broken identity cannot reach the portal; the only way back is pairing again.
		a.o.Log.Error("stored identity unusable; forgetting it", "err", err)
		if werr := wipeIdentity(dir); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	err = a.managed(ctx, id)
	a.mu.Lock()
	asked := a.unpairAsked
	a.unpairAsked = false
	a.mu.Unlock()
	switch {
	case asked:
		a.unpairRemote(context.WithoutCancel(ctx), id)
		fallthrough
	case errors.Is(err, errRevoked):
		a.o.Log.Info("unpaired; forgetting identity", "room_id", id.Room.RoomID, "by_portal", !asked)
		if werr := wipeIdentity(dir); werr != nil {
			return werr
		}
		a.setStatus(func(s *Status) { *s = Status{State: StateUnpaired} })
		return nil
	}
	return err
}

// unpaired finds the portal, runs pairing until it succeeds and stores the identity.
func (a *Agent) unpaired(ctx context.Context) error {
	a.setStatus(func(s *Status) { *s = Status{State: StateUnpaired, LastError: s.LastError} })
	portal, err := a.findPortal(ctx)
	if err != nil {
		return err
	}
	id, env, err := a.pair(ctx, portal)
	if err != nil {
		return err
	}
	if err := saveIdentity(a.o.Config.DataDir, id, env); err != nil {
		_ = wipeIdentity(a.o.Config.DataDir)
		return err
	}
	a.o.Log.Info("paired", "room_id", id.Room.RoomID, "name", id.Room.Name, "mgmt_url", id.Room.MgmtURL)
	return nil
}

// Status reports the agent's state for the local API.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

// Pair sets the portal by hand and restarts pairing with it.
func (a *Agent) Pair(portalURL string) error {
	if err := CheckPortalURL(portalURL); err != nil {
		return fmt.Errorf("pair: %w", err)
	}
	var err error
	a.setStatus(func(s *Status) {
		if s.State == StatePaired {
			err = ErrAlreadyPaired
			return
		}
		a.manualURL = portalURL
		s.PortalURL, s.LastError = portalURL, ""
		if a.cancelPhase != nil {
			a.cancelPhase()
		}
	})
	return err
}

// Unpair tells the portal (best effort), forgets the identity and shows a new code.
func (a *Agent) Unpair() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st.State != StatePaired {
		return ErrNotPaired
	}
	a.unpairAsked = true
	if a.cancelPhase != nil {
		a.cancelPhase()
	}
	return nil
}

// setStatus changes the status under the lock, then tells OnStatus.
func (a *Agent) setStatus(f func(*Status)) {
	a.notifyMu.Lock()
	defer a.notifyMu.Unlock()
	a.mu.Lock()
	f(&a.st)
	st := a.st
	a.mu.Unlock()
	if a.o.OnStatus != nil {
		a.o.OnStatus(st)
	}
}

func (a *Agent) setError(err error) {
	a.setStatus(func(s *Status) { s.LastError = err.Error() })
}

func (a *Agent) show(s board.Screen) {
	if err := a.o.Display.Show(s); err != nil {
		a.o.Log.Warn("display", "err", err)
	}
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
