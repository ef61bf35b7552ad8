package api

import "time"

// Rooms: the admin's Admin → Rooms API (admin role, CSRF on state changes) and the room's
// management channel on the portal's internal mutual-TLS listener.

// Room is one paired room as GET /api/v1/rooms lists it. Online means a management poll is in
// flight or one ended within the last 35 seconds.
type Room struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Online             bool      `json:"online"`
	LastSeen           time.Time `json:"last_seen"`
	Firmware           string    `json:"firmware"`
	BundleVersion      uint64    `json:"bundle_version"`
	CertNotAfter       time.Time `json:"cert_not_after"`
	PortalHTTPSTrusted bool      `json:"portal_https_trusted"`
	PortalHTTPSError   string    `json:"portal_https_error,omitempty"`
	Model              string    `json:"model,omitempty"`
	Serial             string    `json:"serial,omitempty"`
	Hostname           string    `json:"hostname,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	// Panels are the touch panels paired with the room, as its latest poll reported them.
	Panels []RoomPanel `json:"panels,omitempty"`
	// System is the room's image board, slot and version from its latest poll.
	System *RoomSystem `json:"system,omitempty"`
	// Update is the latest update started for the room: offered, the room's progress, or the
	// outcome.
	Update *RoomUpdate `json:"update,omitempty"`
}

// RoomPanel is a touch panel paired with a room (issue 7): the room reports its panels in
// every poll; an admin can revoke one (POST /api/v1/rooms/{id}/panels/{panel}/revoke).
type RoomPanel struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	PairedAt time.Time `json:"paired_at"`
	LastSeen time.Time `json:"last_seen"`
}

// MaxRoomPanels bounds the panels a room reports.
const MaxRoomPanels = 32

// PairRequest is POST /api/v1/rooms/pair: the code the room shows ("1234 5678 9012"; spaces
// and dashes allowed) and the name the room gets.
type PairRequest struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// RenameRoom is PUT /api/v1/rooms/{id}.
type RenameRoom struct {
	Name string `json:"name"`
}

// PushRequest is POST /api/v1/rooms/push: RoomID "" re-pushes to every room.
type PushRequest struct {
	RoomID string `json:"room_id"`
}

// PushResult answers a push (and prune-roots): the bundle version pushed and, per room,
// whether it has acknowledged that version yet. Progress: GET /api/v1/rooms.
type PushResult struct {
	Version uint64       `json:"version"`
	Rooms   []PushedRoom `json:"rooms"`
}

// PushedRoom is one room's progress in a PushResult.
type PushedRoom struct {
	ID    string `json:"id"`
	Acked bool   `json:"acked"`
}

// ActivateRequest is the optional body of POST /api/v1/security/activate. WaitSeconds bounds
// how long the portal waits for every room to acknowledge a bundle trusting the new
// certificate (default 60); Force activates even when some have not.
type ActivateRequest struct {
	WaitSeconds int  `json:"wait_seconds"`
	Force       bool `json:"force"`
}

// RoomStatus is what a room reports with every POST /api/v1/room/poll. BundleVersion
// acknowledges the bundle it holds.
type RoomStatus struct {
	Firmware           string    `json:"firmware"`
	BundleVersion      uint64    `json:"bundle_version"`
	CertNotAfter       time.Time `json:"cert_not_after"`
	UptimeSeconds      int64     `json:"uptime_seconds"`
	InCall             bool      `json:"in_call"`
	PortalHTTPSTrusted bool      `json:"portal_https_trusted"`
	PortalHTTPSError   string    `json:"portal_https_error,omitempty"`
	// Panels are the touch panels paired with the room (at most MaxRoomPanels).
	Panels []RoomPanel `json:"panels,omitempty"`
	// Capabilities the firmware declares (see CapabilityE2EE); the Secured option needs them.
	Capabilities []string `json:"capabilities,omitempty"`
	// System is the appliance image's board, slot and version (absent off the image).
	System *RoomSystem `json:"system,omitempty"`
	// Update is the progress of the latest update the room was offered (updates.go).
	Update *RoomUpdate `json:"update,omitempty"`
}

// RoomCommand answers a poll: Bundle, when set, is a signed bundle envelope to verify and store.
// RevokePanels names panels whose tokens the room must refuse from now on (repeated until the
// room no longer reports them).
type RoomCommand struct {
	Bundle       []byte   `json:"bundle,omitempty"`
	RevokePanels []string `json:"revoke_panels,omitempty"`
	// Update, when set, offers an update bundle (repeated until the room reports it done or
	// failed, or the admin cancels it).
	Update *UpdateOffer `json:"update,omitempty"`
}

// RenewRequest is POST /api/v1/room/renew: a CSR for the room's (new or same) key.
type RenewRequest struct {
	CSRPEM string `json:"csr_pem"`
}

// RenewResponse carries the room's new client certificate.
type RenewResponse struct {
	CertPEM string `json:"cert_pem"`
}
