package roomd

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/stoa-rooms/stoa/board"
	"github.com/stoa-rooms/stoa/board/visca"
	"github.com/stoa-rooms/stoa/firmware/control"
)

// Defaults of the room's loops.
const (
	DefaultLongPress  = 1500 * time.Millisecond
	DefaultLightEvery = 5 * time.Second
	DefaultBeat       = time.Second
	DefaultHungAfter  = 10 * time.Second
)

// CallSession is the call the room is in: a *call.Call seen through an adapter, so the room's
// control logic does not depend on the media stack.
type CallSession interface {
	SetMicMuted(bool) error
	SetCameraMuted(bool) error
	SetVolume(int) error
	SetLayout(string) error
	// State is the call's state as the status tree shows it.
	State() control.CallStatus
	Leave() error
	Done() <-chan struct{}
}

// JoinRequest is what the room asks its Joiner for.
type JoinRequest struct {
	MeetingID, PIN        string // "" = the room's default meeting
	Board                 *board.Board
	MicMuted, CameraMuted bool
	Volume                int
	Layout                string
	// OnChange must be called whenever State changes.
	OnChange func()
}

// Joiner takes the room into a meeting (JoinCall wires the agent's JoinMeeting to firmware/call).
type Joiner func(ctx context.Context, r JoinRequest) (CallSession, error)

// RoomOptions configure a Room. Agent, Board and Screen are required.
type RoomOptions struct {
	// Agent configures the pairing agent the room runs; its Display and OnStatus are the room's.
	Agent Options
	Board *board.Board
	// Screen shows idle and pairing screens (firmware/screen).
	Screen ScreenShower
	// Join takes the room into calls; nil refuses join.
	Join Joiner
	// ControlLogin, when set, is required on the serial control port.
	ControlLogin *control.Credentials
	LongPress    time.Duration // mute button held this long toggles camera privacy
	LightEvery   time.Duration // light sensor poll
	Beat         time.Duration // loop heartbeat
	// HungAfter: a loop silent this long (or a camera without frames) is hung and roomd stops
	// pinging systemd's watchdog. Default DefaultHungAfter, or 3 beats when Beat is set: a busy
	// appliance (or a TCG guest) can stall a few seconds without being hung.
	HungAfter time.Duration
	// Addresses lists the room's network addresses (default: the interfaces' non-loopback ones).
	Addresses func() []string
}

// Room is the room's controller: it owns the status Hub and the command Dispatcher, runs the
// pairing agent, and drives buttons, LEDs, the camera head, sensors, the display and calls.
type Room struct {
	o     RoomOptions
	log   *slog.Logger
	now   func() time.Time
	agent *Agent
	hub   *control.Hub
	disp  *control.Dispatcher
	hb    *Heartbeats
	cam   *watchedCamera
	inbox chan func() // GPIO callbacks run on the room's event loop

	ptzMu   sync.Mutex // ptz, presets, one camera command at a time
	ptz     board.PTZ
	presets map[int]bool

	mu          sync.Mutex // the call, the screen and the LEDs
	call        CallSession
	joining     bool
	idle        board.Screen
	muteLED     board.OutputLine
	callLED     board.OutputLine
	pressAt     time.Time // mute button pressed (event loop only)
	gpioClosers []io.Closer
	softProb    map[string]string // problems that do not stop the watchdog (a failing sensor)
}

// NewRoom builds the room and its agent; Run starts them.
func NewRoom(o RoomOptions) (*Room, error) {
	if o.Board == nil || o.Screen == nil {
		return nil, errors.New("new room: board and screen are required")
	}
	if o.LongPress <= 0 {
		o.LongPress = DefaultLongPress
	}
	if o.LightEvery <= 0 {
		o.LightEvery = DefaultLightEvery
	}
	if o.HungAfter <= 0 {
		o.HungAfter = DefaultHungAfter
		if o.Beat > 0 {
			o.HungAfter = 3 * o.Beat
		}
	}
	if o.Beat <= 0 {
		o.Beat = DefaultBeat
	}
	if o.Addresses == nil {
		o.Addresses = localAddresses
	}
	log := o.Agent.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := o.Agent.Now
	if now == nil {
		now = time.Now
	}
	r := &Room{o: o, log: log, now: now, inbox: make(chan func(), 64), presets: map[int]bool{}, softProb: map[string]string{}}
	r.hb = NewHeartbeats(now, o.HungAfter)
	host, _ := os.Hostname()
	r.hub = control.NewHub(control.HubOptions{Now: now, Initial: control.Status{
		Call:     control.CallStatus{State: control.CallIdle, Layout: "speaker"},
		Audio:    control.AudioStatus{Volume: 50},
		Camera:   control.CameraStatus{Control: "none"},
		Network:  control.NetworkStatus{Hostname: host},
		Versions: control.Versions{Firmware: o.Agent.Config.Firmware, Board: o.Board.Name()},
		Health:   control.Health{OK: true},
	}})
	if o.Board.Camera != nil {
		r.cam = &watchedCamera{Camera: o.Board.Camera, hb: r.hb, now: now, maxWait: o.HungAfter}
	}
	ao := o.Agent
	ao.Display = roomScreen{r}
	ao.OnStatus = r.pairingChanged
	a, err := NewAgent(ao)
	if err != nil {
		return nil, err
	}
	r.agent = a
	r.disp = control.NewDispatcher()
	if err := r.register(); err != nil {
		return nil, err
	}
	return r, nil
}

// SetJoiner sets how the room joins calls (CallJoiner, which needs the room's agent). Call it
// before Run.
func (r *Room) SetJoiner(j Joiner) { r.o.Join = j }

// Hub is the room's status and events.
func (r *Room) Hub() *control.Hub { return r.hub }

// Dispatcher runs the room's commands.
func (r *Room) Dispatcher() *control.Dispatcher { return r.disp }

// Agent is the pairing agent the room runs.
func (r *Room) Agent() *Agent { return r.agent }

// Status is the local API's status: the agent's pairing fields and the status tree.
func (r *Room) Status() Status {
	s := r.agent.Status()
	t := r.hub.Status()
	s.Status = &t
	return s
}

// Pair and Unpair are the agent's (the local API's Controller).
func (r *Room) Pair(portalURL string) error { return r.agent.Pair(portalURL) }

// Unpair asks the agent to unpair.
func (r *Room) Unpair() error { return r.agent.Unpair() }

// Healthy is nil while every loop beats and the camera delivers frames while capturing; the
// watchdog pings systemd only then.
func (r *Room) Healthy() error {
	if p := r.hb.Problems(); len(p) > 0 {
		return fmt.Errorf("unhealthy: %v", p)
	}
	return nil
}

// Run opens the devices and runs the agent and the room's loops until ctx ends. ready is
// called once the hardware is up.
func (r *Room) Run(ctx context.Context, ready func()) error {
	b := r.o.Board
	if err := r.openGPIO(); err != nil {
		return err
	}
	defer r.closeGPIO()
	if err := r.openPTZ(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	r.hb.Beat("events")
	if b.Light != nil {
		r.hb.Beat("light")
		start(r.lightLoop)
	}
	if _, ok := b.Def.Serial["control"]; ok && b.Serial != nil {
		r.hb.Beat("serial_control")
		start(r.serialLoop)
	}
	start(func(ctx context.Context) { _ = r.agent.Run(ctx) })
	if ready != nil {
		ready()
	}
	r.eventLoop(ctx)
	r.leaveCall()
	return nil
}

// eventLoop runs GPIO callbacks and keeps health and network status fresh.
func (r *Room) eventLoop(ctx context.Context) {
	t := time.NewTicker(r.o.Beat)
	defer t.Stop()
	clock := time.NewTicker(time.Minute)
	defer clock.Stop()
	r.refresh()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-r.inbox:
			f()
		case <-t.C:
			r.refresh()
		case <-clock.C:
			r.redrawIdle()
		}
	}
}

// refresh beats the event loop and mirrors health and addresses into the status.
func (r *Room) refresh() {
	r.hb.Beat("events")
	if r.cam != nil {
		r.cam.check()
	}
	problems := r.hb.Problems()
	r.mu.Lock()
	for k, v := range r.softProb {
		problems = append(problems, k+": "+v)
	}
	r.mu.Unlock()
	slices.Sort(problems)
	addrs := r.o.Addresses()
	r.hub.Update(func(s *control.Status) {
		s.Health = control.Health{OK: len(problems) == 0, Problems: problems}
		s.Network.Addresses = addrs
	})
}

// post runs f on the event loop (GPIO drivers call back on their own goroutines and want
// short callbacks); when the loop is too far behind the event is dropped and logged.
func (r *Room) post(f func()) {
	select {
	case r.inbox <- f:
	default:
		r.log.Warn("room event loop busy; input event dropped")
	}
}

func (r *Room) setSoftProblem(name, p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p == "" {
		delete(r.softProb, name)
	} else {
		r.softProb[name] = p
	}
}

// lightLoop reads the light sensor every LightEvery into the status.
func (r *Room) lightLoop(ctx context.Context) {
	defer r.hb.Stop("light")
	beat := time.NewTicker(r.o.Beat)
	defer beat.Stop()
	poll := time.NewTicker(r.o.LightEvery)
	defer poll.Stop()
	read := func() {
		rd, err := r.o.Board.Light.Read()
		r.hb.Beat("light")
		if err != nil {
			r.setSoftProblem("light sensor", err.Error())
			return
		}
		r.setSoftProblem("light sensor", "")
		r.hub.Update(func(s *control.Status) {
			s.Sensors.Lux = float64(int(rd.Lux*10+0.5)) / 10
			if rd.Presence != nil {
				s.Sensors.Occupied = *rd.Presence
			}
		})
		if rd.Presence != nil && *rd.Presence {
			r.post(func() { r.occupied("light_sensor") })
		}
	}
	read()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			r.hb.Beat("light")
		case <-poll.C:
			read()
		}
	}
}

// serialLoop serves the line protocol on the "control" serial port, reopening it after a
// failure.
func (r *Room) serialLoop(ctx context.Context) {
	defer r.hb.Stop("serial_control")
	bo := NewBackoff()
	for ctx.Err() == nil {
		r.hb.Beat("serial_control")
		port, err := r.o.Board.Serial.OpenSerial("control")
		if err == nil {
			stop := context.AfterFunc(ctx, func() { port.Close() })
			err = control.ServeLine(ctx, port, control.LineOptions{Hub: r.hub, Dispatcher: r.disp,
				Login: r.o.ControlLogin, Log: r.log, Heartbeat: func() { r.hb.Beat("serial_control") },
				HeartbeatEvery: r.o.Beat})
			stop()
			port.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.log.Warn("serial control port", "err", err)
		} else {
			bo.Reset()
		}
		// Keep beating while waiting to reopen: a missing adapter is not a hung loop.
		wait := bo.Next()
		for wait > 0 && ctx.Err() == nil {
			d := min(wait, r.o.Beat)
			sleepCtx(ctx, d)
			wait -= d
			r.hb.Beat("serial_control")
		}
	}
}

// openPTZ picks the camera head: VISCA on the "visca" serial port, else the camera's V4L2
// controls, else none.
func (r *Room) openPTZ(ctx context.Context) error {
	// Under ptzMu: the local API may already take commands while Run opens the devices.
	r.ptzMu.Lock()
	defer r.ptzMu.Unlock()
	b := r.o.Board
	kind := "none"
	if _, ok := b.Def.Serial["visca"]; ok && b.Serial != nil {
		port, err := b.Serial.OpenSerial("visca")
		if err != nil {
			return fmt.Errorf("open visca camera: %w", err)
		}
		cam := visca.New(port, visca.Options{Log: r.log})
		context.AfterFunc(ctx, func() { cam.Close(); port.Close() })
		r.ptz, kind = cam, "visca"
	} else if b.Camera != nil && b.Camera.Controls() != nil {
		p := newControlsPTZ(b.Camera.Controls(), r.o.Agent.Config.DataDir)
		for _, n := range p.Presets() {
			r.presets[n] = true
		}
		r.ptz, kind = p, "v4l2"
	}
	r.hub.Update(func(s *control.Status) { s.Camera.Control = kind; s.Camera.Presets = r.presetList() })
	return nil
}

func (r *Room) presetList() []int {
	var out []int
	for n := range r.presets {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// pairingChanged mirrors the agent's status into the tree.
func (r *Room) pairingChanged(s Status) {
	r.hub.Update(func(t *control.Status) {
		t.Pairing = control.PairingStatus{State: s.State, Code: s.Code, Portal: s.PortalURL, Online: s.Online,
			RoomID: s.RoomID, Name: s.Name}
		if s.System != nil { // the image's A/B slot, from the agent's latest poll
			t.Versions.Slot, t.Versions.OnTrial = s.System.Slot, s.System.OnTrial
		}
	})
}

// roomScreen is the agent's display: idle and pairing screens are remembered and shown only
// while no call is on and the room is awake.
type roomScreen struct{ r *Room }

func (s roomScreen) Show(sc board.Screen) error {
	s.r.mu.Lock()
	s.r.idle = sc
	s.r.mu.Unlock()
	return s.r.showIdle()
}

func (r *Room) showIdle() error {
	r.mu.Lock()
	sc, busy := r.idle, r.call != nil || r.joining
	r.mu.Unlock()
	if busy || r.hub.Status().Standby {
		return nil
	}
	return r.o.Screen.Show(sc)
}

// redrawIdle redraws the idle screen so its clock moves on (renderers that have a clock).
func (r *Room) redrawIdle() {
	rf, ok := r.o.Screen.(interface{ Refresh() error })
	r.mu.Lock()
	busy := r.call != nil || r.joining
	r.mu.Unlock()
	if !ok || busy || r.hub.Status().Standby {
		return
	}
	if err := rf.Refresh(); err != nil {
		r.log.Warn("display: refresh", "err", err)
	}
}

// blank draws black on the display (standby).
func (r *Room) blank() {
	d := r.o.Board.Display
	if d == nil {
		return
	}
	w, h := d.Size()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	if err := d.Draw(img); err != nil {
		r.log.Warn("display: blank", "err", err)
	}
}

// localAddresses lists the non-loopback interface addresses.
func localAddresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			out = append(out, n.IP.String())
		}
	}
	slices.Sort(out)
	return out
}
