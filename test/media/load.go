package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// Video is a loaded IVF fixture.
type Video struct {
	Width, Height int
	Frames        [][]byte // VP8 frames, every one a keyframe
}

// Set is the loaded fixture set: Video in Spec.Sizes order (q, h, f for DefaultSpec) and the Opus
// packets, 20 ms each.
type Set struct {
	Spec  Spec
	Video []Video
	Audio [][]byte
}

// Load ensures the fixtures for spec exist and reads them into memory.
func Load(ctx context.Context, spec Spec) (*Set, error) {
	files, err := Ensure(ctx, spec)
	if err != nil {
		return nil, err
	}
	set := &Set{Spec: spec}
	for _, p := range files.Video {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("media load: %w", err)
		}
		v, err := ParseIVF(b)
		if err != nil {
			return nil, fmt.Errorf("media load %s: %w", p, err)
		}
		set.Video = append(set.Video, v)
	}
	b, err := os.ReadFile(files.Audio)
	if err != nil {
		return nil, fmt.Errorf("media load: %w", err)
	}
	if set.Audio, err = ParseOggOpus(b); err != nil {
		return nil, fmt.Errorf("media load %s: %w", files.Audio, err)
	}
	return set, nil
}

// maxFixtureBytes bounds what the parsers accept: fixtures are a few megabytes.
const maxFixtureBytes = 64 << 20

// ParseIVF reads a VP8 IVF file and insists every frame is a keyframe (RFC 6386 section 9.1: bit 0
// of the frame tag is 0 for keyframes).
func ParseIVF(b []byte) (Video, error) {
	if len(b) > maxFixtureBytes {
		return Video{}, fmt.Errorf("parse ivf: %d bytes is too big", len(b))
	}
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(b))
	if err != nil {
		return Video{}, fmt.Errorf("parse ivf: %w", err)
	}
	if hdr.FourCC != "VP80" {
		return Video{}, fmt.Errorf("parse ivf: codec %q, want VP80", hdr.FourCC)
	}
	v := Video{Width: int(hdr.Width), Height: int(hdr.Height)}
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Video{}, fmt.Errorf("parse ivf: frame %d: %w", len(v.Frames), err)
		}
		if len(frame) < 10 || frame[0]&1 != 0 {
			return Video{}, fmt.Errorf("parse ivf: frame %d is not a VP8 keyframe", len(v.Frames))
		}
		v.Frames = append(v.Frames, frame)
	}
	if len(v.Frames) == 0 {
		return Video{}, errors.New("parse ivf: no frames")
	}
	return v, nil
}

// ParseOggOpus splits an Ogg Opus file (RFC 7845) into its audio packets, dropping the OpusHead
// and OpusTags header packets. Packets are rebuilt from the lacing values (RFC 3533 section 6), so
// pages holding several packets, or packets spanning pages, come out right.
func ParseOggOpus(b []byte) ([][]byte, error) {
	if len(b) > maxFixtureBytes {
		return nil, fmt.Errorf("parse ogg: %d bytes is too big", len(b))
	}
	var packets [][]byte
	var partial []byte
	for page := 0; len(b) > 0; page++ {
		if len(b) < 27 || string(b[:4]) != "OggS" || b[4] != 0 {
			return nil, fmt.Errorf("parse ogg: page %d: bad capture pattern or version", page)
		}
		nseg := int(b[26])
		if len(b) < 27+nseg {
			return nil, fmt.Errorf("parse ogg: page %d: truncated segment table", page)
		}
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		for _, l := range lacing {
			if int(l) > len(body) {
				return nil, fmt.Errorf("parse ogg: page %d: truncated body", page)
			}
			partial = append(partial, body[:l]...)
			body = body[l:]
			if l < 255 { // a lacing value under 255 ends the packet
				packets = append(packets, partial)
				partial = nil
			}
		}
		consumed := len(b) - len(body)
		b = b[consumed:]
	}
	if len(partial) > 0 {
		return nil, errors.New("parse ogg: last packet is unterminated")
	}
	if len(packets) < 2 || !bytes.HasPrefix(packets[0], []byte("OpusHead")) || len(packets[0]) < 19 {
		return nil, errors.New("parse ogg: no OpusHead packet")
	}
	if packets[0][9] != 1 {
		return nil, fmt.Errorf("parse ogg: %d channels, want mono", packets[0][9])
	}
	if rate := binary.LittleEndian.Uint32(packets[0][12:16]); rate != 48000 {
		return nil, fmt.Errorf("parse ogg: input rate %d, want 48000", rate)
	}
	if !bytes.HasPrefix(packets[1], []byte("OpusTags")) {
		return nil, errors.New("parse ogg: no OpusTags packet")
	}
	audio := packets[2:]
	if len(audio) == 0 {
		return nil, errors.New("parse ogg: no audio packets")
	}
	return audio, nil
}
