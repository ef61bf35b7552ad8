// Package store is the portal's persistent state behind one interface, so that the embedded
// SQLite backend (sqlite.go) can later be joined by a PostgreSQL one without touching callers.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a unique value (user name, component FQDN) is already taken.
var ErrConflict = errors.New("already exists")

// Role is an account's privilege level.
type Role string

const (
	RoleSuperAdmin Role = "superadmin"
	RoleAdmin      Role = "admin"
	RoleUser       Role = "user"
)

// User is a portal account. PasswordHash is an argon2id PHC string.
type User struct {
	ID           int64
	Name         string
	Role         Role
	PasswordHash string
	FailedLogins int
	LockedUntil  time.Time // zero when not locked
	CreatedAt    time.Time
}

// Session is a signed-in browser session. ID is the SHA-256 (hex) of the cookie value, so a
// leaked database does not hand out live sessions.
type Session struct {
	ID        string
	UserID    int64
	CSRFToken string
	CreatedAt time.Time
	LastSeen  time.Time
}

// AuditEntry records who did what, when and from where.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string // user name, component ID, or "system"
	Action string // e.g. "login.ok", "login.fail", "cert.activate"
	Detail string
	Remote string // client address
}

// StoredCert is a certificate chain with its key, as PEM. Slot is "active", "previous" or a
// component-specific name such as "component:<id>".
type StoredCert struct {
	Slot        string
	CertPEM     []byte // leaf first, then intermediates
	KeyPEM      []byte // PKCS#8
	Source      string // "self-signed", "uploaded", "acme", "internal-ca"
	ActivatedAt time.Time
}

// PendingKey is a private key generated on the Security page, waiting for its signed
// certificate, together with the CSR made from it (empty until a CSR is generated).
type PendingKey struct {
	KeyPEM    []byte
	Algorithm string
	CSRPEM    []byte
	CreatedAt time.Time
}

// JoinToken lets one component join. Only the SHA-256 (hex) of the token is stored.
type JoinToken struct {
	Hash      string
	Kind      string // "manager", "router", "proxy"
	FQDN      string
	CreatedBy string
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Component is a manager, router or proxy that joined the portal.
type Component struct {
	ID            string
	Kind          string
	FQDN          string
	Address       string
	Version       string
	CertPEM       []byte // the certificate the internal CA (or a super admin) gave it
	CertNotAfter  time.Time
	LastHeartbeat time.Time
	JoinedAt      time.Time
}

// Room is a paired room appliance. CertSerial is its current client certificate from the
// device CA; PrevSerial the one a renewal replaced, accepted until the new one is presented.
type Room struct {
	ID                 string
	Name               string
	CertSerial         string
	PrevSerial         string
	CertNotAfter       time.Time
	Model              string
	HWSerial           string
	Hostname           string
	Firmware           string
	BundleVersion      uint64 // the trust bundle version the room acknowledged
	LastSeen           time.Time
	PortalHTTPSTrusted bool
	PortalHTTPSError   string
	CreatedAt          time.Time
}

// RoomStatus is what a room reports at a management poll.
type RoomStatus struct {
	At                 time.Time
	Firmware           string
	BundleVersion      uint64
	PortalHTTPSTrusted bool
	PortalHTTPSError   string
	PresentedSerial    string // the serial of the certificate the room connected with
}

// Meeting is a meeting people and rooms join. ID is ten digits; PINHash is an argon2id PHC
// string, "" when the meeting has no PIN. OwnerName is filled when reading.
type Meeting struct {
	ID        string
	Name      string
	PINHash   string
	OwnerID   int64
	OwnerName string
	CreatedAt time.Time
}

// Store is everything the portal keeps. Implementations must be safe for concurrent use.
type Store interface {
	CreateUser(ctx context.Context, u User) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	UserByID(ctx context.Context, id int64) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// SetLoginState records failed-login count and lockout for a user.
	SetLoginState(ctx context.Context, id int64, failed int, lockedUntil time.Time) error
	SetPassword(ctx context.Context, id int64, hash string) error

	CreateSession(ctx context.Context, s Session) error
	SessionByID(ctx context.Context, id string) (Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID int64) error

	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, limit int) ([]AuditEntry, error)

	// CertSlot returns the certificate in a slot, or ErrNotFound.
	CertSlot(ctx context.Context, slot string) (StoredCert, error)
	// ActivateCert makes c the "active" portal certificate and moves the current active one to
	// "previous", in one transaction.
	ActivateCert(ctx context.Context, c StoredCert) error
	// RollbackCert swaps "active" and "previous" in one transaction; ErrNotFound without previous.
	RollbackCert(ctx context.Context) error
	PutCertSlot(ctx context.Context, c StoredCert) error
	// DeleteCertSlot empties a slot (e.g. "staged" once activated); an empty slot is no error.
	DeleteCertSlot(ctx context.Context, slot string) error

	PendingKey(ctx context.Context) (PendingKey, error)
	PutPendingKey(ctx context.Context, k PendingKey) error
	DeletePendingKey(ctx context.Context) error

	// Setting/PutSetting keep small JSON documents (e.g. ACME configuration) by key.
	Setting(ctx context.Context, key string) ([]byte, error)
	PutSetting(ctx context.Context, key string, value []byte) error

	CreateJoinToken(ctx context.Context, t JoinToken) error
	// ConsumeJoinToken marks an unused, unexpired token used and returns it, atomically.
	ConsumeJoinToken(ctx context.Context, hash string, now time.Time) (JoinToken, error)
	UpsertComponent(ctx context.Context, c Component) error
	ComponentByID(ctx context.Context, id string) (Component, error)
	ListComponents(ctx context.Context) ([]Component, error)
	Heartbeat(ctx context.Context, id, address, version string, at time.Time) error

	// Rooms (pairing, management channel). Serials are lowercase hex.
	CreateRoom(ctx context.Context, r Room) error
	RoomByID(ctx context.Context, id string) (Room, error)
	ListRooms(ctx context.Context) ([]Room, error)
	RenameRoom(ctx context.Context, id, name string) error
	RecordRoomStatus(ctx context.Context, id string, st RoomStatus) error
	SetRoomCert(ctx context.Context, id, presented, serial string, notAfter time.Time) error
	// DeleteRoom revokes the room's certificate serials and deletes it in one transaction.
	DeleteRoom(ctx context.Context, id string, at time.Time) error
	SerialRevoked(ctx context.Context, serial string) (bool, error)

	// Meetings. CreateMeeting returns ErrConflict when the ID is taken.
	CreateMeeting(ctx context.Context, m Meeting) error
	MeetingByID(ctx context.Context, id string) (Meeting, error)
	// ListMeetings returns the meetings of ownerID, or every meeting when ownerID is 0.
	ListMeetings(ctx context.Context, ownerID int64) ([]Meeting, error)
	// UpdateMeeting sets name and PIN hash; ErrNotFound for an unknown meeting.
	UpdateMeeting(ctx context.Context, id, name, pinHash string) error
	// DeleteMeeting deletes the meeting and clears it as any room's default.
	DeleteMeeting(ctx context.Context, id string) error
	// SetRoomMeeting sets (or, with "", clears) a room's default meeting.
	SetRoomMeeting(ctx context.Context, roomID, meetingID string) error
	// RoomMeeting returns a room's default meeting ID, "" when none.
	RoomMeeting(ctx context.Context, roomID string) (string, error)

	SecuredStore
	UpdateStore

	Close() error
}
