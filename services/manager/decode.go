package manager

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stoa-rooms/stoa/provisioning/ca"
	"github.com/stoa-rooms/stoa/services/api"
)

// Limits of the manager's requests.
const (
	maxBody        = 1 << 20 // a router heartbeat lists every participant it hosts
	maxIDLen       = 128     // meeting and participant IDs
	maxNameLen     = 200     // display names
	maxURLLen      = 512
	maxProxyURLs   = 16
	maxMeetings    = 10_000
	maxMeetingSize = 10_000
)

// checkID refuses an empty, overlong, non-UTF-8 or control-character identifier.
func checkID(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s is empty", what)
	case len(v) > maxIDLen:
		return fmt.Errorf("%s is %d bytes, more than %d", what, len(v), maxIDLen)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%s contains control characters or invalid UTF-8", what)
	}
	return nil
}

// checkHTTPSURL refuses anything but an https URL with a host and no path, query or user.
func checkHTTPSURL(what, v string) error {
	if len(v) > maxURLLen {
		return fmt.Errorf("%s is longer than %d bytes", what, maxURLLen)
	}
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if u.Scheme != "https" || u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q is not https://host:port", what, v)
	}
	return nil
}

// DecodeRouterHeartbeat strictly decodes and checks a router heartbeat.
func DecodeRouterHeartbeat(b []byte) (api.RouterHeartbeat, error) {
	var hb api.RouterHeartbeat
	if err := decodeBody(b, &hb); err != nil {
		return api.RouterHeartbeat{}, fmt.Errorf("router heartbeat: %w", err)
	}
	if err := checkRouterHeartbeat(hb); err != nil {
		return api.RouterHeartbeat{}, fmt.Errorf("router heartbeat: %w", err)
	}
	return hb, nil
}

func checkRouterHeartbeat(hb api.RouterHeartbeat) error {
	if !ca.ValidComponentID(hb.RouterID) {
		return fmt.Errorf("router_id %q is not a component ID", hb.RouterID)
	}
	if err := checkHTTPSURL("url", hb.URL); err != nil {
		return err
	}
	if hb.Participants < 0 {
		return fmt.Errorf("participants %d is negative", hb.Participants)
	}
	if len(hb.Meetings) > maxMeetings {
		return fmt.Errorf("%d meetings, more than %d", len(hb.Meetings), maxMeetings)
	}
	seen := map[string]bool{}
	for _, m := range hb.Meetings {
		if err := checkID("meeting id", m.ID); err != nil {
			return err
		}
		if seen[m.ID] {
			return fmt.Errorf("meeting %q is listed twice", m.ID)
		}
		seen[m.ID] = true
		if len(m.Participants) > maxMeetingSize {
			return fmt.Errorf("meeting %q lists %d participants, more than %d", m.ID, len(m.Participants), maxMeetingSize)
		}
		for _, p := range m.Participants {
			if err := checkID("participant id", p); err != nil {
				return fmt.Errorf("meeting %q: %w", m.ID, err)
			}
		}
	}
	return nil
}

// DecodeProxyHeartbeat strictly decodes and checks a proxy heartbeat.
func DecodeProxyHeartbeat(b []byte) (api.ProxyHeartbeat, error) {
	var hb api.ProxyHeartbeat
	if err := decodeBody(b, &hb); err != nil {
		return api.ProxyHeartbeat{}, fmt.Errorf("proxy heartbeat: %w", err)
	}
	if !ca.ValidComponentID(hb.ProxyID) {
		return api.ProxyHeartbeat{}, fmt.Errorf("proxy heartbeat: proxy_id %q is not a component ID", hb.ProxyID)
	}
	if len(hb.URLs) == 0 || len(hb.URLs) > maxProxyURLs {
		return api.ProxyHeartbeat{}, fmt.Errorf("proxy heartbeat: %d urls, want 1 to %d", len(hb.URLs), maxProxyURLs)
	}
	for _, u := range hb.URLs {
		if err := checkTURNURL(u); err != nil {
			return api.ProxyHeartbeat{}, fmt.Errorf("proxy heartbeat: %w", err)
		}
	}
	return hb, nil
}

// checkTURNURL accepts turn: and turns: URIs (RFC 7065): scheme, host[:port], optional
// ?transport=udp|tcp.
func checkTURNURL(v string) error {
	if len(v) > maxURLLen || !utf8.ValidString(v) {
		return fmt.Errorf("url %q is too long or not UTF-8", v)
	}
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok || (scheme != "turn" && scheme != "turns") {
		return fmt.Errorf("url %q is not a turn: or turns: URI", v)
	}
	hostport, query, _ := strings.Cut(rest, "?")
	if hostport == "" || strings.ContainsAny(hostport, "/@ \t\r\n") {
		return fmt.Errorf("url %q has no valid host", v)
	}
	if query != "" && query != "transport=udp" && query != "transport=tcp" {
		return fmt.Errorf("url %q: query must be transport=udp or transport=tcp", v)
	}
	return nil
}

// Kinds of participants.
var kinds = []string{"user", "room", "guest"}

// DecodeAdmit strictly decodes and checks an admit request.
func DecodeAdmit(b []byte) (api.AdmitRequest, error) {
	var req api.AdmitRequest
	if err := decodeBody(b, &req); err != nil {
		return api.AdmitRequest{}, fmt.Errorf("admit: %w", err)
	}
	if err := checkID("meeting", req.Meeting); err != nil {
		return api.AdmitRequest{}, fmt.Errorf("admit: %w", err)
	}
	if err := checkID("participant", req.Participant); err != nil {
		return api.AdmitRequest{}, fmt.Errorf("admit: %w", err)
	}
	if !slices.Contains(kinds, req.Kind) {
		return api.AdmitRequest{}, fmt.Errorf("admit: kind %q is not one of %s", req.Kind, strings.Join(kinds, ", "))
	}
	if len(req.Name) > maxNameLen || !utf8.ValidString(req.Name) {
		return api.AdmitRequest{}, fmt.Errorf("admit: name is not UTF-8 of at most %d bytes", maxNameLen)
	}
	return req, nil
}

// DecodeLeave strictly decodes and checks a leave request.
func DecodeLeave(b []byte) (api.LeaveRequest, error) {
	var req api.LeaveRequest
	if err := decodeBody(b, &req); err != nil {
		return api.LeaveRequest{}, fmt.Errorf("leave: %w", err)
	}
	if err := checkID("meeting", req.Meeting); err != nil {
		return api.LeaveRequest{}, fmt.Errorf("leave: %w", err)
	}
	if err := checkID("participant", req.Participant); err != nil {
		return api.LeaveRequest{}, fmt.Errorf("leave: %w", err)
	}
	return req, nil
}

// decodeBody is strictJSON with the body size limit.
func decodeBody(b []byte, v any) error {
	if len(b) > maxBody {
		return fmt.Errorf("body is %d bytes, more than %d", len(b), maxBody)
	}
	return strictJSON(b, v)
}
