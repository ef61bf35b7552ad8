//go:build cgo

package roomd

import "github.com/stoa-rooms/stoa/services/api"

// capabilities is what the room's firmware declares in every status (RoomStatus.Capabilities):
// its calls take part in end-to-end encryption (firmware/call e2ee.go), which the portal's
// Secured option requires of every room before it can be turned on.
func capabilities() []string { return []string{api.CapabilityE2EE} }
