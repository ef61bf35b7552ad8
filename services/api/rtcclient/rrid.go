package rtcclient

import (
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// rridInterceptor makes retransmissions (RTX, RFC 4588) of simulcast layers carry the
// repaired-rtp-stream-id header extension instead of rtp-stream-id (RFC 8852 §3.2). Our
// layers stamp the RID on every packet; pion's NACK responder builds an RTX packet from a copy of
// the original header, RID included. A receiver that sees a new SSRC with a known RID and no
// RRID takes it for the layer itself: pion's receiver then swaps the layer's stream for the RTX
// stream (and races its reader doing so), and the layer stalls after the first upstream loss.
//
// It must sit closer to the wire than the NACK responder, so NewAPI registers it first.
type rridInterceptor struct {
	interceptor.NoOp
}

type rridFactory struct{}

func (rridFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &rridInterceptor{}, nil
}

// BindLocalStream rewrites the RTX stream's packets of a stream that has both extensions.
func (*rridInterceptor) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if info.SSRCRetransmission == 0 {
		return writer
	}
	var rid, rrid uint8
	for _, e := range info.RTPHeaderExtensions {
		switch e.URI {
		case sdp.SDESRTPStreamIDURI:
			rid = uint8(e.ID)
		case sdp.SDESRepairRTPStreamIDURI:
			rrid = uint8(e.ID)
		}
	}
	if rid == 0 {
		return writer
	}
	rtx := info.SSRCRetransmission
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC != rtx {
			return writer.Write(h, payload, a)
		}
		v := h.GetExtension(rid)
		if v == nil {
			return writer.Write(h, payload, a)
		}
		// The responder may send the same stored header again: rewrite a copy.
		c := h.Clone()
		if err := c.DelExtension(rid); err != nil {
			return 0, err
		}
		if rrid != 0 {
			if err := c.SetExtension(rrid, v); err != nil {
				return 0, err
			}
		}
		return writer.Write(&c, payload, a)
	})
}
