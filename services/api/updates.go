package api

import "time"

// Updates (issue 6): the portal offers signed A/B update bundles (rootfs/update format) to
// rooms. Super Admin → Updates uploads and deletes bundles; Admin → Rooms shows each room's
// slot and version and starts an update; the room downloads the bundle over its management
// channel, installs it in its other slot, boots it on trial and reports the outcome.

// UpdateBundle is one bundle the portal holds (GET /api/v1/updates, POST /api/v1/updates
// answers the stored one). The portal checks the bundle's structure and every payload digest
// against its manifest when it is uploaded; the signature is checked against each room's own
// update key (RoomSystem.UpdateKey) when an update is started.
type UpdateBundle struct {
	Board      string    `json:"board"`
	Version    string    `json:"version"`
	Size       int64     `json:"size"`   // bytes of the bundle file
	SHA256     string    `json:"sha256"` // of the bundle file, lower-case hex
	UploadedAt time.Time `json:"uploaded_at"`
	UploadedBy string    `json:"uploaded_by"`
}

// StartUpdateRequest is POST /api/v1/rooms/{id}/update (admin, CSRF): offer the bundle of this
// version (for the room's board) to the room. Version "" cancels an offer not yet taken.
type StartUpdateRequest struct {
	Version string `json:"version"`
}

// RoomSystem is what a room running the appliance image reports about its system in every
// poll (RoomStatus.System). Rooms that are not on the image (roomd --board=sim) report none.
type RoomSystem struct {
	Board   string `json:"board"`   // image board name: qemu-x86_64, pc, rpi4, rpi5
	Slot    string `json:"slot"`    // running root slot: "a" or "b"
	Version string `json:"version"` // image version running
	OnTrial bool   `json:"on_trial,omitempty"`
	// UpdateKey is the Ed25519 public key (hex) bundles must be signed with for this room.
	UpdateKey string `json:"update_key"`
}

// Room update states (RoomUpdate.State).
const (
	UpdateOffered     = "offered"     // portal side: offered, the room has not reported on it yet
	UpdateDownloading = "downloading" // room: fetching and writing the other slot (Bytes of Total)
	UpdateRebooting   = "rebooting"   // room: installed, rebooting into it on trial
	UpdateDone        = "done"        // the room runs Version (marked good once healthy)
	UpdateFailed      = "failed"      // Error says why; the room runs what it ran before
)

// RoomUpdate is the progress of one update: reported by the room (RoomStatus.Update) and shown
// by the portal (Room.Update).
type RoomUpdate struct {
	Version string `json:"version"`
	State   string `json:"state"`
	Bytes   int64  `json:"bytes,omitempty"`
	Total   int64  `json:"total,omitempty"`
	Error   string `json:"error,omitempty"`
}

// UpdateOffer rides a poll answer (RoomCommand.Update) while the portal offers the room an
// update: the room fetches GET <Path> on the management listener (its client certificate
// authenticates it), which serves the bundle file.
type UpdateOffer struct {
	Version string `json:"version"`
	Board   string `json:"board"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"` // of the bundle file
	Path    string `json:"path"`   // /api/v1/room/update/<version>
}
