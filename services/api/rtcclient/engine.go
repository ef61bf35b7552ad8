package rtcclient

import (
	"fmt"
	"net"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// LoopbackInterface reports whether the network interface name is a loopback one. Conference ICE
// agents in tests and on the appliance's default config gather on loopback only, so nothing ever
// leaves the machine unless a TURN server (our own proxy) is configured.
func LoopbackInterface(name string) bool {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return name == "lo"
	}
	return ifc.Flags&net.FlagLoopback != 0
}

// NewSettingEngine is the setting engine every Stoa Go peer starts from: host candidates on
// loopback only, no mDNS (it would multicast on the LAN), UDP and TCP over IPv4, and DTLS-SRTP
// offering AEAD_AES_128_GCM first (RFC 7714) with AES128_CM_HMAC_SHA1_80 as the fallback.
func NewSettingEngine() *webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetInterfaceFilter(LoopbackInterface)
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	return &se
}

// NewAPI builds the pion API with the default codecs (Opus, VP8 with RTX, VP9, H.264, AV1), the
// default interceptors (NACK generator and responder, RTCP reports, simulcast rid/mid header
// extensions, TWCC feedback) and the RFC 6464 audio-level extension the router's active speaker
// detection reads.
func NewAPI(se *webrtc.SettingEngine) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register audio level extension: %w", err)
	}
	reg := &interceptor.Registry{}
	// First, so it wraps the transport below the NACK responder and sees its retransmissions.
	reg.Add(rridFactory{})
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(*se)), nil
}

// AudioLevelURI is the RFC 6464 client-to-mixer audio level header extension.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
