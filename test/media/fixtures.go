package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// generatorVersion changes whenever the drawing or the ffmpeg arguments change, so a cache made by
// an older generator is never reused.
const generatorVersion = "stoa-test-media/1"

// Size is one video rendition.
type Size struct {
	Width, Height int
	// KbpsTarget is libvpx's target bitrate (kbit/s).
	KbpsTarget int
}

// Spec says what to generate. Its JSON form (plus generatorVersion) names the cache directory.
type Spec struct {
	Sizes  []Size
	FPS    int
	Frames int
	// AudioSeconds of a 48 kHz mono Opus tone in 20 ms packets.
	AudioSeconds int
}

// DefaultSpec is the fixture set the conference tests share: the three simulcast sizes (q, h, f),
// 15 fps, 75 frames (5 s) and 5 s of audio.
func DefaultSpec() Spec {
	return Spec{
		Sizes: []Size{
			{Width: 320, Height: 180, KbpsTarget: 150},
			{Width: 640, Height: 360, KbpsTarget: 500},
			{Width: 1280, Height: 720, KbpsTarget: 1500},
		},
		FPS:          15,
		Frames:       75,
		AudioSeconds: 5,
	}
}

// Files are the generated fixture paths.
type Files struct {
	Dir   string
	Video []string // one IVF per Spec.Sizes entry, same order
	Audio string   // Ogg Opus
}

// Key is the cache key of a spec: a hash of the generator version and the parameters.
func (s Spec) Key() string {
	b, _ := json.Marshal(struct {
		V string
		S Spec
	}{generatorVersion, s}) // a struct of ints and slices always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (s Spec) validate() error {
	if len(s.Sizes) == 0 || s.FPS <= 0 || s.FPS > 120 || s.Frames <= 0 || s.Frames > MaxFrame+1 ||
		s.AudioSeconds <= 0 || s.AudioSeconds > 600 {
		return fmt.Errorf("media spec: need sizes, fps 1..120, frames 1..%d, audio 1..600 s: %+v", MaxFrame+1, s)
	}
	for _, z := range s.Sizes {
		if z.Width%2 != 0 || z.Height%2 != 0 || z.Width < 48 || z.Height < 32 || z.Width > 4096 || z.Height > 4096 || z.KbpsTarget <= 0 {
			return fmt.Errorf("media spec: size %dx%d at %d kbit/s: need even sizes 48x32..4096x4096 and a bitrate", z.Width, z.Height, z.KbpsTarget)
		}
	}
	return nil
}

func videoName(z Size) string { return fmt.Sprintf("video-%dx%d.ivf", z.Width, z.Height) }

const audioName = "audio.ogg"

// Ensure returns the fixtures for spec, generating them with ffmpeg into
// os.UserCacheDir()/stoa-test-media/<spec.Key()> the first time. Generation writes a temporary
// directory and renames it into place, so concurrent test processes never see half a set.
func Ensure(ctx context.Context, spec Spec) (Files, error) {
	if err := spec.validate(); err != nil {
		return Files{}, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return Files{}, fmt.Errorf("media fixtures: cache dir: %w", err)
	}
	root := filepath.Join(cache, "stoa-test-media")
	dir := filepath.Join(root, spec.Key())
	files := Files{Dir: dir, Audio: filepath.Join(dir, audioName)}
	for _, z := range spec.Sizes {
		files.Video = append(files.Video, filepath.Join(dir, videoName(z)))
	}
	if _, err := os.Stat(dir); err == nil {
		return files, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Files{}, fmt.Errorf("media fixtures: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Files{}, fmt.Errorf("media fixtures: %w", err)
	}
	tmp, err := os.MkdirTemp(root, "tmp-")
	if err != nil {
		return Files{}, fmt.Errorf("media fixtures: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for _, z := range spec.Sizes {
		if err := EncodeVideo(ctx, spec.FPS, z, frameNumbers(spec.Frames), filepath.Join(tmp, videoName(z))); err != nil {
			return Files{}, err
		}
	}
	if err := encodeAudio(ctx, spec, filepath.Join(tmp, audioName)); err != nil {
		return Files{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process won the race: its set is as good as ours.
		if _, statErr := os.Stat(dir); statErr == nil {
			return files, nil
		}
		return Files{}, fmt.Errorf("media fixtures: install: %w", err)
	}
	return files, nil
}

func frameNumbers(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// EncodeVideo writes an IVF file to out whose frames show the given frame numbers: it pipes
// PatternFrame images to ffmpeg as raw I420 and has libvpx make every frame a keyframe (-g 1),
// which is what lets a receiver decode any frame on its own with x/image/vp8.
func EncodeVideo(ctx context.Context, fps int, z Size, numbers []int, out string) error {
	kbps := strconv.Itoa(z.KbpsTarget) + "k"
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", fmt.Sprintf("%dx%d", z.Width, z.Height),
		"-r", strconv.Itoa(fps), "-i", "pipe:0",
		"-c:v", "libvpx", "-g", "1", "-keyint_min", "1", "-auto-alt-ref", "0",
		"-deadline", "realtime", "-cpu-used", "8", "-b:v", kbps, "-maxrate", kbps, "-bufsize", kbps,
		"-f", "ivf", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("media fixtures: ffmpeg pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("media fixtures: start ffmpeg (install the ffmpeg package): %w", err)
	}
	var writeErr error
	for _, n := range numbers {
		img := PatternFrame(n, z.Width, z.Height)
		// NewYCbCr's planes are tightly packed (stride = width), exactly rawvideo's layout.
		for _, plane := range [][]byte{img.Y, img.Cb, img.Cr} {
			if _, writeErr = stdin.Write(plane); writeErr != nil {
				break
			}
		}
		if writeErr != nil {
			break
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("media fixtures: ffmpeg %dx%d: %w: %s", z.Width, z.Height, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if writeErr != nil {
		return fmt.Errorf("media fixtures: feed ffmpeg: %w", writeErr)
	}
	return nil
}

// encodeAudio makes a 440 Hz tone in 20 ms Opus packets, one packet per Ogg page (-page_duration
// 20000 µs) so a reader can hand pages straight to the sender.
func encodeAudio(ctx context.Context, spec Spec, out string) error {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", spec.AudioSeconds),
		"-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "voip",
		"-page_duration", "20000", "-f", "ogg", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("media fixtures: ffmpeg opus: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
