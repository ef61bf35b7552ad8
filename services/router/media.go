package router

import (
	"fmt"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Codecs the router forwards, with fixed payload types so every PeerConnection (and every
// log line) agrees. Video gets RTX (RFC 4588) and the RTCP feedback the SFU relies on.
func registerCodecs(m *webrtc.MediaEngine) error {
	// nack, nack pli and transport-cc are added by ConfigureNack / ConfigureTWCCSender below.
	fb := []webrtc.RTCPFeedback{{Type: "ccm", Parameter: "fir"}}
	audio := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
	}
	video := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"}, PayloadType: 97},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=102"}, PayloadType: 103},
	}
	for _, c := range audio {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	for _, c := range video {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	// RFC 6464 audio levels drive the active-speaker detection.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("register audio level extension: %w", err)
	}
	return nil
}

// newAPI builds one participant's WebRTC API: its own MediaEngine (pion's must not be
// shared between PeerConnections) and interceptors: congestion control (send-side BWE from
// TWCC feedback) registered before the NACK responder as pion requires, NACK generator and
// responder, RTCP reports, TWCC feedback for what the participant publishes, and the
// simulcast RID/MID header extensions. onEstimator receives the BWE of the new connection.
func (s *SFU) newAPI(secured bool, onEstimator func(cc.BandwidthEstimator)) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	factory := s.opts.NewEstimator
	if factory == nil {
		factory = func() (cc.BandwidthEstimator, error) {
			// No pacer: an SFU forwards what publishers already paced; GCC's leaky bucket with
			// an unbounded queue delayed video by ~0.5 s and growing while the estimate ramped
			// up (test/bench video-heavy). The estimate still drives each subscriber's layer.
			return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(1_000_000), gcc.SendSideBWEMinBitrate(100_000),
				gcc.SendSideBWEMaxBitrate(20_000_000), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
		}
	}
	ccf, err := cc.NewInterceptor(factory)
	if err != nil {
		return nil, fmt.Errorf("congestion controller: %w", err)
	}
	ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { onEstimator(e) })
	reg.Add(ccf)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, fmt.Errorf("twcc header extension: %w", err)
	}
	if err := webrtc.ConfigureNack(m, reg); err != nil {
		return nil, fmt.Errorf("nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, fmt.Errorf("simulcast extensions: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, fmt.Errorf("twcc feedback: %w", err)
	}
	se, err := s.settingEngine(secured)
	if err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// settingEngine is the router's ICE/DTLS policy: loopback interfaces only and no mDNS (the
// development network rule; production widens it through Options.ICE), and DTLS-SRTP
// preferring AES-128-GCM (RFC 7714) over AES-CM + HMAC-SHA1; under the Secured option
// AES-128-GCM only, so a peer that cannot negotiate it fails DTLS.
func (s *SFU) settingEngine(secured bool) (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	LoopbackOnly(&se)
	if err := s.opts.ICE.apply(&se); err != nil {
		return se, err
	}
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	if s.opts.SettingEngine != nil {
		s.opts.SettingEngine(&se)
	}
	if secured {
		// After the caller's adjustments: nothing may widen the Secured option's policy.
		se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM)
	}
	return se, nil
}

// LoopbackOnly restricts an ICE agent to the loopback interface over UDP/IPv4 with no mDNS
// candidates: nothing leaves the machine.
func LoopbackOnly(se *webrtc.SettingEngine) {
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
}
