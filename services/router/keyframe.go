package router

// isVP8Keyframe reports whether an RTP payload starts a VP8 key frame. It reads the VP8
// payload descriptor (RFC 7741 §4.2) and the first byte of the VP8 payload header
// (RFC 7741 §4.3, RFC 6386 §9.1): S=1 and PID=0 mark the frame's first partition start,
// and the P bit clear means a key frame, which also carries the start code 9d 01 2a.
// It never panics on short or hostile input.
func isVP8Keyframe(p []byte) bool {
	n, ok := vp8DescriptorLen(p)
	if !ok {
		return false
	}
	if p[0]&0x10 == 0 || p[0]&0x07 != 0 { // S bit, partition index
		return false
	}
	h := p[n:]
	if len(h) < 6 {
		return false
	}
	return h[0]&0x01 == 0 && h[3] == 0x9d && h[4] == 0x01 && h[5] == 0x2a
}

// vp8DescriptorLen returns the length of the VP8 payload descriptor (RFC 7741 §4.2) and
// whether it is well formed with at least one payload byte after it.
func vp8DescriptorLen(p []byte) (int, bool) {
	if len(p) < 1 {
		return 0, false
	}
	n := 1
	if p[0]&0x80 != 0 { // X: extension byte present
		if len(p) < 2 {
			return 0, false
		}
		x := p[1]
		n = 2
		if x&0x80 != 0 { // I: PictureID
			if len(p) < n+1 {
				return 0, false
			}
			if p[n]&0x80 != 0 { // M: 15-bit PictureID
				n += 2
			} else {
				n++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			n++
		}
		if x&0x20 != 0 || x&0x10 != 0 { // T or K: TID/Y/KEYIDX byte
			n++
		}
	}
	if len(p) <= n {
		return 0, false
	}
	return n, true
}

// isH264Keyframe reports whether an RTP payload (RFC 6184) carries an IDR slice or an SPS
// starting one: a single NAL unit of type 5/7, a STAP-A containing one, or the first
// fragment of an FU-A of type 5/7.
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	key := func(t byte) bool { return t == 5 || t == 7 }
	switch t := p[0] & 0x1f; {
	case t >= 1 && t <= 23:
		return key(t)
	case t == 24: // STAP-A: 16-bit size before each NAL unit
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if key(p[i] & 0x1f) {
				return true
			}
			i += size
		}
		return false
	case t == 28: // FU-A
		return len(p) >= 2 && p[1]&0x80 != 0 && key(p[1]&0x1f)
	}
	return false
}

// validPayload reports whether a media payload of the given MIME type is well formed
// enough to forward: the router drops (and counts) anything else.
func validPayload(mime string, p []byte) bool {
	switch mime {
	case mimeVP8:
		_, ok := vp8DescriptorLen(p)
		return ok
	case mimeH264:
		return len(p) > 0 && p[0]&0x80 == 0 // forbidden_zero_bit
	default:
		return len(p) > 0
	}
}
