package roomd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/stoa-rooms/stoa/firmware/control"
	"github.com/stoa-rooms/stoa/firmware/panel"
	"github.com/stoa-rooms/stoa/services/api"
)

// DefaultPanelAddr is where roomd serves the touch panel (HTTPS) on the LAN.
const DefaultPanelAddr = ":8443"

// panelsFile holds the paired panels' token hashes in the data directory (0600).
const panelsFile = "panels.json"

// PanelOptions configure the room's touch-panel server.
type PanelOptions struct {
	Addr     string       // listen address; default DefaultPanelAddr
	Listener net.Listener // instead of Addr (tests)
	DataDir  string       // required: certificate, key and panels.json live here
	// Hosts are extra names/IPs for the self-signed certificate (made once, at first start).
	Hosts []string
	// IsLocal marks requests from the device itself (no PIN); default: from 127.0.0.1 or ::1.
	IsLocal func(*http.Request) bool
	Log     *slog.Logger
}

// Panel is the room's touch-panel server: the web app, panel pairing (the PIN on the room's
// display through a PanelScreen) and the device API WebSocket, reported to the portal in the
// management poll and revocable from it.
type Panel struct {
	room   *Room
	store  *panel.Store
	srv    *panel.Server
	ln     net.Listener
	cert   tls.Certificate
	log    *slog.Logger
	screen *PanelScreen
}

// NewPanel opens the panel store and certificate, listens, and registers the panels with the
// room's agent for the management poll. scr is the PanelScreen the room was built with.
func NewPanel(room *Room, scr *PanelScreen, o PanelOptions) (*Panel, error) {
	if room == nil || scr == nil || o.DataDir == "" {
		return nil, errors.New("new panel: room, panel screen and data dir are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Addr == "" {
		o.Addr = DefaultPanelAddr
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("new panel: %w", err)
	}
	scr.setBusy(func() bool {
		st := room.Hub().Status()
		return st.Standby || st.Call.State == control.CallJoining || st.Call.State == control.CallInCall
	})
	store, err := panel.OpenStore(panel.StoreOptions{Path: filepath.Join(o.DataDir, panelsFile), Now: room.now, OnPIN: scr.setPIN})
	if err != nil {
		return nil, fmt.Errorf("new panel: %w", err)
	}
	srv, err := panel.NewServer(panel.ServerOptions{Hub: room.Hub(), Dispatcher: room.Dispatcher(), Store: store,
		IsLocal: o.IsLocal, Log: o.Log})
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	hosts := append([]string{host, host + ".local"}, o.Hosts...)
	cert, err := panel.LoadOrCreateCert(o.DataDir, hosts, room.now())
	if err != nil {
		return nil, fmt.Errorf("new panel: %w", err)
	}
	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", o.Addr); err != nil {
			return nil, fmt.Errorf("new panel: listen: %w", err)
		}
	}
	p := &Panel{room: room, store: store, srv: srv, ln: ln, cert: cert, log: o.Log, screen: scr}
	room.Agent().SetPanels(p)
	return p, nil
}

// Serve serves the panel until ctx ends.
func (p *Panel) Serve(ctx context.Context) error {
	p.log.Info("touch panel listening", "addr", p.ln.Addr().String())
	return panel.Serve(ctx, p.ln, p.srv, p.cert, p.log)
}

// Addr is the address the panel listens on.
func (p *Panel) Addr() net.Addr { return p.ln.Addr() }

// Certificate is the panel server's (self-signed) certificate.
func (p *Panel) Certificate() tls.Certificate { return p.cert }

// Store is the panel store (PIN, lockout, paired panels).
func (p *Panel) Store() *panel.Store { return p.store }

// Report lists the paired panels for the management poll.
func (p *Panel) Report() []api.RoomPanel {
	ps := p.store.Panels()
	out := make([]api.RoomPanel, 0, len(ps))
	for _, x := range ps {
		if len(out) == api.MaxRoomPanels {
			break
		}
		out = append(out, api.RoomPanel{ID: x.ID, Name: x.Name, PairedAt: x.PairedAt, LastSeen: x.LastSeen})
	}
	return out
}

// RevokePanels carries out the portal's revocations: the tokens are refused and open
// WebSockets closed.
func (p *Panel) RevokePanels(ids []string) {
	for _, id := range ids {
		if err := p.srv.Revoke(id); err != nil {
			p.log.Warn("revoke panel", "panel", id, "err", err)
		}
	}
}
