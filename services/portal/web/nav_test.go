package web

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// parseDoc parses one embedded page into a node tree.
func parseDoc(t *testing.T, name string) *html.Node {
	t.Helper()
	f, err := Files().Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	doc, err := html.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return doc
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// elements returns every element under n for which keep is true, in document order.
func elements(n *html.Node, keep func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && keep(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// navLink is one entry of the main navigation as a page declares it.
type navLink struct{ href, roles, text string }

func navLinks(t *testing.T, doc *html.Node) (links []navLink, current []string) {
	t.Helper()
	navs := elements(doc, func(n *html.Node) bool {
		c, _ := attr(n, "class")
		return n.Data == "nav" && c == "app-nav"
	})
	if len(navs) != 1 {
		t.Fatalf("%d main navigations, want 1", len(navs))
	}
	for _, a := range elements(navs[0], func(n *html.Node) bool { return n.Data == "a" }) {
		href, _ := attr(a, "href")
		roles, _ := attr(a, "data-roles")
		links = append(links, navLink{href, roles, textOf(a)})
		if v, ok := attr(a, "aria-current"); ok && v == "page" {
			current = append(current, href)
		}
	}
	return links, current
}

// TestNavigationSameOnEveryPage: every signed-in page carries the same main navigation (same
// links, order and roles, Rooms included for admins, Meetings for everyone) and marks exactly
// itself (or, for one meeting, the Meetings page) as current.
func TestNavigationSameOnEveryPage(t *testing.T) {
	want := []navLink{
		{"meetings.html", "superadmin admin user", "Meetings"},
		{"security.html", "superadmin", "Security"},
		{"components.html", "superadmin", "Components"},
		{"rooms.html", "superadmin admin", "Rooms"},
		{"updates.html", "superadmin", "Updates"},
		{"audit.html", "superadmin", "Audit"},
		{"users.html", "superadmin admin", "Users"},
	}
	for _, name := range pages(t) {
		if name == "index.html" {
			continue // the login page has no navigation
		}
		t.Run(name, func(t *testing.T) {
			links, current := navLinks(t, parseDoc(t, name))
			if !slices.Equal(links, want) {
				t.Errorf("navigation %v, want %v", links, want)
			}
			// A page inside a section marks the section's page: one meeting belongs to Meetings.
			section := name
			if name == "meeting.html" {
				section = "meetings.html"
			}
			if !slices.Equal(current, []string{section}) {
				t.Errorf("aria-current on %v, want only %s", current, section)
			}
		})
	}
}

// TestErrorBoxesAreAlerts: every box that shows a server error (id ending in -error) is a
// role="alert" region, so screen readers announce what went wrong, and starts hidden.
func TestErrorBoxesAreAlerts(t *testing.T) {
	for _, name := range pages(t) {
		t.Run(name, func(t *testing.T) {
			boxes := elements(parseDoc(t, name), func(n *html.Node) bool {
				id, _ := attr(n, "id")
				return strings.HasSuffix(id, "-error") && n.Data == "div"
			})
			if len(boxes) == 0 {
				t.Fatal("no error box")
			}
			for _, b := range boxes {
				id, _ := attr(b, "id")
				if role, _ := attr(b, "role"); role != "alert" {
					t.Errorf("#%s role %q, want alert", id, role)
				}
				if _, hidden := attr(b, "hidden"); !hidden {
					t.Errorf("#%s is visible before anything failed", id)
				}
			}
		})
	}
}

// TestRoomsPairForm pins what the pairing form needs: a numeric keypad for the code, room for
// the spaced form "1234 5678 9012", no autofill of either field, and a submit button inside
// the form.
func TestRoomsPairForm(t *testing.T) {
	doc := parseDoc(t, "rooms.html")
	byID := func(id string) *html.Node {
		t.Helper()
		found := elements(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
		if len(found) != 1 {
			t.Fatalf("#%s found %d times", id, len(found))
		}
		return found[0]
	}
	tests := []struct {
		id, key, want string
	}{
		{"pair-code", "inputmode", "numeric"},
		{"pair-code", "autocomplete", "off"},
		{"pair-code", "maxlength", "20"},
		{"pair-name", "autocomplete", "off"},
		{"pair-submit", "type", "submit"},
		{"push-all", "type", "button"},
		{"pair-error", "role", "alert"},
	}
	for _, tc := range tests {
		t.Run(tc.id+" "+tc.key, func(t *testing.T) {
			if got, _ := attr(byID(tc.id), tc.key); got != tc.want {
				t.Errorf("#%s %s=%q, want %q", tc.id, tc.key, got, tc.want)
			}
		})
	}
	t.Run("labels", func(t *testing.T) {
		for _, id := range []string{"pair-code", "pair-name", "rename-name"} {
			labels := elements(doc, func(n *html.Node) bool { v, _ := attr(n, "for"); return n.Data == "label" && v == id })
			if len(labels) != 1 {
				t.Errorf("#%s has %d labels, want 1", id, len(labels))
			}
		}
	})
	t.Run("submit inside the form", func(t *testing.T) {
		inside := elements(byID("pair-form"), func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "pair-submit" })
		if len(inside) != 1 {
			t.Error("#pair-submit is not inside #pair-form")
		}
	})
}
