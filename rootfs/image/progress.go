package image

import (
	"fmt"
	"io"
	"time"
)

// progress prints one line per step with its duration, so a long build is never silent.
type progress struct {
	w     io.Writer
	now   func() time.Time
	start time.Time
	step  string
	t0    time.Time
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	return &progress{w: w, now: now, start: now()}
}

// Step ends the previous step and starts the next one.
func (p *progress) Step(format string, args ...any) {
	p.done()
	p.step = fmt.Sprintf(format, args...)
	p.t0 = p.now()
	fmt.Fprintf(p.w, "stoa-image: %s ...\n", p.step)
}

// Note prints a line inside the current step.
func (p *progress) Note(format string, args ...any) {
	fmt.Fprintf(p.w, "stoa-image:   "+format+"\n", args...)
}

func (p *progress) done() {
	if p.step != "" {
		fmt.Fprintf(p.w, "stoa-image: %s done in %s\n", p.step, p.now().Sub(p.t0).Round(100*time.Millisecond))
		p.step = ""
	}
}

// Finish ends the last step and prints the total.
func (p *progress) Finish() time.Duration {
	p.done()
	d := p.now().Sub(p.start)
	fmt.Fprintf(p.w, "stoa-image: total %s\n", d.Round(100*time.Millisecond))
	return d
}
