package router

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
)

func TestICEOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		o    ICEOptions
		want string // "" = valid
	}{
		{"zero value is loopback only", ICEOptions{}, ""},
		{"production", ICEOptions{Interfaces: []string{"eth0", "ens5"}, PublicIPs: []string{"203.0.113.7"}, UDPPortMin: 40000, UDPPortMax: 40999}, ""},
		{"mux", ICEOptions{Interfaces: []string{"eth0"}, UDPMuxPort: 3479}, ""},
		{"empty interface name", ICEOptions{Interfaces: []string{""}}, "interface name"},
		{"long interface name", ICEOptions{Interfaces: []string{"a-very-long-ifname"}}, "interface name"},
		{"public IP a name", ICEOptions{PublicIPs: []string{"example.com"}}, "not an IP address"},
		{"public IP loopback", ICEOptions{PublicIPs: []string{"127.0.0.1"}}, "loopback"},
		{"public IP unspecified", ICEOptions{PublicIPs: []string{"0.0.0.0"}}, "unspecified"},
		{"public IP v6", ICEOptions{PublicIPs: []string{"2001:db8::1"}}, "not IPv4"},
		{"half a range", ICEOptions{UDPPortMin: 40000}, "port range"},
		{"inverted range", ICEOptions{UDPPortMin: 41000, UDPPortMax: 40000}, "port range"},
		{"mux and range", ICEOptions{UDPPortMin: 40000, UDPPortMax: 40010, UDPMuxPort: 3479}, "exclusive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, err := OpenICE(tc.o); err == nil {
				t.Error("OpenICE accepted options Validate refuses")
			}
		})
	}
}

// freeUDPPort finds a loopback UDP port nobody holds right now.
func freeUDPPort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

func openICE(t *testing.T, o ICEOptions) *ICE {
	t.Helper()
	n, err := OpenICE(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() }) // registered first, so it runs after the SFU's cleanup
	return n
}

// With a UDP mux on 127.0.0.1 a real call runs over that one port: every participant's
// selected candidate pair has the mux port as the router's local port.
func TestICEUDPMuxCarriesTheCall(t *testing.T) {
	port := freeUDPPort(t)
	n := openICE(t, ICEOptions{Interfaces: []string{"lo"}, UDPMuxPort: port})
	if addrs := n.MuxAddrs(); len(addrs) != 1 || addrs[0].String() != net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))) {
		t.Fatalf("mux listens on %v, want only 127.0.0.1:%d", addrs, port)
	}
	if _, err := OpenICE(ICEOptions{Interfaces: []string{"lo"}, UDPMuxPort: port}); err == nil {
		t.Error("a second mux on a taken port opened")
	}
	e := newTestEnv(t, func(o *Options) { o.ICE = n })
	a := dialClient(t, e, "mux", "alice", clientOpts{audio: true, video: true, level: 10})
	b := dialClient(t, e, "mux", "bob", clientOpts{audio: true, video: true, level: 127})
	waitFor(t, 10*time.Second, "alice and bob exchange media", func() bool {
		return a.track("bob", "video-bob").packets.Load() > 5 && b.track("alice", "video-alice").packets.Load() > 5
	})
	parts := e.sfu.room("mux").members()
	if len(parts) != 2 {
		t.Fatalf("%d participants in the room, want 2", len(parts))
	}
	for _, p := range parts {
		pair := selectedPair(t, p.pc)
		if pair.Local.Port != port || pair.Local.Address != "127.0.0.1" || pair.Local.Typ != webrtc.ICECandidateTypeHost {
			t.Errorf("%s: router's selected local candidate %s, want host 127.0.0.1:%d", p.id, pair.Local, port)
		}
	}
	for _, c := range []*testClient{a, b} {
		if pair := selectedPair(t, c.pc); pair.Remote.Port != port {
			t.Errorf("%s: client's selected remote candidate %s, want port %d", c.id, pair.Remote, port)
		}
	}
}

func selectedPair(t *testing.T, pc *webrtc.PeerConnection) *webrtc.ICECandidatePair {
	t.Helper()
	var pair *webrtc.ICECandidatePair
	waitFor(t, 5*time.Second, "a selected candidate pair", func() bool {
		for _, tr := range pc.GetTransceivers() {
			if dt := tr.Receiver().Transport(); dt != nil {
				if p, err := dt.ICETransport().GetSelectedCandidatePair(); err == nil && p != nil {
					pair = p
					return true
				}
			}
		}
		return false
	})
	return pair
}

// The router's answer and trickled candidates show the ICE policy. No client ever connects
// to these candidates: the public address is a documentation address (RFC 5737) and the test
// only reads the SDP.
func TestICECandidatesInAnswer(t *testing.T) {
	cases := []struct {
		name  string
		o     *ICEOptions // nil: the default (no ICE)
		check func(t *testing.T, c ice.Candidate)
	}{
		{"default is loopback only", nil, func(t *testing.T, c ice.Candidate) {
			if ip := net.ParseIP(c.Address()); ip == nil || !ip.IsLoopback() || c.Type() != ice.CandidateTypeHost {
				t.Errorf("candidate %s: want a loopback host candidate", c)
			}
		}},
		{"public IP replaces host address", &ICEOptions{Interfaces: []string{"lo"}, PublicIPs: []string{"203.0.113.7"}}, func(t *testing.T, c ice.Candidate) {
			if c.Address() != "203.0.113.7" || c.Type() != ice.CandidateTypeHost {
				t.Errorf("candidate %s: want host 203.0.113.7", c)
			}
		}},
		{"port range bounds host ports", &ICEOptions{Interfaces: []string{"lo"}, UDPPortMin: 41000, UDPPortMax: 41099}, func(t *testing.T, c ice.Candidate) {
			if c.Port() < 41000 || c.Port() > 41099 || c.Address() != "127.0.0.1" {
				t.Errorf("candidate %s: want 127.0.0.1 with a port in 41000-41099", c)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n *ICE
			if tc.o != nil {
				n = openICE(t, *tc.o)
			}
			e := newTestEnv(t, func(o *Options) { o.ICE = n })
			cands := answerCandidates(t, e, "cand", "alice")
			if len(cands) == 0 {
				t.Fatal("the router offered no candidates")
			}
			for _, c := range cands {
				tc.check(t, c)
			}
		})
	}
}

// answerCandidates joins, offers receive-only media and returns the candidates of the
// router's answer plus those it trickles until end-of-candidates. The answer is never
// applied, so nothing connects anywhere.
func answerCandidates(t *testing.T, e *testEnv, meeting, id string) []ice.Candidate {
	t.Helper()
	c := connectWS(t, e, e.token(t, meeting, id, testRouterID))
	if m := c.next(t); m.Type != api.SigTypeJoined {
		t.Fatalf("first message %s %s, want joined", m.Type, m.Data)
	}
	var se webrtc.SettingEngine
	LoopbackOnly(&se)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	c.sendMsg(api.SigTypeOffer, api.SigSDP{SDP: offer.SDP, Type: "offer"})
	var lines []string
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	for done, answered := false, false; !done || !answered; {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			t.Fatalf("read (answered %v, end of candidates %v): %v", answered, done, err)
		}
		m, err := api.DecodeSig(b)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case api.SigTypeAnswer:
			sd, err := api.DecodeSigSDP(m)
			if err != nil {
				t.Fatal(err)
			}
			answered = true
			for _, l := range strings.Split(sd.SDP, "\n") {
				if s, ok := strings.CutPrefix(strings.TrimSpace(l), "a="); ok && strings.HasPrefix(s, "candidate:") {
					lines = append(lines, s)
				}
			}
		case api.SigTypeCandidate:
			cd, err := api.DecodeSigCandidate(m)
			if err != nil {
				t.Fatal(err)
			}
			if cd.Candidate == "" {
				done = true
			} else {
				lines = append(lines, cd.Candidate)
			}
		}
	}
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	var out []ice.Candidate
	for _, l := range lines {
		cand, err := ice.UnmarshalCandidate(l)
		if err != nil {
			t.Fatalf("router sent candidate %q: %v", l, err)
		}
		out = append(out, cand)
	}
	return out
}
