package screen

import "image"

// fitRect is the largest rectangle of src's aspect ratio centred in box (letterboxed, never
// cropped: a participant's whole picture stays visible).
func fitRect(box image.Rectangle, sw, sh int) image.Rectangle {
	bw, bh := box.Dx(), box.Dy()
	if sw <= 0 || sh <= 0 || bw <= 0 || bh <= 0 {
		return image.Rectangle{}
	}
	w, h := bw, bw*sh/sw
	if h > bh {
		w, h = bh*sw/sh, bh
	}
	x := box.Min.X + (bw-w)/2
	y := box.Min.Y + (bh-h)/2
	return image.Rect(x, y, x+w, y+h)
}

// yuvTables hold the BT.601 limited-range conversion terms in 16.16 fixed point, so a pixel
// costs table lookups and adds; the chroma terms are looked up once per chroma sample.
type yuvTables struct {
	y, rv, gu, gv, bu [256]int32
}

func newYUVTables() *yuvTables {
	t := &yuvTables{}
	for i := range 256 {
		c := int32(i) - 128
		t.y[i] = (int32(i)-16)*76309 + 1<<15 // 1.164, with rounding
		t.rv[i] = 104597 * c                 // 1.596
		t.gu[i] = -25675 * c                 // 0.392
		t.gv[i] = -53279 * c                 // 0.813
		t.bu[i] = 132201 * c                 // 2.017
	}
	return t
}

// blitYCbCr scales src into r of dst (nearest neighbour) converting BT.601 limited-range YCbCr
// to RGB. Only r ∩ dst.Rect is written. A destination row that maps to the same source row as
// the one above (upscaling) is copied rather than converted again.
func blitYCbCr(dst *image.RGBA, r image.Rectangle, src *image.YCbCr, t *yuvTables) {
	vis := r.Intersect(dst.Rect)
	sb := src.Rect
	if vis.Empty() || sb.Empty() {
		return
	}
	sw, sh := sb.Dx(), sb.Dy()
	n := vis.Dx()
	// Source column of every destination column, for luma and chroma.
	xs := make([]int32, n)
	xc := make([]int32, n)
	for x := vis.Min.X; x < vis.Max.X; x++ {
		sx := sb.Min.X + (x-r.Min.X)*sw/r.Dx()
		xs[x-vis.Min.X] = int32(sx - sb.Min.X)
		xc[x-vis.Min.X] = int32(chromaX(src, sx))
	}
	prevSY := -1
	var prev []byte
	for y := vis.Min.Y; y < vis.Max.Y; y++ {
		sy := sb.Min.Y + (y-r.Min.Y)*sh/r.Dy()
		out := dst.Pix[dst.PixOffset(vis.Min.X, y):dst.PixOffset(vis.Max.X, y)]
		if sy == prevSY {
			copy(out, prev)
			continue
		}
		prevSY, prev = sy, out
		yrow := src.Y[src.YOffset(sb.Min.X, sy):]
		crow := chromaRow(src, sy)
		cb, cr := src.Cb[crow:], src.Cr[crow:]
		last := int32(-1)
		var rv, g, bu int32
		for i := range n {
			if c := xc[i]; c != last {
				u, v := cb[c], cr[c]
				rv, g, bu = t.rv[v], t.gu[u]+t.gv[v], t.bu[u]
				last = c
			}
			yy := t.y[yrow[xs[i]]]
			px := out[4*i : 4*i+4 : 4*i+4]
			px[0] = clamp8((yy + rv) >> 16)
			px[1] = clamp8((yy + g) >> 16)
			px[2] = clamp8((yy + bu) >> 16)
			px[3] = 0xff
		}
	}
}

// clamp8 saturates v to 0..255 with one well-predicted branch.
func clamp8(v int32) uint8 {
	if uint32(v) <= 255 {
		return uint8(v)
	}
	return uint8(^v >> 31)
}

// chromaX is the offset within a chroma row of the sample for image column x.
func chromaX(m *image.YCbCr, x int) int {
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422:
		return x/2 - m.Rect.Min.X/2
	case image.YCbCrSubsampleRatio440:
		return x - m.Rect.Min.X
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		return x/4 - m.Rect.Min.X/4
	default:
		return x - m.Rect.Min.X
	}
}

// chromaRow is the offset of the chroma row holding image row y's samples, for column Min.X.
func chromaRow(m *image.YCbCr, y int) int {
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio410:
		return (y/2 - m.Rect.Min.Y/2) * m.CStride
	default:
		return (y - m.Rect.Min.Y) * m.CStride
	}
}
