package certcorpus

import (
	"testing"
	"time"
)

func TestCorpusShape(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		cases []Case
		bad   bool
		min   int
	}{
		{"bad", Bad(t, "portal.stoa.test", now), true, 25},
		{"good", Good(t, "portal.stoa.test", now), false, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.cases) < tc.min {
				t.Fatalf("%d cases, want at least %d", len(tc.cases), tc.min)
			}
			names := map[string]bool{}
			for _, c := range tc.cases {
				if names[c.Name] {
					t.Fatalf("duplicate case %q", c.Name)
				}
				names[c.Name] = true
				if tc.bad && c.WantCode == "" {
					t.Fatalf("bad case %q has no WantCode", c.Name)
				}
				if !tc.bad && (c.WantCode != "" || len(c.Served) == 0 || c.Roots == nil) {
					t.Fatalf("good case %q: WantCode %q, %d served, roots %v", c.Name, c.WantCode, len(c.Served), c.Roots != nil)
				}
			}
		})
	}
}
