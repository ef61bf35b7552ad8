package call

import (
	"errors"
	"io"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// rtcpHandler gets what the router sends about one of our streams.
type rtcpHandler struct {
	keyframe func()               // PLI or FIR
	loss     func(fraction uint8) // receiver report about our SSRC
	remb     func(bps float32)    // REMB
	heard    func()               // any RTCP: the router knows the stream
	ssrc     func() webrtc.SSRC   // our SSRC, to pick our report blocks
}

// readRTCP reads one sender's RTCP (one simulcast layer when rid is set) until the sender
// stops. Reading is also what lets the interceptors (NACK responder, reports) see it.
func (c *Call) readRTCP(s *webrtc.RTPSender, rid string, h rtcpHandler) {
	defer c.wg.Done()
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = s.ReadRTCP()
		} else {
			pkts, _, err = s.ReadSimulcastRTCP(rid)
		}
		if err != nil && len(pkts) == 0 {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || c.ctx.Err() != nil {
				return
			}
			// One undecodable compound packet: wait a little rather than spin, then go on.
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		c.handleRTCP(pkts, h)
	}
}

func (c *Call) handleRTCP(pkts []rtcp.Packet, h rtcpHandler) {
	if h.heard != nil {
		h.heard()
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			if h.keyframe != nil {
				h.keyframe()
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if h.remb != nil {
				h.remb(p.Bitrate)
			}
		case *rtcp.ReceiverReport:
			c.reportBlocks(p.Reports, h)
		case *rtcp.SenderReport:
			c.reportBlocks(p.Reports, h)
		}
	}
}

func (c *Call) reportBlocks(rs []rtcp.ReceptionReport, h rtcpHandler) {
	if h.loss == nil || h.ssrc == nil {
		return
	}
	own := uint32(h.ssrc())
	for _, r := range rs {
		if r.SSRC == own {
			h.loss(r.FractionLost)
		}
	}
}
