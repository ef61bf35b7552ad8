package web

import (
	"io/fs"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/stoa-rooms/stoa/services/api"
)

func readModule(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(Files(), "js/"+name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// TestMeetingSignalingCoversProtocol ties the browser client to the wire contract in
// services/api: every message the router sends has a handler in meetingrtc.js, and every
// message the client sends uses a type the router knows. A type added to the protocol
// without the client learning it fails here, not in a call.
func TestMeetingSignalingCoversProtocol(t *testing.T) {
	src := readModule(t, "meetingrtc.js")
	handled := map[string]bool{}
	for _, m := range regexp.MustCompile(`case "([a-z_]+)":|msg\.type === "([a-z_]+)"`).FindAllStringSubmatch(src, -1) {
		handled[m[1]+m[2]] = true
	}
	sent := map[string]bool{}
	for _, m := range regexp.MustCompile(`this\.send\([^,]+, "([a-z_]+)"`).FindAllStringSubmatch(src, -1) {
		sent[m[1]] = true
	}
	fromRouter := []string{api.SigTypeOffer, api.SigTypeAnswer, api.SigTypeCandidate, api.SigTypeJoined,
		api.SigTypeParticipantJoined, api.SigTypeParticipantLeft, api.SigTypeTrack, api.SigTypeActiveSpeaker,
		api.SigTypeReconnect, api.SigTypeError}
	toRouter := []string{api.SigTypeJoin, api.SigTypeOffer, api.SigTypeAnswer, api.SigTypeCandidate, api.SigTypeMute, api.SigTypeLeave}
	for _, typ := range fromRouter {
		t.Run("handles "+typ, func(t *testing.T) {
			if !handled[typ] {
				t.Errorf("meetingrtc.js has no handler for %q", typ)
			}
		})
	}
	known := map[string]bool{}
	for _, typ := range toRouter {
		known[typ] = true
		t.Run("sends "+typ, func(t *testing.T) {
			if !sent[typ] {
				t.Errorf("meetingrtc.js never sends %q", typ)
			}
		})
	}
	for typ := range sent {
		if !known[typ] {
			t.Errorf("meetingrtc.js sends %q, which the router does not accept", typ)
		}
	}
}

// TestMeetingClientWebRTCSettings pins what the router and the TURN-only test rely on: the
// simulcast rids q/h/f, relay-only ICE behind ?relay=1, ICE servers from the join answer,
// and candidates sent with only the fields of api.SigCandidate (the router decodes strictly).
func TestMeetingClientWebRTCSettings(t *testing.T) {
	rtc := readModule(t, "meetingrtc.js")
	view := readModule(t, "meetingview.js")
	page := readModule(t, "meeting.js")
	tests := []struct {
		name, src, want string
	}{
		{"rid q", view, `rid: "q", scaleResolutionDownBy: 4`},
		{"rid h", view, `rid: "h", scaleResolutionDownBy: 2`},
		{"rid f", view, `rid: "f"`},
		{"simulcast on the video sender", rtc, `sendEncodings: simulcastEncodings()`},
		{"relay policy", rtc, `iceTransportPolicy: this.relay ? "relay" : "all"`},
		{"relay from the URL", page, `.get("relay") === "1"`},
		{"ICE servers from the join answer", rtc, `resp.ice_servers`},
		{"candidate fields", rtc, `{ candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }`},
		{"mute payload", rtc, `{ track_id: t.id, muted: this.muted[kind] }`},
		{"join endpoint", rtc, "`/api/v1/meetings/${encodeURIComponent(this.meetingID)}/join`"},
		{"test hook", page, `window.stoaMeeting = Object.freeze({`},
		{"decoded frames", rtc, `r.framesDecoded`},
		{"audio samples", rtc, `r.totalSamplesReceived`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.src, tc.want) {
				t.Errorf("missing %s", tc.want)
			}
		})
	}
	// The payload literals above must use the JSON names of the Go types.
	for _, typ := range []reflect.Type{reflect.TypeFor[api.SigCandidate](), reflect.TypeFor[api.SigMute](), reflect.TypeFor[api.SigSDP](), reflect.TypeFor[api.SigJoin]()} {
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			t.Run(typ.Name()+"."+name, func(t *testing.T) {
				if !regexp.MustCompile(`[{,] ` + name + `: `).MatchString(rtc) {
					t.Errorf("meetingrtc.js sends no %q field of %s", name, typ.Name())
				}
			})
		}
	}
}

// TestMeetingPages pins the forms of the two meeting pages: labelled fields, numeric keypads
// for IDs and PINs without autofill, submit buttons inside their forms, and a preview that
// plays muted inline (a page must never play someone's own microphone back).
func TestMeetingPages(t *testing.T) {
	tests := []struct {
		page, id, key, want string
	}{
		{"meeting.html", "join-pin", "inputmode", "numeric"},
		{"meeting.html", "join-pin", "autocomplete", "off"},
		{"meeting.html", "join-submit", "type", "submit"},
		{"meeting.html", "toggle-mic", "aria-pressed", "false"},
		{"meeting.html", "toggle-cam", "aria-pressed", "false"},
		{"meeting.html", "leave", "type", "button"},
		{"meeting.html", "call-state", "role", "status"},
		{"meetings.html", "meeting-pin", "inputmode", "numeric"},
		{"meetings.html", "meeting-pin", "autocomplete", "off"},
		{"meetings.html", "meeting-submit", "type", "submit"},
		{"meetings.html", "joinid-value", "inputmode", "numeric"},
	}
	docs := map[string]*html.Node{}
	byID := func(t *testing.T, page, id string) *html.Node {
		t.Helper()
		if docs[page] == nil {
			docs[page] = parseDoc(t, page)
		}
		found := elements(docs[page], func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
		if len(found) != 1 {
			t.Fatalf("%s: #%s found %d times", page, id, len(found))
		}
		return found[0]
	}
	for _, tc := range tests {
		t.Run(tc.page+" "+tc.id+" "+tc.key, func(t *testing.T) {
			if got, _ := attr(byID(t, tc.page, tc.id), tc.key); got != tc.want {
				t.Errorf("#%s %s=%q, want %q", tc.id, tc.key, got, tc.want)
			}
		})
	}
	t.Run("preview plays muted and inline", func(t *testing.T) {
		v := byID(t, "meeting.html", "preview")
		for _, k := range []string{"muted", "playsinline", "autoplay"} {
			if _, ok := attr(v, k); !ok {
				t.Errorf("#preview lacks %s", k)
			}
		}
	})
	for _, f := range []struct{ page, form, submit string }{
		{"meeting.html", "join-form", "join-submit"},
		{"meetings.html", "meeting-form", "meeting-submit"},
		{"meetings.html", "joinid-form", "joinid-submit"},
	} {
		t.Run(f.page+" "+f.submit+" inside "+f.form, func(t *testing.T) {
			inside := elements(byID(t, f.page, f.form), func(n *html.Node) bool { v, _ := attr(n, "id"); return v == f.submit })
			if len(inside) != 1 {
				t.Errorf("#%s is not inside #%s", f.submit, f.form)
			}
		})
	}
	t.Run("labels", func(t *testing.T) {
		for _, c := range []struct{ page, id string }{
			{"meeting.html", "join-name"}, {"meeting.html", "join-pin"},
			{"meetings.html", "meeting-name"}, {"meetings.html", "meeting-pin"}, {"meetings.html", "joinid-value"},
		} {
			labels := elements(parseDoc(t, c.page), func(n *html.Node) bool { v, _ := attr(n, "for"); return n.Data == "label" && v == c.id })
			if len(labels) != 1 {
				t.Errorf("%s: #%s has %d labels, want 1", c.page, c.id, len(labels))
			}
		}
	})
}
