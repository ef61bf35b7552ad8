package manager

import (
	"net/http"
	"slices"

	"github.com/stoa-rooms/stoa/services/api"
)

// handleLicence is GET /api/v1/manager/licence (portal only): the licence in force now, so the
// portal can tell whether an option such as Secured is licensed. An expired licence answers
// the default, as admission does.
func (s *Service) handleLicence(w http.ResponseWriter, _ *http.Request) {
	l := s.Licence()
	writeJSON(w, http.StatusOK, api.ManagerLicence{
		Licensee: l.Licensee, Seats: l.Seats, Options: slices.Clone(l.Options), NotAfter: l.NotAfter,
	})
}
