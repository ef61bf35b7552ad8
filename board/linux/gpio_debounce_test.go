package linux

import (
	"testing"
	"time"
)

func TestDebouncer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		edge   *bool // an edge to this state
		settle *bool // the quiet period ended with the line at this level
		emit   bool
		arm    bool
	}
	on, off := true, false
	tests := []struct {
		name   string
		period time.Duration
		steps  []step
	}{
		{"kernel debounced press and release", 0, []step{
			{edge: &on, emit: true}, {edge: &off, emit: true},
		}},
		{"kernel repeats are dropped", 0, []step{
			{edge: &on, emit: true}, {edge: &on}, {edge: &off, emit: true}, {edge: &off},
		}},
		{"bouncing press gives one change", 20 * time.Millisecond, []step{
			{edge: &on, arm: true}, {edge: &off, arm: true}, {edge: &on, arm: true}, {edge: &off, arm: true}, {edge: &on, arm: true},
			{settle: &on, emit: true},
		}},
		{"a glitch that settles back is no change", 20 * time.Millisecond, []step{
			{edge: &on, arm: true}, {edge: &off, arm: true}, {settle: &off},
		}},
		{"press then release", 20 * time.Millisecond, []step{
			{edge: &on, arm: true}, {settle: &on, emit: true}, {edge: &off, arm: true}, {edge: &on, arm: true}, {edge: &off, arm: true}, {settle: &off, emit: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := debouncer{period: tt.period}
			for i, s := range tt.steps {
				var emit, arm bool
				if s.edge != nil {
					emit, arm = d.edge(*s.edge, t0.Add(time.Duration(i)*time.Millisecond))
				} else {
					emit = d.settle(*s.settle)
				}
				if emit != s.emit || arm != s.arm {
					t.Fatalf("step %d: emit %v arm %v, want %v %v", i, emit, arm, s.emit, s.arm)
				}
			}
		})
	}
}
