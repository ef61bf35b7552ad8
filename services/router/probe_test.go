package router

import (
	"testing"
	"time"
)

// The probe moves a subscriber pinned below the next layer up to it once the estimate has
// been clear of the current layer for probeSteady, keeps it when the estimate comes to admit
// it, and falls back with a doubling wait when the estimate drops or the probe runs too long.
func TestLayerProbe(t *testing.T) {
	layers := []Layer{{"q", 120_000}, {"h", 470_000}, {"f", 820_000}}
	t0 := time.Unix(1_000_000, 0)
	type step struct {
		at     time.Duration
		budget int
		want   string
	}
	cases := []struct {
		name  string
		steps []step
		// backoff after the last step (0: none pending)
		backoff time.Duration
	}{
		{"pinned at GCC's 1.5x ceiling: probe f, estimate admits it", []step{
			{0, 700_000, "h"}, {2 * time.Second, 700_000, "h"}, {3 * time.Second, 700_000, "f"},
			{5 * time.Second, 760_000, "f"}, {6 * time.Second, 830_000, "f"}, {7 * time.Second, 830_000, "f"},
		}, 0},
		{"probe congests: back to h, wait 4 s, then 8 s", []step{
			{0, 700_000, "h"}, {3 * time.Second, 700_000, "f"}, {4 * time.Second, 600_000, "h"},
			{7 * time.Second, 700_000, "h"}, {8 * time.Second, 700_000, "h"}, {11 * time.Second, 700_000, "f"},
			{12 * time.Second, 500_000, "h"},
		}, 8 * time.Second},
		{"probe times out without the estimate admitting f", []step{
			{0, 700_000, "h"}, {3 * time.Second, 700_000, "f"}, {10 * time.Second, 705_000, "f"},
			{11 * time.Second, 705_000, "h"},
		}, 4 * time.Second},
		{"estimate not clear of the current layer: no probe", []step{
			{0, 140_000, "q"}, {5 * time.Second, 140_000, "q"}, {10 * time.Second, 140_000, "q"},
		}, 0},
		{"next layer out of reach: no probe", []step{
			{0, 200_000, "q"}, {5 * time.Second, 200_000, "q"}, {10 * time.Second, 200_000, "q"},
		}, 0},
		{"clear spell interrupted: the steady time restarts", []step{
			{0, 700_000, "h"}, {2 * time.Second, 500_000, "h"}, {4 * time.Second, 700_000, "h"},
			{6 * time.Second, 700_000, "h"}, {7 * time.Second, 700_000, "f"},
		}, 0},
		{"top layer: nothing to probe", []step{
			{0, 2_000_000, "f"}, {5 * time.Second, 2_000_000, "f"},
		}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var pr layerProbe
			cur := "h"
			if c.steps[0].want != "" {
				cur = c.steps[0].want
			}
			for _, s := range c.steps {
				got := pr.choose(s.budget, layers, cur, t0.Add(s.at))
				if got != s.want {
					t.Fatalf("at %s budget %d: layer %q, want %q", s.at, s.budget, got, s.want)
				}
				cur = got
			}
			if pr.backoff != c.backoff {
				t.Errorf("backoff %s, want %s", pr.backoff, c.backoff)
			}
		})
	}
}

func TestNextLayerUp(t *testing.T) {
	layers := []Layer{{"f", 800}, {"q", 100}, {"h", 400}, {"x", 0}}
	for _, c := range []struct{ rid, want string }{{"q", "h"}, {"h", "f"}, {"f", ""}, {"", "q"}, {"x", "q"}} {
		t.Run(c.rid, func(t *testing.T) {
			if got := nextLayerUp(layers, c.rid); got != c.want {
				t.Errorf("nextLayerUp(%q) = %q, want %q", c.rid, got, c.want)
			}
		})
	}
}
