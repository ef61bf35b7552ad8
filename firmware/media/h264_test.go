package media

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// splitAnnexB cuts an Annex-B stream at its start codes (00 00 01, or 00 00 00 01).
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+3 <= len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				nals = append(nals, bytes.TrimRight(b[start:i], "\x00"))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// bitReader reads an RBSP (emulation prevention bytes removed) MSB first, with exp-Golomb.
type bitReader struct {
	b   []byte
	pos int
	err error
}

func (r *bitReader) u(n int) uint {
	var v uint
	for i := 0; i < n; i++ {
		if r.pos >= 8*len(r.b) {
			r.err = errors.New("read past the end")
			return 0
		}
		v = v<<1 | uint(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) ue() uint {
	zeros := 0
	for r.u(1) == 0 && r.err == nil && zeros < 32 {
		zeros++
	}
	return (1<<zeros - 1) + r.u(zeros)
}

func unescapeRBSP(nal []byte) []byte {
	out := make([]byte, 0, len(nal))
	for i := 0; i < len(nal); i++ {
		if i >= 2 && nal[i] == 3 && nal[i-1] == 0 && nal[i-2] == 0 {
			continue
		}
		out = append(out, nal[i])
	}
	return out
}

// spsSize reads profile and the picture size from a baseline-profile SPS (H.264 7.3.2.1.1).
func spsSize(nal []byte) (profile, w, h int, err error) {
	r := &bitReader{b: unescapeRBSP(nal[1:])}
	profile = int(r.u(8))
	r.u(16) // constraint flags, level
	r.ue()  // seq_parameter_set_id
	if profile != 66 && profile != 77 && profile != 88 {
		return profile, 0, 0, fmt.Errorf("profile %d is not baseline/main", profile)
	}
	r.ue() // log2_max_frame_num_minus4
	switch r.ue() {
	case 0:
		r.ue()
	case 1:
		return profile, 0, 0, errors.New("pic_order_cnt_type 1 not handled")
	}
	r.ue() // max_num_ref_frames
	r.u(1) // gaps
	mbW := int(r.ue()) + 1
	mbH := int(r.ue()) + 1
	frameMbsOnly := r.u(1)
	if frameMbsOnly == 0 {
		r.u(1)
	}
	r.u(1) // direct_8x8_inference
	w, h = mbW*16, mbH*16*int(2-frameMbsOnly)
	if r.u(1) == 1 { // cropping, in 4:2:0 units of 2
		left, right, top, bottom := r.ue(), r.ue(), r.ue(), r.ue()
		w -= 2 * int(left+right)
		h -= 2 * int(top+bottom) * int(2-frameMbsOnly)
	}
	return profile, w, h, r.err
}

func TestH264Encoder(t *testing.T) {
	const w, h = 640, 360
	_, frames := patternFrames(w, h, 20)
	enc, err := NewVideoEncoder(EncoderConfig{Codec: "h264", Width: w, Height: h, FPS: 30, BitrateKbps: 800})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	forced := map[int]bool{9: true}
	var sizes []int
	for i, f := range frames {
		au, err := enc.Encode(f, forced[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(au) == 0 {
			t.Fatalf("frame %d: no output (zerolatency keeps nothing back)", i)
		}
		sizes = append(sizes, len(au))
		types := map[byte]int{}
		var sps []byte
		for _, nal := range splitAnnexB(au) {
			if len(nal) == 0 || nal[0]&0x80 != 0 {
				t.Fatalf("frame %d: bad NAL header in %x", i, au[:min(len(au), 16)])
			}
			types[nal[0]&0x1f]++
			if nal[0]&0x1f == 7 {
				sps = nal
			}
		}
		wantKey := i == 0 || forced[i]
		isKey := types[5] > 0
		if isKey != wantKey {
			t.Fatalf("frame %d: NAL types %v, keyframe %v want %v", i, types, isKey, wantKey)
		}
		if !wantKey && types[1] == 0 {
			t.Fatalf("frame %d: NAL types %v, want a non-IDR slice", i, types)
		}
		if wantKey {
			// A late joiner starts here: SPS and PPS must come with every keyframe.
			if types[7] == 0 || types[8] == 0 {
				t.Fatalf("keyframe %d: NAL types %v, want SPS (7) and PPS (8) too", i, types)
			}
			profile, gw, gh, err := spsSize(sps)
			if err != nil {
				t.Fatalf("keyframe %d: SPS: %v", i, err)
			}
			if profile != 66 || gw != w || gh != h {
				t.Fatalf("keyframe %d: SPS says profile %d, %dx%d; want baseline (66) %dx%d", i, profile, gw, gh, w, h)
			}
		}
	}
	t.Logf("H.264 640x360 @800 kbps: access units %v bytes", sizes)
	if err := enc.SetBitrate(200); err != nil {
		t.Fatal(err)
	}
}

func TestH264SetBitrate(t *testing.T) {
	_, frames := patternFrames(640, 360, 30)
	enc, err := NewVideoEncoder(EncoderConfig{Codec: "h264", Width: 640, Height: 360, FPS: 30, BitrateKbps: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	window := func(base int) int {
		total := 0
		for i := 0; i < 60; i++ {
			f := *frames[(base+i)%len(frames)]
			au, err := enc.Encode(&f, false)
			if err != nil {
				t.Fatal(err)
			}
			if i >= 30 {
				total += len(au)
			}
		}
		return total
	}
	before := window(0)
	if err := enc.SetBitrate(250); err != nil {
		t.Fatal(err)
	}
	after := window(60)
	t.Logf("2000 kbps: %d B/s, 250 kbps: %d B/s", before, after)
	if float64(after) > 0.5*float64(before) {
		t.Fatalf("output fell only from %d to %d bytes a second", before, after)
	}
}
