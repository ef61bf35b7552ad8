package rtcclient

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// TestRRIDOnRetransmissions: an RTX packet of a simulcast layer leaves with the layer's RID as
// repaired-rtp-stream-id and without rtp-stream-id; the layer's own packets keep their RID.
func TestRRIDOnRetransmissions(t *testing.T) {
	info := &interceptor.StreamInfo{SSRC: 1111, SSRCRetransmission: 2222, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{
		{URI: sdp.SDESMidURI, ID: 1}, {URI: sdp.SDESRTPStreamIDURI, ID: 2}, {URI: sdp.SDESRepairRTPStreamIDURI, ID: 3},
	}}
	var got []rtp.Header
	sink := interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		got = append(got, h.Clone())
		return len(p), nil
	})
	i, err := rridFactory{}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	w := i.BindLocalStream(info, sink)
	pkt := func(ssrc uint32) *rtp.Header {
		h := &rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: 7}
		if err := h.SetExtension(1, []byte("0")); err != nil {
			t.Fatal(err)
		}
		if err := h.SetExtension(2, []byte("q")); err != nil {
			t.Fatal(err)
		}
		return h
	}
	rtx := pkt(2222)
	for _, h := range []*rtp.Header{pkt(1111), rtx, rtx} {
		if _, err := w.Write(h, []byte{0, 7, 1, 2, 3}, nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		h         rtp.Header
		rid, rrid string
	}{
		{"layer packet keeps its rid", got[0], "q", ""},
		{"retransmission carries rrid", got[1], "", "q"},
		{"a second send of the same stored header too", got[2], "", "q"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := string(tc.h.GetExtension(2)); r != tc.rid {
				t.Errorf("rid = %q, want %q", r, tc.rid)
			}
			if r := string(tc.h.GetExtension(3)); r != tc.rrid {
				t.Errorf("rrid = %q, want %q", r, tc.rrid)
			}
			if m := string(tc.h.GetExtension(1)); m != "0" {
				t.Errorf("mid = %q, want it kept", m)
			}
		})
	}
	if rtx.GetExtension(2) == nil {
		t.Error("the stored header was changed in place")
	}
}
