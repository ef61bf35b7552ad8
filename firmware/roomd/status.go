package roomd

import (
	"time"

	"github.com/stoa-rooms/stoa/firmware/control"
	"github.com/stoa-rooms/stoa/services/api"
)

// States of the room.
const (
	StateUnpaired = "unpaired"
	StatePairing  = "pairing" // a portal exchange is under way
	StatePaired   = "paired"
)

// Status is GET /v1/status on the local API.
type Status struct {
	State         string    `json:"state"`
	Code          string    `json:"code,omitempty"` // only while unpaired, "1234 5678 9012"
	PortalURL     string    `json:"portal_url,omitempty"`
	RoomID        string    `json:"room_id,omitempty"`
	Name          string    `json:"name,omitempty"`
	BundleVersion uint64    `json:"bundle_version,omitempty"`
	CertNotAfter  time.Time `json:"cert_not_after,omitzero"`
	Online        bool      `json:"online"`
	LastError     string    `json:"last_error,omitempty"`
	// System is the appliance image's board, slot and version (absent off the image) and
	// Update the latest portal-offered update's progress, as reported in the last poll.
	System *api.RoomSystem `json:"system,omitempty"`
	Update *api.RoomUpdate `json:"update,omitempty"`
	// Status is the room's status tree (call, audio, video, camera, …) inline beside the pairing
	// fields above; nil from a bare Agent.
	*control.Status `json:",omitempty"`
}

// PairRequest is POST /v1/pair: the portal to pair with, entered by hand.
type PairRequest struct {
	PortalURL string `json:"portal_url"`
}

// LocalError is the body of a failed local API call.
type LocalError struct {
	Error string `json:"error"`
}
