package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Meetings, the manager's API and the router's signaling (issue 4).

// Meeting is one row of GET /api/v1/meetings and the answer to POST /api/v1/meetings. ID is
// ten digits; people see it grouped as "123 456 7890".
type Meeting struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	HasPIN    bool      `json:"has_pin"`
	Owner     string    `json:"owner"`
	CreatedAt time.Time `json:"created_at"`
}

// NewMeeting is POST /api/v1/meetings and PUT /api/v1/meetings/{id}. PIN "" means no PIN
// (on PUT: the PIN is removed).
type NewMeeting struct {
	Name string `json:"name"`
	PIN  string `json:"pin"`
}

// RoomMeeting is PUT /api/v1/rooms/{id}/meeting (admin): the room's default meeting; "" clears it.
type RoomMeeting struct {
	MeetingID string `json:"meeting_id"`
}

// MeetingJoinRequest is POST /api/v1/meetings/{id}/join. Name is the display name shown to
// the others (defaults to the account name).
type MeetingJoinRequest struct {
	PIN  string `json:"pin"`
	Name string `json:"name"`
	// E2EEKey is the participant's X25519 public key (services/api/e2ee.EncodePublicKey) for
	// end-to-end media encryption; the portal binds it into the signed join token.
	E2EEKey string `json:"e2ee_key,omitempty"`
}

// MeetingJoinResponse hands the participant what it needs to connect: a short-lived join
// token, the portal's wss:// signaling URL (the portal proxies it to the router), and ICE
// servers (TURN with short-lived credentials).
type MeetingJoinResponse struct {
	Token         string      `json:"token"`
	SignalURL     string      `json:"signal_url"`
	ParticipantID string      `json:"participant_id"`
	RouterID      string      `json:"router_id"`
	ICEServers    []ICEServer `json:"ice_servers"`
	// Secured is true while the Secured option is on: the client must use SFrame (e2ee) and
	// AES-128-GCM SRTP, or not join at all.
	Secured bool `json:"secured,omitempty"`
	// TokenKey is the portal's Ed25519 token key, so e2ee participants verify the others'
	// key claims themselves instead of trusting the router.
	TokenKey []byte `json:"token_key,omitempty"`
}

// ICEServer mirrors the browser's RTCIceServer dictionary.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// RoomJoinRequest is POST /api/v1/room/join on the portal's internal mTLS listener: a paired
// room asks to join a meeting; the answer is a MeetingJoinResponse. MeetingID "" means the
// room's default meeting (which needs no PIN); another meeting with a PIN needs PIN.
type RoomJoinRequest struct {
	MeetingID string `json:"meeting_id"`
	PIN       string `json:"pin,omitempty"`
	// E2EEKey is as in MeetingJoinRequest.
	E2EEKey string `json:"e2ee_key,omitempty"`
}

// --- Manager API (mTLS between components) ---

// RouterHeartbeat is POST /api/v1/manager/routers/heartbeat, every second from each router.
type RouterHeartbeat struct {
	RouterID     string        `json:"router_id"`
	URL          string        `json:"url"` // https://host:port of the router
	Participants int           `json:"participants"`
	Meetings     []MeetingLoad `json:"meetings"`
}

// MeetingLoad is one meeting hosted on a router and the participants connected to it.
type MeetingLoad struct {
	ID           string   `json:"id"`
	Participants []string `json:"participants"`
}

// RouterHeartbeatResponse answers a router heartbeat.
type RouterHeartbeatResponse struct{}

// ProxyHeartbeat is POST /api/v1/manager/proxies/heartbeat from each TURN proxy.
type ProxyHeartbeat struct {
	ProxyID string   `json:"proxy_id"`
	URLs    []string `json:"urls"` // turn:127.0.0.1:3478?transport=udp, turns:host:5349?transport=tcp, ...
}

// ProxyHeartbeatResponse gives the proxy the TURN REST shared secret and the addresses of the
// registered routers (host:port), which the relay may reach even when they are loopback/private.
type ProxyHeartbeatResponse struct {
	Secret      []byte   `json:"secret"`
	RouterAddrs []string `json:"router_addrs,omitempty"`
}

// AdmitRequest is POST /api/v1/manager/admit: the portal asks for a seat and a router.
// Kind is "user", "room" or "guest".
type AdmitRequest struct {
	Meeting     string `json:"meeting"`
	Participant string `json:"participant"`
	Name        string `json:"name,omitempty"`
	Kind        string `json:"kind"`
}

// AdmitResponse places the participant: 403 Error{"licence.full"} when every seat is taken,
// 503 Error{"router.unavailable"} when no router is alive.
type AdmitResponse struct {
	RouterID   string      `json:"router_id"`
	RouterURL  string      `json:"router_url"`
	ICEServers []ICEServer `json:"ice_servers"`
}

// LeaveRequest is POST /api/v1/manager/leave: frees the participant's seat.
type LeaveRequest struct {
	Meeting     string `json:"meeting"`
	Participant string `json:"participant"`
}

// Presence is one row of GET /api/v1/manager/presence.
type Presence struct {
	Participant string    `json:"participant"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Meeting     string    `json:"meeting"`
	RouterID    string    `json:"router_id"`
	Since       time.Time `json:"since"`
}

// --- Signaling (WebSocket /rtc on the router; JSON text messages) ---

// Signaling message types.
const (
	SigTypeJoin              = "join"               // client→router, SigJoin; must be first
	SigTypeOffer             = "offer"              // both ways, SigSDP
	SigTypeAnswer            = "answer"             // both ways, SigSDP
	SigTypeCandidate         = "candidate"          // both ways, SigCandidate
	SigTypeMute              = "mute"               // client→router, SigMute
	SigTypeLeave             = "leave"              // client→router, SigEmpty
	SigTypeJoined            = "joined"             // router→client, SigJoined
	SigTypeParticipantJoined = "participant_joined" // router→client, SigParticipant
	SigTypeParticipantLeft   = "participant_left"   // router→client, SigParticipantLeft
	SigTypeTrack             = "track"              // router→client, SigTrackEvent
	SigTypeActiveSpeaker     = "active_speaker"     // router→client, SigActiveSpeaker
	SigTypeReconnect         = "reconnect"          // router→client, SigReconnect
	SigTypeError             = "error"              // router→client, Error
	SigTypeE2EEKey           = "e2ee_key"           // both ways, SigE2EEKey (e2ee_sig.go)
)

// MaxSigMessage bounds one signaling message (bytes).
const MaxSigMessage = 64 << 10

// SigMessage is the envelope of every signaling message.
type SigMessage struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// SigJoin is the first client message: the join token from the portal.
type SigJoin struct {
	Token string `json:"token"`
	// E2EE declares end-to-end media encryption (SFrame): the token must carry an e2ee key,
	// which the router relays (SigParticipant.Token) to the others.
	E2EE bool `json:"e2ee,omitempty"`
}

// SigSDP carries an offer or answer. Type is "offer" or "answer".
type SigSDP struct {
	SDP  string `json:"sdp"`
	Type string `json:"type"`
}

// SigCandidate is a trickled ICE candidate; Candidate "" marks the end of candidates.
type SigCandidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// SigMute mutes or unmutes one of the sender's published tracks.
type SigMute struct {
	TrackID string `json:"track_id"`
	Muted   bool   `json:"muted"`
}

// SigEmpty is the payload of "leave" (data may be absent or {}).
type SigEmpty struct{}

// SigTrack describes one published track. Forwarded tracks carry StreamID = publisher
// participant ID and track ID = ID, so clients map media to people.
type SigTrack struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"` // "audio" or "video"
	Muted     bool   `json:"muted"`
	Simulcast bool   `json:"simulcast"`
}

// SigParticipant is one participant of the meeting.
type SigParticipant struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	Kind   string     `json:"kind"`
	Tracks []SigTrack `json:"tracks"`
	// Token is the participant's portal-signed join token, relayed when it joined with E2EE
	// so the others can verify the key it carries (services/api/e2ee.VerifyKeyClaim).
	Token string `json:"token,omitempty"`
}

// SigJoined answers a successful join: the caller's ID and who else is there.
type SigJoined struct {
	ParticipantID string           `json:"participant_id"`
	Participants  []SigParticipant `json:"participants"`
}

// SigParticipantLeft says a participant left.
type SigParticipantLeft struct {
	ID string `json:"id"`
}

// SigTrackEvent reports a track published, unpublished (Track.ID set, Removed) or (un)muted.
type SigTrackEvent struct {
	Participant string   `json:"participant"`
	Track       SigTrack `json:"track"`
	Removed     bool     `json:"removed,omitempty"`
}

// SigActiveSpeaker names the loudest participant (RFC 6464 audio levels).
type SigActiveSpeaker struct {
	ParticipantID string `json:"participant_id"`
}

// SigReconnect asks the client to rejoin through the portal (router draining, meeting moved).
type SigReconnect struct {
	Reason string `json:"reason"`
}

// NewSig builds an encoded signaling message of type typ with payload data.
func NewSig(typ string, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	b, err := json.Marshal(SigMessage{Type: typ, Data: raw})
	if err != nil {
		return nil, fmt.Errorf("encode %s message: %w", typ, err)
	}
	return b, nil
}

// DecodeSig strictly decodes a signaling envelope: at most MaxSigMessage bytes, one JSON
// object, no unknown fields, a non-empty type. The payload is decoded by the per-type decoders.
func DecodeSig(b []byte) (SigMessage, error) {
	var m SigMessage
	if len(b) > MaxSigMessage {
		return m, fmt.Errorf("decode signaling message: %d bytes exceeds %d", len(b), MaxSigMessage)
	}
	if err := decodeStrict(b, &m); err != nil {
		return SigMessage{}, fmt.Errorf("decode signaling message: %w", err)
	}
	if m.Type == "" {
		return SigMessage{}, errors.New("decode signaling message: missing type")
	}
	return m, nil
}

// DecodeSigData strictly decodes a payload into v (a pointer). Absent or null data decodes
// to the zero value.
func DecodeSigData(m SigMessage, v any) error {
	data := bytes.TrimSpace(m.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil
	}
	if err := decodeStrict(data, v); err != nil {
		return fmt.Errorf("decode %q payload: %w", m.Type, err)
	}
	return nil
}

// DecodeSigJoin decodes a "join" payload; the token must be present.
func DecodeSigJoin(m SigMessage) (SigJoin, error) {
	var v SigJoin
	if err := DecodeSigData(m, &v); err != nil {
		return SigJoin{}, err
	}
	if v.Token == "" {
		return SigJoin{}, errors.New(`decode "join" payload: missing token`)
	}
	return v, nil
}

// DecodeSigSDP decodes an "offer" or "answer" payload; Type must match the message type.
func DecodeSigSDP(m SigMessage) (SigSDP, error) {
	var v SigSDP
	if err := DecodeSigData(m, &v); err != nil {
		return SigSDP{}, err
	}
	if v.Type != SigTypeOffer && v.Type != SigTypeAnswer {
		return SigSDP{}, fmt.Errorf("decode %q payload: sdp type %q is neither offer nor answer", m.Type, v.Type)
	}
	if v.Type != m.Type {
		return SigSDP{}, fmt.Errorf("decode %q payload: sdp type %q does not match", m.Type, v.Type)
	}
	if v.SDP == "" {
		return SigSDP{}, fmt.Errorf("decode %q payload: empty sdp", m.Type)
	}
	return v, nil
}

// DecodeSigCandidate decodes a "candidate" payload.
func DecodeSigCandidate(m SigMessage) (SigCandidate, error) {
	var v SigCandidate
	if err := DecodeSigData(m, &v); err != nil {
		return SigCandidate{}, err
	}
	return v, nil
}

// DecodeSigMute decodes a "mute" payload; the track ID must be present.
func DecodeSigMute(m SigMessage) (SigMute, error) {
	var v SigMute
	if err := DecodeSigData(m, &v); err != nil {
		return SigMute{}, err
	}
	if v.TrackID == "" {
		return SigMute{}, errors.New(`decode "mute" payload: missing track_id`)
	}
	return v, nil
}

// DecodeSigJoined decodes a "joined" payload.
func DecodeSigJoined(m SigMessage) (SigJoined, error) {
	var v SigJoined
	if err := DecodeSigData(m, &v); err != nil {
		return SigJoined{}, err
	}
	if v.ParticipantID == "" {
		return SigJoined{}, errors.New(`decode "joined" payload: missing participant_id`)
	}
	return v, nil
}

// DecodeSigParticipant decodes a "participant_joined" payload.
func DecodeSigParticipant(m SigMessage) (SigParticipant, error) {
	var v SigParticipant
	if err := DecodeSigData(m, &v); err != nil {
		return SigParticipant{}, err
	}
	if v.ID == "" {
		return SigParticipant{}, fmt.Errorf("decode %q payload: missing id", m.Type)
	}
	return v, nil
}

// DecodeSigParticipantLeft decodes a "participant_left" payload.
func DecodeSigParticipantLeft(m SigMessage) (SigParticipantLeft, error) {
	var v SigParticipantLeft
	if err := DecodeSigData(m, &v); err != nil {
		return SigParticipantLeft{}, err
	}
	if v.ID == "" {
		return SigParticipantLeft{}, fmt.Errorf("decode %q payload: missing id", m.Type)
	}
	return v, nil
}

// DecodeSigTrackEvent decodes a "track" payload.
func DecodeSigTrackEvent(m SigMessage) (SigTrackEvent, error) {
	var v SigTrackEvent
	if err := DecodeSigData(m, &v); err != nil {
		return SigTrackEvent{}, err
	}
	if v.Participant == "" || v.Track.ID == "" {
		return SigTrackEvent{}, fmt.Errorf("decode %q payload: missing participant or track id", m.Type)
	}
	if v.Track.Kind != "audio" && v.Track.Kind != "video" {
		return SigTrackEvent{}, fmt.Errorf("decode %q payload: track kind %q is neither audio nor video", m.Type, v.Track.Kind)
	}
	return v, nil
}

// DecodeSigActiveSpeaker decodes an "active_speaker" payload.
func DecodeSigActiveSpeaker(m SigMessage) (SigActiveSpeaker, error) {
	var v SigActiveSpeaker
	err := DecodeSigData(m, &v)
	return v, err
}

// DecodeSigReconnect decodes a "reconnect" payload.
func DecodeSigReconnect(m SigMessage) (SigReconnect, error) {
	var v SigReconnect
	err := DecodeSigData(m, &v)
	return v, err
}

// DecodeSigError decodes an "error" payload.
func DecodeSigError(m SigMessage) (Error, error) {
	var v Error
	err := DecodeSigData(m, &v)
	return v, err
}

// DecodeStrict decodes exactly one JSON value into v (a pointer), refusing unknown fields and
// trailing data. Components use it for the manager's and router's request bodies too.
func DecodeStrict(b []byte, v any) error { return decodeStrict(b, v) }

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}
