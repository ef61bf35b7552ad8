package router

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/stoa-rooms/stoa/services/api"
)

const (
	mimeVP8  = "video/vp8"
	mimeH264 = "video/h264"
	mimeOpus = "audio/opus"

	// malformedLimit malformed packets within one second cut the publisher off: a client
	// that sends that much garbage is broken or hostile.
	malformedLimit = 100
	// Per-layer packet rate cap: far above real media (a 2.5 Mbit/s layer is ~250 packets/s).
	layerPacketRate  = 2000
	layerPacketBurst = 1000
	pliInterval      = 300 * time.Millisecond
)

// layer is one incoming RTP stream of a publication (one simulcast encoding, or the only one).
type layer struct {
	rid   string
	ssrc  uint32
	meter rateMeter

	mu      sync.Mutex
	lastPLI time.Time
}

// publication is one track a participant publishes, fanned out to every subscriber.
type publication struct {
	id        string
	owner     *participant
	kind      webrtc.RTPCodecType
	codec     webrtc.RTPCodecCapability
	mime      string
	simulcast bool
	muted     atomic.Bool

	mu     sync.Mutex
	layers map[string]*layer
	fwds   map[*forwarder]struct{}
	snap   atomic.Pointer[[]*forwarder] // copy of fwds for the hot path

	packetsIn, bytesIn, dropped atomic.Uint64
}

func newPublication(owner *participant, track *webrtc.TrackRemote) *publication {
	pub := &publication{
		id: track.ID(), owner: owner, kind: track.Kind(), codec: track.Codec().RTPCodecCapability,
		mime: strings.ToLower(track.Codec().MimeType), simulcast: track.RID() != "",
		layers: map[string]*layer{}, fwds: map[*forwarder]struct{}{},
	}
	pub.snap.Store(&[]*forwarder{})
	return pub
}

func (p *publication) info() api.SigTrack {
	kind := "audio"
	if p.kind == webrtc.RTPCodecTypeVideo {
		kind = "video"
	}
	return api.SigTrack{ID: p.id, Kind: kind, Muted: p.muted.Load(), Simulcast: p.simulcast}
}

func (p *publication) addForwarder(f *forwarder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fwds[f] = struct{}{}
	p.storeSnap()
}

func (p *publication) removeForwarder(f *forwarder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.fwds, f)
	p.storeSnap()
}

func (p *publication) storeSnap() {
	s := make([]*forwarder, 0, len(p.fwds))
	for f := range p.fwds {
		s = append(s, f)
	}
	p.snap.Store(&s)
}

func (p *publication) forwarders() []*forwarder { return *p.snap.Load() }

// layerRates reports the arriving bitrate of each layer.
func (p *publication) layerRates(now time.Time) []Layer {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Layer, 0, len(p.layers))
	for _, l := range p.layers {
		out = append(out, Layer{RID: l.rid, Bitrate: l.meter.bitrate(now)})
	}
	return out
}

// requestKeyframe sends a PLI (RFC 4585 §6.3.1) for layer rid to the publisher, at most
// once per pliInterval per layer.
func (p *publication) requestKeyframe(rid string, now time.Time) {
	if p.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	p.mu.Lock()
	l := p.layers[rid]
	p.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	if now.Sub(l.lastPLI) < pliInterval {
		l.mu.Unlock()
		return
	}
	l.lastPLI = now
	l.mu.Unlock()
	if err := p.owner.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err != nil {
		p.owner.log.Debug("send pli", "track", p.id, "rid", rid, "err", err)
		return
	}
	p.owner.plis.Add(1)
}

// lowestLayer is the layer a new subscriber starts on until its estimate says otherwise.
func (p *publication) lowestLayer(now time.Time) string {
	if !p.simulcast {
		return ""
	}
	rates := p.layerRates(now)
	return ChooseLayer(0, rates, simulcastDefaultRID(rates))
}

// simulcastDefaultRID guesses the lowest layer before rates are known: "q" if published.
func simulcastDefaultRID(rates []Layer) string {
	for _, l := range rates {
		if l.RID == "q" {
			return "q"
		}
	}
	if len(rates) > 0 {
		return rates[0].RID
	}
	return ""
}

// readLayer pumps one incoming stream until it ends, forwarding each packet to every
// subscriber. It validates every packet and cuts the publisher off when it sends garbage.
func (p *publication) readLayer(track *webrtc.TrackRemote, l *layer, levelID uint8) error {
	s := p.owner.sfu
	limiter := newBucket(layerPacketRate, layerPacketBurst, s.now())
	var abuse abuseMeter
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				return nil
			}
			return fmt.Errorf("read rtp: %w", err)
		}
		now := s.now()
		p.packetsIn.Add(1)
		p.bytesIn.Add(uint64(len(pkt.Payload)))
		if !validPayload(p.mime, pkt.Payload) {
			p.dropped.Add(1)
			if abuse.malformed(now) {
				return errMalformedMedia
			}
			continue
		}
		if !limiter.allow(now) {
			p.dropped.Add(1)
			if abuse.overRate(now) {
				return errMediaFlood
			}
			continue
		}
		l.meter.add(len(pkt.Payload)+12, now)
		if levelID != 0 && !p.muted.Load() {
			if ext := pkt.GetExtension(levelID); len(ext) > 0 {
				var lv rtp.AudioLevelExtension
				if lv.Unmarshal(ext) == nil {
					p.owner.room.observeLevel(p.owner.id, lv.Level, now)
				}
			}
		}
		if p.muted.Load() {
			continue
		}
		if hook := s.opts.OnMedia; hook != nil {
			hook(MediaView{Meeting: p.owner.room.id, Participant: p.owner.id, Track: p.id, RID: l.rid, Mime: p.mime, Packet: pkt})
		}
		key := false
		switch p.mime {
		case mimeVP8:
			key = isVP8Keyframe(pkt.Payload)
		case mimeH264:
			key = isH264Keyframe(pkt.Payload)
		}
		for _, f := range p.forwarders() {
			f.write(l.rid, pkt, key, now)
		}
	}
}

var (
	errMalformedMedia = errors.New("too many malformed media packets")
	errMediaFlood     = errors.New("media packets far over the rate cap for seconds")
)
