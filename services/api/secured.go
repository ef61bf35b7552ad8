package api

import "time"

// The Secured option (issue 8): Super Admin → Security → Secured option. While it is on every
// link is TLS/mTLS, media is end-to-end encrypted (services/api/e2ee) over AES-128-GCM SRTP,
// and an endpoint that cannot do all of this is refused.

// LicenceOptionSecured is the licence option that allows turning the Secured option on.
const LicenceOptionSecured = "secured"

// CapabilityE2EE is the capability a room's firmware declares in RoomStatus.Capabilities when
// it does SFrame end-to-end encryption (e2ee package) with AES-128-GCM SRTP: without it the
// room is not ready for the Secured option.
const CapabilityE2EE = "e2ee"

// MaxRoomCapabilities bounds the capabilities a room reports; each is at most
// MaxCapabilityLen bytes.
const (
	MaxRoomCapabilities = 32
	MaxCapabilityLen    = 64
)

// SignalErrorPolicyChanged is the signaling error code that ends a call in progress when the
// Secured option is turned on or off: the client rejoins under the new policy.
const SignalErrorPolicyChanged = "policy_changed"

// ErrSecuredNotLicensed is the message of a refused attempt to turn the option on without a
// licence that includes it.
const ErrSecuredNotLicensed = "the licence does not include the Secured option"

// SecuredState is GET /api/v1/security/secured (super admin) and the answer of a change.
type SecuredState struct {
	Enabled   bool      `json:"enabled"`
	ChangedBy string    `json:"changed_by,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
	// Licensed says whether the manager's licence includes the option; LicenceError says why
	// that could not be learned (no manager online, for example): then Licensed is false.
	Licensed     bool   `json:"licensed"`
	LicenceError string `json:"licence_error,omitempty"`
	// NotReady lists the components and rooms that cannot take part in a secured system yet.
	NotReady []SecuredBlocker `json:"not_ready"`
}

// SecuredBlocker is one component or room that is not ready for the Secured option.
type SecuredBlocker struct {
	Kind   string `json:"kind"` // "component" or "room"
	ID     string `json:"id"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// SecuredChange is PUT /api/v1/security/secured. Turning the option on needs Confirm: without
// it the portal answers 409 secured.confirm with the current SecuredState (what is not ready),
// which the page shows before the super admin confirms.
type SecuredChange struct {
	Enabled bool `json:"enabled"`
	Confirm bool `json:"confirm"`
}

// ManagerLicence is GET /api/v1/manager/licence (portal only): the licence in force now.
type ManagerLicence struct {
	Licensee string    `json:"licensee"`
	Seats    int       `json:"seats"`
	Options  []string  `json:"options"`
	NotAfter time.Time `json:"not_after,omitzero"`
}
