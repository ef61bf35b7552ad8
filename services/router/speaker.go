package router

import (
	"time"
)

// RFC 6464 audio levels are 0..127, the level in -dBov: 0 is the loudest, 127 silence.
const (
	speakerWindow    = 1500 * time.Millisecond // levels older than this are forgotten
	speakerThreshold = 70                      // a mean level above this (quieter than -70 dBov) is silence
	speakerMinSample = 5                       // observations a participant needs in the window
	speakerMargin    = 3                       // dB a challenger must be louder by to take over
)

type levelSample struct {
	at    time.Time
	level uint8
}

// speakerDetector picks the active speaker of a meeting from RFC 6464 audio levels
// (https://www.rfc-editor.org/rfc/rfc6464). It is not safe for concurrent use; the meeting
// serializes calls.
type speakerDetector struct {
	samples map[string][]levelSample
	current string
}

func newSpeakerDetector() *speakerDetector {
	return &speakerDetector{samples: map[string][]levelSample{}}
}

// observe records one level of participant at t.
func (d *speakerDetector) observe(participant string, level uint8, t time.Time) {
	if level > 127 {
		level = 127
	}
	s := append(d.samples[participant], levelSample{at: t, level: level})
	d.samples[participant] = prune(s, t)
}

// forget drops a participant that left or muted.
func (d *speakerDetector) forget(participant string) {
	delete(d.samples, participant)
	if d.current == participant {
		d.current = ""
	}
}

func prune(s []levelSample, now time.Time) []levelSample {
	i := 0
	for i < len(s) && now.Sub(s[i].at) > speakerWindow {
		i++
	}
	if i > 0 {
		s = append(s[:0], s[i:]...)
	}
	return s
}

// evaluate returns the active speaker at now and whether it changed since the last call.
// The loudest participant (lowest mean -dBov) over the window wins if it is not silent and
// beats the current speaker by speakerMargin; a silent current speaker keeps the floor
// until someone else speaks (so the UI does not go blank between sentences).
func (d *speakerDetector) evaluate(now time.Time) (string, bool) {
	best, bestMean := "", 128.0
	curMean := 128.0
	for id, s := range d.samples {
		s = prune(s, now)
		d.samples[id] = s
		if len(s) < speakerMinSample {
			continue
		}
		sum := 0
		for _, x := range s {
			sum += int(x.level)
		}
		mean := float64(sum) / float64(len(s))
		if id == d.current {
			curMean = mean
		}
		if mean < bestMean || (mean == bestMean && id < best) {
			best, bestMean = id, mean
		}
	}
	if best == "" || bestMean > speakerThreshold || best == d.current {
		return d.current, false
	}
	if d.current != "" && curMean <= speakerThreshold && curMean-bestMean < speakerMargin {
		return d.current, false
	}
	d.current = best
	return best, true
}
