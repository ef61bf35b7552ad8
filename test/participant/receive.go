package participant

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
	"golang.org/x/image/vp8"

	testmedia "github.com/stoa-rooms/stoa/test/media"
)

// maxKeptFrames bounds RemoteReport.Frames; counters keep counting past it.
const maxKeptFrames = 2000

// RemoteReport is what one participant received from one other.
type RemoteReport struct {
	// Frames are the decoded frame numbers in arrival order (the first maxKeptFrames).
	Frames []int
	// Decoded counts frames whose pattern was read; Undecodable frames that failed to decode or
	// carried no pattern; Skipped frames dropped because the decoder was still busy (decoding
	// 720p in pure Go under -race is slower than real time on small machines).
	Decoded, Undecodable, Skipped int
	// Backwards counts decoded frames whose number went down within one simulcast layer other
	// than by the sender looping its fixture (a wrap, told apart by the RTP timestamps; see
	// frameOrder): reordering or a mix-up of senders. Repeats counts a number seen twice in a
	// row within a layer. Across a layer switch the number may step back (the new layer's
	// sender can lag) without either counting.
	Backwards, Repeats int
	// Widths counts decoded frames per picture width: which simulcast layer arrived.
	Widths       map[int]int
	AudioPackets int
	// VideoPackets counts video RTP packets. VideoSeq is the highest video RTP sequence number
	// seen, extended past wraps (RFC 3550 appendix A.1), so it keeps growing while video flows
	// even when no frame decodes (a browser's delta frames); SeqBackwards counts packets older
	// than the highest (reordered or retransmitted).
	VideoPackets int
	VideoSeq     uint64
	SeqBackwards int
	First, Last  time.Time
	// FirstFrame and LastFrame are when the first and the latest frame were decoded.
	FirstFrame, LastFrame time.Time
	// Name is the remote's display name as signaled (stable across rejoins, unlike its ID).
	Name string
}

// Report is a snapshot of everything received, by remote participant ID.
type Report struct {
	ID     string
	Remote map[string]RemoteReport
}

// Report returns a deep copy of the counters.
func (p *Participant) Report() Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := Report{ID: p.client.ID(), Remote: map[string]RemoteReport{}}
	for id, rr := range p.remote {
		c := *rr
		c.Frames = append([]int(nil), rr.Frames...)
		c.Widths = maps.Clone(rr.Widths)
		r.Remote[id] = c
	}
	return r
}

// WaitMedia polls until at least others remote participants each delivered minFrames decoded
// frames and minAudio audio packets, or ctx ends (the error then says what was missing).
func (p *Participant) WaitMedia(ctx context.Context, others, minFrames, minAudio int) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r := p.Report()
		ok := 0
		for _, rr := range r.Remote {
			if rr.Decoded >= minFrames && rr.AudioPackets >= minAudio {
				ok++
			}
		}
		if ok >= others {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("participant %s: %d of %d others sent %d frames and %d audio packets: %+v: %w",
				r.ID, ok, others, minFrames, minAudio, summary(r), ctx.Err())
		case <-tick.C:
		}
	}
}

func summary(r Report) map[string]string {
	out := map[string]string{}
	for id, rr := range r.Remote {
		out[id] = fmt.Sprintf("decoded=%d undecodable=%d skipped=%d audio=%d widths=%v", rr.Decoded, rr.Undecodable, rr.Skipped, rr.AudioPackets, rr.Widths)
	}
	return out
}

func (p *Participant) entry(id string) *RemoteReport {
	rr := p.remote[id]
	if rr == nil {
		rr = &RemoteReport{Widths: map[int]int{}}
		p.remote[id] = rr
	}
	if rr.Name == "" && p.client != nil {
		for _, sp := range p.client.Participants() {
			if sp.ID == id {
				rr.Name = sp.Name
			}
		}
	}
	now := p.opts.Now()
	if rr.First.IsZero() {
		rr.First = now
	}
	rr.Last = now
	return rr
}

func (p *Participant) onTrack(tr *webrtc.TrackRemote, participant string) {
	if tr.Kind() == webrtc.RTPCodecTypeAudio {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.mu.Lock()
			p.entry(participant).AudioPackets++
			p.mu.Unlock()
		}
	}
	if tr.Codec().MimeType != webrtc.MimeTypeVP8 {
		p.log.Warn("participant: ignoring non-VP8 video", "from", participant, "codec", tr.Codec().MimeType)
		return
	}
	frames := make(chan *media.Sample, 1)
	defer close(frames)
	go p.decodeLoop(participant, tr.Codec().ClockRate, frames)
	sb := samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	var seq seqExtender
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		ext, forward := seq.next(pkt.SequenceNumber)
		p.mu.Lock()
		rr := p.entry(participant)
		rr.VideoPackets++
		if forward {
			rr.VideoSeq = max(rr.VideoSeq, ext)
		} else {
			rr.SeqBackwards++
		}
		p.mu.Unlock()
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			p.offer(participant, frames, s)
		}
	}
}

// offer hands a frame to the decoder. A frame still waiting there from before is dropped
// for it: the decoder should always take the newest frame, not one held for as long as the
// previous decode took (seconds for 720p under -race on a loaded machine).
func (p *Participant) offer(participant string, frames chan *media.Sample, s *media.Sample) {
	select {
	case <-frames:
		p.mu.Lock()
		p.entry(participant).Skipped++
		p.mu.Unlock()
	default:
	}
	// This goroutine is the only sender: the slot is free now.
	frames <- s
}

func (p *Participant) decodeLoop(participant string, clockRate uint32, frames <-chan *media.Sample) {
	// Each simulcast layer (told by width) is its own stream, and a switch to a layer whose
	// sender lags (a 720p keyframe stream on a starved CPU) may show an older frame without
	// anything being out of order within a layer.
	order := newFrameOrder(p.opts.Media.Spec.Frames, p.opts.Media.Spec.FPS, clockRate)
	for s := range frames {
		n, width, ok := decode(s.Data)
		p.mu.Lock()
		rr := p.entry(participant)
		if !ok {
			rr.Undecodable++
			p.mu.Unlock()
			continue
		}
		rr.Decoded++
		rr.Widths[width]++
		rr.LastFrame = rr.Last
		if rr.FirstFrame.IsZero() {
			rr.FirstFrame = rr.Last
		}
		if len(rr.Frames) < maxKeptFrames {
			rr.Frames = append(rr.Frames, n)
		}
		switch back, repeat := order.observe(width, n, s.PacketTimestamp); {
		case repeat:
			rr.Repeats++
		case back:
			rr.Backwards++
		}
		p.mu.Unlock()
	}
}

// decode decodes one VP8 keyframe and reads its frame number.
func decode(data []byte) (n, width int, ok bool) {
	d := vp8.NewDecoder()
	d.Init(bytes.NewReader(data), len(data))
	fh, err := d.DecodeFrameHeader()
	if err != nil || !fh.KeyFrame {
		return 0, 0, false
	}
	img, err := d.DecodeFrame()
	if err != nil {
		return 0, 0, false
	}
	n, ok = testmedia.ReadPattern(img)
	return n, img.Bounds().Dx(), ok
}

// seqExtender extends 16-bit RTP sequence numbers across wraps (RFC 3550 appendix A.1).
type seqExtender struct {
	started bool
	highest uint64
}

// next returns seq extended relative to the highest seen so far, and whether it is newer.
func (e *seqExtender) next(seq uint16) (ext uint64, forward bool) {
	if !e.started {
		// Start one cycle up so that a packet from just before the first can be extended too.
		e.started, e.highest = true, 1<<16|uint64(seq)
		return e.highest, true
	}
	d := int16(seq - uint16(e.highest))
	ext = uint64(int64(e.highest) + int64(d))
	if d <= 0 {
		return ext, false
	}
	e.highest = ext
	return ext, true
}
