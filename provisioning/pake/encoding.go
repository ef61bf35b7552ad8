package pake

// String utilities of draft-irtf-cfrg-cpace, Appendix A.1 and A.3.4
// (https://datatracker.ietf.org/doc/draft-irtf-cfrg-cpace/).

// prependLen returns LEB128(len(data)) || data. The length prefix makes every transcript
// prefix-free, so SHA-512 length extension does not matter (draft section 10.2).
func prependLen(data []byte) []byte {
	out := make([]byte, 0, len(data)+10)
	n := uint64(len(data))
	for {
		if n < 128 {
			out = append(out, byte(n))
		} else {
			out = append(out, byte(n&0x7f)|0x80)
		}
		n >>= 7
		if n == 0 {
			break
		}
	}
	return append(out, data...)
}

// lvCat is the draft's lv_cat: the length-value concatenation of its arguments.
func lvCat(args ...[]byte) []byte {
	var out []byte
	for _, a := range args {
		out = append(out, prependLen(a)...)
	}
	return out
}

// transcriptIR is transcript_ir(Ya,ADa,Yb,ADb) for the initiator-responder setting.
func transcriptIR(ya, adA, yb, adB []byte) []byte {
	return append(lvCat(ya, adA), lvCat(yb, adB)...)
}

// generatorString is generator_string(DSI,PRS,CI,sid,s_in_bytes) (Appendix A.2): the zero
// padding fills the first hash block after DSI and PRS, so hashing time does not depend on the
// password length.
func generatorString(dsi, prs, ci, sid []byte, sInBytes int) []byte {
	zpad := sInBytes - 1 - len(prependLen(prs)) - len(prependLen(dsi))
	if zpad < 0 {
		zpad = 0
	}
	return lvCat(dsi, prs, make([]byte, zpad), ci, sid)
}
