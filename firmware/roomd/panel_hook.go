package roomd

import (
	"sync/atomic"

	"github.com/stoa-rooms/stoa/services/api"
)

// PanelRegistry is what the management poll needs of the touch panels: the list to report and
// a way to carry out revocations the portal sends back.
type PanelRegistry interface {
	Report() []api.RoomPanel
	RevokePanels(ids []string)
}

// panelSlot holds the room's PanelRegistry (set once the panel server runs; read by the poll).
type panelSlot struct{ p atomic.Pointer[PanelRegistry] }

// SetPanels tells the agent which touch panels to report and where revocations go.
func (a *Agent) SetPanels(p PanelRegistry) { a.panels.p.Store(&p) }

func (s *panelSlot) report() []api.RoomPanel {
	if p := s.p.Load(); p != nil {
		return (*p).Report()
	}
	return nil
}

func (s *panelSlot) revoke(ids []string) {
	if p := s.p.Load(); p != nil && len(ids) > 0 {
		(*p).RevokePanels(ids)
	}
}
