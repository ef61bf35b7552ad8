package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// The Security page's Secured option section: every element secured.js looks up exists once,
// and the page's module loads secured.js.
func TestSecuredSection(t *testing.T) {
	js, err := fs.ReadFile(Files(), "js/secured.js")
	if err != nil {
		t.Fatal(err)
	}
	p := parsePage(t, "security.html")
	ids := regexp.MustCompile(`"(secured-[a-z-]+)"`).FindAllStringSubmatch(string(js), -1)
	if len(ids) < 10 {
		t.Fatalf("secured.js names only %d elements", len(ids))
	}
	for _, m := range ids {
		t.Run(m[1], func(t *testing.T) {
			if p.ids[m[1]] != 1 {
				t.Errorf("#%s present %d times in security.html, want 1", m[1], p.ids[m[1]])
			}
		})
	}
	sec, err := fs.ReadFile(Files(), "js/security.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sec), `from "./secured.js"`) || !strings.Contains(string(sec), "wireSecured()") {
		t.Error("security.js does not load and start secured.js")
	}
}
